"""Community files: the built-ins load, ids follow the contract, layouts yield the right sensors."""

import json
import shutil
from collections import Counter
from pathlib import Path

import pytest

from hgj_contracts.ids import is_identifier
from hgj_sim.credentials import (
    CredentialsError,
    check_credentials,
    community_usernames,
    load_credentials,
)
from hgj_sim.model import (
    BUILTIN_COMMUNITIES,
    Community,
    CommunityFileError,
    builtin_community_path,
    load_community,
)

REQUIRED_TYPES = {"temp_humidity", "smoke_detector", "water_leak", "door_contact"}


def _community(**buildings: object) -> Community:
    return Community.model_validate(
        {
            "id": "test-c",
            "name_zh": "测试小区",
            "name_en": "Test",
            "device_prefix": "tc",
            "buildings": [{"number": 1, **buildings}],
        }
    )


@pytest.mark.parametrize("name", BUILTIN_COMMUNITIES)
def test_builtin_community_loads_with_a_few_hundred_valid_unique_ids(name: str) -> None:
    community = load_community(name)
    ids = [d.id for d in community.devices]

    assert community.id == name
    assert 100 <= len(ids) <= 400
    assert len(set(ids)) == len(ids)
    assert all(is_identifier(i) for i in ids)


@pytest.mark.parametrize("name", BUILTIN_COMMUNITIES)
def test_every_building_has_the_four_required_sensor_types(name: str) -> None:
    community = load_community(name)
    for building in community.buildings:
        devices = [d for d in community.devices if d.building == building.number]
        types = Counter(d.device_type for d in devices)
        assert set(types) == REQUIRED_TYPES, building.number
        assert types["door_contact"] == building.units
        assert types["temp_humidity"] >= 1
        assert types["water_leak"] >= 1


def test_pilot_sizes() -> None:
    assert len(load_community("guangsha").buildings) == 8
    assert len(load_community("guanbeigou").buildings) == 6


def test_ids_are_derived_from_the_layout() -> None:
    ids = {d.id for d in load_community("guangsha").devices}
    assert {"gs-b03-th", "gs-b03-u2-smoke-f05", "gs-b03-leak-b1", "gs-b03-u2-door"} <= ids
    assert "gs-b05-leak-f01" in ids  # building 5 has no basement
    assert "gbg-b02-smoke-f14" in {d.id for d in load_community("guanbeigou").devices}


def test_loading_twice_gives_the_same_inventory() -> None:
    assert load_community("guangsha").devices == load_community("guangsha").devices


def test_smoke_every_other_floor_per_unit() -> None:
    community = _community(units=2, floors=6, smoke={"every": 2, "per_unit": True})
    smoke = [d for d in community.devices if d.device_type == "smoke_detector"]
    assert sorted((d.unit, d.floor) for d in smoke) == [(u, f) for u in (1, 2) for f in (1, 3, 5)]


def test_smoke_every_floor_shared_lobby() -> None:
    community = _community(units=2, floors=3, basement=False)
    smoke = [d for d in community.devices if d.device_type == "smoke_detector"]
    assert [d.id for d in smoke] == ["tc-b01-smoke-f01", "tc-b01-smoke-f02", "tc-b01-smoke-f03"]
    assert all(d.unit is None for d in smoke)
    leak = next(d for d in community.devices if d.device_type == "water_leak")
    assert (leak.id, leak.floor, leak.in_basement) == ("tc-b01-leak-f01", 1, False)


def test_report_intervals_come_from_the_file() -> None:
    community = load_community("guanbeigou")
    leak = next(d for d in community.devices if d.device_type == "water_leak")
    assert leak.report_interval_s == community.report_interval_s.water_leak == 600


def test_a_copied_file_loads_from_its_path(tmp_path: Path) -> None:
    copy = tmp_path / "mine.yaml"
    shutil.copy(builtin_community_path("guangsha"), copy)
    assert load_community(copy) == load_community(str(copy)) == load_community("guangsha")


def test_unknown_key_is_an_error_naming_file_and_key(tmp_path: Path) -> None:
    path = tmp_path / "typo.yaml"
    text = builtin_community_path("guangsha").read_text(encoding="utf-8")
    path.write_text(text.replace("floors: 11", "floor: 11", 1), encoding="utf-8")
    with pytest.raises(CommunityFileError, match=r"typo\.yaml: .*buildings\.5\.floor"):
        load_community(path)


def test_repeated_building_number_is_an_error() -> None:
    with pytest.raises(ValueError, match="used more than once"):
        Community.model_validate(
            {
                "id": "x",
                "name_zh": "x",
                "name_en": "x",
                "device_prefix": "x",
                "buildings": [{"number": 1, "units": 1, "floors": 1}] * 2,
            }
        )


@pytest.mark.parametrize("prefix", ["GS", "-gs", "gs.b", "a" * 17])
def test_bad_prefix_is_an_error(prefix: str) -> None:
    with pytest.raises(ValueError, match="device_prefix"):
        Community.model_validate(
            {
                "id": "x",
                "name_zh": "x",
                "name_en": "x",
                "device_prefix": prefix,
                "buildings": [{"number": 1, "units": 1, "floors": 1}],
            }
        )


def test_unknown_builtin_lists_the_builtins() -> None:
    with pytest.raises(CommunityFileError, match="guangsha, guanbeigou"):
        load_community("nowhere")


def test_bad_yaml_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("id: [unclosed\n", encoding="utf-8")
    with pytest.raises(CommunityFileError, match=r"broken\.yaml: not valid YAML"):
        load_community(path)


def test_usernames_join_community_and_device() -> None:
    community = load_community("guangsha")
    usernames = community_usernames(community)
    assert len(usernames) == len(community.devices)
    assert usernames[0] == "guangsha.gs-b01-th"


def test_credentials_file_round_trip_and_missing_accounts(tmp_path: Path) -> None:
    community = _community(units=1, floors=1)
    usernames = community_usernames(community)
    path = tmp_path / "creds.json"
    path.write_text(json.dumps({u: "pw" for u in usernames[1:]}), encoding="utf-8")

    credentials = load_credentials(path)

    assert set(credentials) == set(usernames[1:])
    with pytest.raises(CredentialsError, match=r"no password for 1 device\(s\): test-c\.tc-b01-th"):
        check_credentials(credentials, usernames)


@pytest.mark.parametrize("text", ["[1, 2]", '{"a": 1}', "{not json"])
def test_malformed_credentials_file(tmp_path: Path, text: str) -> None:
    path = tmp_path / "creds.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CredentialsError, match=r"creds\.json"):
        load_credentials(path)
