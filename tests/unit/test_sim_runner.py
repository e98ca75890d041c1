"""Runner checks that need no broker: bad arguments fail before any device connects."""

import asyncio
import random
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from hgj_contracts import match_topic
from hgj_sim.cli import app
from hgj_sim.credentials import CredentialsError, community_usernames
from hgj_sim.model import load_community
from hgj_sim.runner import Backoff, BrokerAddress, SimStats, run_community
from hgj_sim.scenario import builtin_scenarios

WIDE = {"COLUMNS": "200"}
"""Rich tables and error panels wrap at the terminal's width; tests read them unwrapped."""

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
    result = CliRunner().invoke(app, ["list", "--community", "guangsha"], env=WIDE)
    assert result.exit_code == 0, result.output
    assert "广厦小区 Guangsha Community (guangsha)" in result.output
    rows = {
        cells[0]: [int(c) if c else 0 for c in cells[1:]]
        for line in result.output.splitlines()
        if (cells := [c.strip() for c in line.split("│")[1:-1]]) and cells[-1].isdigit()
    }
    # columns: b1 .. b8, site (compound equipment), total
    assert rows["smoke"] == [9, 9, 9, 9, 9, 22, 22, 22, 0, 111]
    assert rows["lift cam"] == [0, 0, 0, 0, 0, 2, 2, 2, 0, 6]
    assert rows["gate"] == [0] * 8 + [3, 3]
    assert rows["total"] == [21, 21, 21, 21, 21, 35, 35, 35, 33, 243]
    assert "gs-grid-3 广厦第三网格" in result.output
    assert "张丽娟" in result.output


def test_cli_help_names_every_command() -> None:
    result = CliRunner().invoke(app, ["--help"], env=WIDE)
    assert result.exit_code == 0
    for command in ("run", "list", "scenarios", "load"):
        assert command in result.output
    for command in ("run", "list", "scenarios", "load"):
        assert CliRunner().invoke(app, [command, "--help"], env=WIDE).exit_code == 0


def test_cli_scenarios_lists_every_scenario_and_shows_one() -> None:
    listing = CliRunner().invoke(app, ["scenarios"], env=WIDE)
    assert listing.exit_code == 0, listing.output
    for name in builtin_scenarios():
        assert name in listing.output
    shown = CliRunner().invoke(app, ["scenarios", "night-stranger"], env=WIDE)
    assert shown.exit_code == 0, shown.output
    assert "night_stranger_gate" in shown.output
    assert "gs-gate-north-cam" in shown.output


def test_cli_scenarios_dry_run_prints_contract_messages() -> None:
    result = CliRunner().invoke(app, ["scenarios", "smoke-5f", "--dry-run", "--root", "t1"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert len(lines) > 5
    for line in lines:
        _, topic, payload = line.split(maxsplit=2)
        match = match_topic(topic)
        match.channel.decode(payload.encode(), match.params)
    assert any("/event/smoke " in line for line in lines)


def test_cli_run_refuses_a_credentials_file_lacking_devices(tmp_path: Path) -> None:
    creds = tmp_path / "creds.json"
    creds.write_text("{}", encoding="utf-8")
    result = CliRunner().invoke(
        app, ["run", "-c", "guangsha", "--port", "9", "--credentials", str(creds)]
    )
    assert result.exit_code == 2
    assert "no password for 243 device(s)" in result.output


def test_cli_run_refuses_a_scenario_with_interval_or_several_communities(tmp_path: Path) -> None:
    creds = tmp_path / "creds.json"
    creds.write_text("{}", encoding="utf-8")
    base = ["run", "--port", "9", "--credentials", str(creds), "--scenario", "smoke-5f"]
    mixed = CliRunner().invoke(app, [*base, "--interval", "5"])
    assert mixed.exit_code == 2
    assert "do not go with --scenario" in mixed.output
    two = CliRunner().invoke(app, [*base, "-c", "guangsha", "-c", "guanbeigou"])
    assert two.exit_code == 2
    assert "a scenario plays on one community" in two.output
    cast = CliRunner().invoke(app, [*base, "--cast-only"], env=WIDE)
    assert cast.exit_code == 2
    assert "no password for 1 device(s): guangsha.gs-b03-u2-smoke-f05" in cast.output
