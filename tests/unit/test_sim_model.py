"""Community files: the built-ins load, ids follow the contract, layouts yield the right sensors."""

import json
import shutil
from collections import Counter
from fnmatch import fnmatch
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

V0_TYPES = {"temp_humidity", "smoke_detector", "water_leak", "door_contact"}
PILOT_TYPES = V0_TYPES | {
    "access_controller",
    "gate",
    "face_camera",
    "camera",
    "elevator_camera",
    "charging_monitor",
    "street_light",
    "water_pump",
}
"""Every device type the simulators issue names, per community."""


def _community(**building: object) -> Community:
    return Community.model_validate(
        {
            "id": "test-c",
            "name_zh": "测试小区",
            "name_en": "Test",
            "device_prefix": "tc",
            "buildings": [{"number": 1, **building}],
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
def test_every_building_has_its_sensors_doors_and_cameras(name: str) -> None:
    community = load_community(name)
    for building in community.buildings:
        devices = [d for d in community.devices if d.building == building.number]
        types = Counter(d.device_type for d in devices)
        assert set(types) >= V0_TYPES, building.number
        assert types["door_contact"] == types["access_controller"] == building.units
        assert types["temp_humidity"] >= 1
        assert types["water_leak"] >= 1
        assert types["elevator_camera"] == building.lifts
        assert any(d.place == "roof" for d in devices)
        assert all(d.grid is not None and d.compound is not None for d in devices)


@pytest.mark.parametrize("name", BUILTIN_COMMUNITIES)
def test_each_pilot_has_every_device_type_the_issue_names(name: str) -> None:
    assert {d.device_type for d in load_community(name).devices} == PILOT_TYPES


@pytest.mark.parametrize("name", BUILTIN_COMMUNITIES)
def test_ids_match_the_globs_of_the_shipped_alert_rules(name: str) -> None:
    """The rules pick gate cameras, corridor sockets, charging-shed sockets and restricted
    places by id pattern (ingest's default_rules.yaml)."""
    devices = load_community(name).devices
    for device in devices:
        if device.device_type == "face_camera":
            assert fnmatch(device.id, "*-gate-*")
        if device.device_type == "charging_monitor":
            wanted = "*-chg-*" if device.place == "charging_area" else "*-socket-*"
            assert fnmatch(device.id, wanted), device.id
        if device.device_type == "camera" and device.place in ("roof", "pump_room"):
            assert fnmatch(device.id, "*-roof-*" if device.place == "roof" else "*-pumproom-*")


def test_compounds_have_gates_with_cameras_lights_and_a_charging_shed() -> None:
    community = load_community("guangsha")
    site = {d.id: d for d in community.devices if d.building is None}
    assert site["gs-gate-north"].device_type == "gate"
    assert (site["gs-gate-north-cam"].device_type, site["gs-gate-north-cam"].gate) == (
        "face_camera",
        "north",
    )
    assert "gs-gate-east-cam" not in site  # the vehicle gate has no face camera
    assert sum(d.device_type == "street_light" for d in site.values()) == 16
    assert sum(d.device_type == "charging_monitor" for d in site.values()) == 12
    assert all(d.compound == "main" and d.grid is None for d in site.values())


def test_grids_have_workers_and_cover_every_building() -> None:
    community = load_community("guanbeigou")
    assert [g.worker.name_zh for g in community.grids] == ["赵文静", "马志强", "陈玉梅"]
    assert {n for g in community.grids for n in g.buildings} == {1, 2, 3, 4, 5, 6}
    grid = community.grid_of(5)
    assert grid is not None
    assert community.device("gbg-b05-u2-socket-f01").grid == grid.id


def test_a_v0_file_still_describes_only_its_sensors() -> None:
    community = _community(units=2, floors=2)
    assert {d.device_type for d in community.devices} == V0_TYPES
    assert [d.id for d in community.devices] == [
        "tc-b01-th",
        "tc-b01-smoke-f01",
        "tc-b01-smoke-f02",
        "tc-b01-leak-b1",
        "tc-b01-u1-door",
        "tc-b01-u2-door",
    ]


def test_building_equipment_follows_the_layout() -> None:
    community = _community(
        units=2,
        floors=6,
        lifts=1,
        access_control=True,
        cameras={"corridor_floors": [1, -1], "roof": True, "pump_room": True},
        sockets={"every": 3, "per_unit": True},
        pump=True,
    )
    # After the v0 sensors: a climate sensor, 6 smoke detectors, a leak probe, 2 doors.
    added = [d.id for d in community.devices][10:]
    assert added == [
        "tc-b01-u1-access",
        "tc-b01-u2-access",
        "tc-b01-lift1-cam",
        "tc-b01-u1-cam-f01",
        "tc-b01-u2-cam-f01",
        "tc-b01-u1-cam-b1",
        "tc-b01-u2-cam-b1",
        "tc-b01-roof-cam",
        "tc-b01-pumproom-cam",
        "tc-b01-u1-socket-f01",
        "tc-b01-u2-socket-f01",
        "tc-b01-u1-socket-f04",
        "tc-b01-u2-socket-f04",
        "tc-b01-pump",
    ]
    pump = community.device("tc-b01-pump")
    assert (pump.floor, pump.place, pump.mains_powered) == (-1, "pump_room", True)
    assert not community.device("tc-b01-th").mains_powered


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"cameras": {"corridor_floors": [7]}}, "no floor 7"),
        ({"cameras": {"corridor_floors": [0]}}, "there is no 0"),
        ({"basement": False, "cameras": {"corridor_floors": [-1]}}, "no floor -1"),
    ],
)
def test_camera_floors_must_exist(change: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _community(units=1, floors=6, **change)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            {"compounds": [{"id": "a", "name_zh": "甲", "buildings": [1, 1]}]},
            r"buildings \[1\] are in more than one compound",
        ),
        (
            {"compounds": [{"id": "a", "name_zh": "甲", "buildings": [1, 2]}]},
            r"buildings \[2\] are listed but not described",
        ),
        (
            {
                "buildings": [
                    {"number": 1, "units": 1, "floors": 1},
                    {"number": 2, "units": 1, "floors": 1},
                ],
                "grids": [
                    {
                        "id": "g1",
                        "name_zh": "一",
                        "worker": {"id": "w1", "name_zh": "王"},
                        "buildings": [1],
                    }
                ],
            },
            r"buildings \[2\] are in no grid",
        ),
        (
            {
                "compounds": [
                    {
                        "id": "a",
                        "name_zh": "甲",
                        "buildings": [1],
                        "gates": [{"name": "n", "name_zh": "北"}, {"name": "n", "name_zh": "北"}],
                    }
                ]
            },
            "gate names used more than once",
        ),
    ],
)
def test_compounds_grids_and_gates_are_checked(extra: dict[str, object], message: str) -> None:
    data: dict[str, object] = {
        "id": "x",
        "name_zh": "x",
        "name_en": "x",
        "device_prefix": "x",
        "buildings": [{"number": 1, "units": 1, "floors": 1}],
    }
    with pytest.raises(ValueError, match=message):
        Community.model_validate(data | extra)


def test_pilot_sizes() -> None:
    assert len(load_community("guangsha").buildings) == 8
    assert len(load_community("guanbeigou").buildings) == 6


def test_ids_are_derived_from_the_layout() -> None:
    ids = {d.id for d in load_community("guangsha").devices}
    assert {"gs-b03-th", "gs-b03-u2-smoke-f05", "gs-b03-leak-b1", "gs-b03-u2-door"} <= ids
    assert {"gs-b03-u2-access", "gs-b07-lift1-cam", "gs-b03-roof-cam", "gs-b06-pump"} <= ids
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
    assert "guangsha.gs-gate-north-cam" in usernames


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
