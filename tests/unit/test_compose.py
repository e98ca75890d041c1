"""docker-compose.yml cannot run here (no Docker engine), so check what can be checked:
it parses, every service is complete, and every file it mounts or builds from exists."""

from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic_settings import BaseSettings

from hgj_api.settings import ApiSettings
from hgj_ingest.settings import IngestSettings

REPO = Path(__file__).resolve().parents[2]


def load() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((REPO / "docker-compose.yml").read_text(encoding="utf-8"))
    return data


def test_services_of_the_slice_are_declared() -> None:
    services = load()["services"]
    assert {"mosquitto", "influxdb", "ingest", "api", "simulators"} <= services.keys()
    for name, service in services.items():
        assert "image" in service or "build" in service, name


def test_build_files_and_read_only_mounts_exist() -> None:
    for name, service in load()["services"].items():
        build = service.get("build")
        if build:
            assert (REPO / build["context"] / build["dockerfile"]).is_file(), name
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./") and source.endswith(".template"):
                assert (REPO / source).is_file(), (name, source)


def test_named_volumes_are_declared() -> None:
    compose = load()
    declared = set(compose["volumes"])
    for service in compose["services"].values():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if not source.startswith(("./", "/")):
                assert source in declared, source


def test_broker_seeds_its_accounts_once_and_owns_them_in_a_volume() -> None:
    broker = load()["services"]["mosquitto"]
    env = broker["environment"]
    mounts = {v.split(":")[1]: v for v in broker["volumes"]}
    assert mounts["/seed"].endswith(":ro")
    assert not mounts[env["MOSQUITTO_CONFIG_DIR"]].startswith("./")  # a named, writable volume
    entrypoint = mounts["/etc/hgj/entrypoint.sh"].split(":")[0]
    script = (REPO / entrypoint).read_text(encoding="utf-8")
    assert "dynamic-security.json" in script
    assert env["MOSQUITTO_DYNSEC_PLUGIN"].endswith("mosquitto_dynamic_security.so")


@pytest.mark.parametrize(
    ("service", "prefix", "settings"),
    [("ingest", "HGJ_INGEST_", IngestSettings), ("api", "HGJ_API_", ApiSettings)],
)
def test_service_settings_in_compose_exist(
    service: str, prefix: str, settings: type[BaseSettings]
) -> None:
    """A misspelt variable would be refused at start (settings_from_env): catch it here."""
    environment = load()["services"][service]["environment"]
    known = {prefix + name.upper() for name in settings.model_fields}
    given = {name for name in environment if name.startswith(prefix)}
    assert given
    assert given <= known, sorted(given - known)


def test_the_api_runs_in_production_mode_with_its_secrets_required() -> None:
    environment = load()["services"]["api"]["environment"]
    assert environment["HGJ_API_MODE"] == "production"
    assert ":?" in environment["HGJ_API_JWT_SECRET"]
    assert ":?" in environment["HGJ_API_BROKER_CONTROL_PASSWORD"]
