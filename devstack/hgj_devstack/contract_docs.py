"""Write (or check) docs/mqtt-contract.md and docs/schemas/ from the contract registry."""

from pathlib import Path

from hgj_contracts.docs import render_markdown, render_schemas


def expected_files(docs_dir: Path) -> dict[Path, str]:
    files = {docs_dir / "mqtt-contract.md": render_markdown()}
    files.update({docs_dir / "schemas" / name: text for name, text in render_schemas().items()})
    return files


def stale_files(docs_dir: Path) -> list[Path]:
    """Generated files that are missing or differ from what the contract renders now."""
    stale = []
    for path, text in expected_files(docs_dir).items():
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            stale.append(path)
    schema_dir = docs_dir / "schemas"
    if schema_dir.exists():
        known = set(expected_files(docs_dir))
        stale.extend(p for p in sorted(schema_dir.glob("*.json")) if p not in known)
    return stale


def write_files(docs_dir: Path) -> list[Path]:
    written = []
    for path, text in expected_files(docs_dir).items():
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            written.append(path)
    return written
