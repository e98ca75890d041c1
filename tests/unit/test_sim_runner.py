"""Runner checks that need no broker: bad arguments fail before any device connects."""

import asyncio
import random
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from hgj_sim.cli import app
from hgj_sim.credentials import CredentialsError, community_usernames
from hgj_sim.model import load_community
from hgj_sim.runner import Backoff, BrokerAddress, SimStats, run_community

# Nothing listens here; the checks must fail before anything tries to connect.
NOWHERE = BrokerAddress("127.0.0.1", 9)


def _run(root: str = "hgj", drop: int = 0, **options: Any) -> SimStats:
    community = load_community("guanbeigou")
    credentials = {u: "pw" for u in community_usernames(community)[drop:]}
    stats = SimStats()

    async def go() -> None:
        await run_community(
            community, NOWHERE, root, credentials, stop=asyncio.Event(), stats=stats, **options
        )

    asyncio.run(go())
    return stats


def test_missing_password_fails_before_connecting() -> None:
    with pytest.raises(CredentialsError, match=r"no password for 2 device\(s\): guanbeigou\."):
        _run(drop=2)


def test_bad_root_fails_before_connecting() -> None:
    with pytest.raises(ValueError, match="root 'HGJ' is not an id"):
        _run(root="HGJ")


@pytest.mark.parametrize("options", [{"speed": 0.0}, {"interval_s": -1.0}, {"count": 0}], ids=str)
def test_bad_pace_fails_before_connecting(options: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="must be"):
        _run(**options)


def test_backoff_doubles_up_to_its_ceiling_with_jitter() -> None:
    backoff = Backoff(initial_s=1.0, maximum_s=8.0)
    rng = random.Random(0)
    for failures, nominal in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (10, 8.0), (500, 8.0)]:
        delays = [backoff.delay_s(failures, rng) for _ in range(50)]
        assert all(nominal / 2 <= d <= nominal for d in delays)
        assert len(set(delays)) > 1


def test_cli_list_prints_counts_by_type_and_building() -> None:
    result = CliRunner().invoke(app, ["list", "--community", "guangsha"])
    assert result.exit_code == 0, result.output
    assert "广厦小区 Guangsha Community (guangsha)" in result.output
    rows = {
        cells[0]: [int(c) for c in cells[1:]]
        for line in result.output.splitlines()
        if (cells := [c.strip() for c in line.split("│")[1:-1]]) and cells[-1].isdigit()
    }
    # columns: door, smoke, temp/RH, leak, total
    assert rows["6号楼 11F x2"] == [2, 22, 1, 1, 26]
    assert rows["total"] == [21, 111, 8, 8, 148]


def test_cli_run_refuses_a_credentials_file_lacking_devices(tmp_path: Path) -> None:
    creds = tmp_path / "creds.json"
    creds.write_text("{}", encoding="utf-8")
    result = CliRunner().invoke(
        app, ["run", "-c", "guangsha", "--port", "9", "--credentials", str(creds)]
    )
    assert result.exit_code == 2
    assert "no password for 148 device(s)" in result.output
