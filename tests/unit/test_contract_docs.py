"""docs/mqtt-contract.md and docs/schemas/ are generated from the contract and must be current."""

from pathlib import Path

from hgj_devstack.contract_docs import stale_files, write_files

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_generated_docs_are_current() -> None:
    assert stale_files(DOCS) == [], "run `make docs` and commit the result"


def test_check_notices_a_stale_file(tmp_path: Path) -> None:
    write_files(tmp_path)
    assert stale_files(tmp_path) == []
    (tmp_path / "schemas" / "telemetry.json").write_text("{}", encoding="utf-8")
    (tmp_path / "schemas" / "retired.json").write_text("{}", encoding="utf-8")
    assert sorted(p.name for p in stale_files(tmp_path)) == ["retired.json", "telemetry.json"]
