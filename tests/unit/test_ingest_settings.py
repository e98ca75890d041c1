"""Ingest configuration: a typo in an environment variable is an error, not a silent default."""

import pytest
from pydantic import SecretStr

from hgj_ingest.settings import IngestSettings, settings_from_env, settings_to_env


def test_unknown_variable_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HGJ_INGEST_BATCH_SIZ", "5")
    with pytest.raises(ValueError, match="HGJ_INGEST_BATCH_SIZ"):
        settings_from_env()


def test_known_variables_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HGJ_INGEST_BATCH_SIZE", "250")
    monkeypatch.setenv("HGJ_INGEST_ROOT", "demo")
    settings = settings_from_env()
    assert settings.batch_size == 250
    assert settings.root == "demo"


def test_bad_values_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HGJ_INGEST_BATCH_SIZE", "lots")
    with pytest.raises(ValueError, match="batch_size"):
        settings_from_env()


def test_the_device_registry_is_off_unless_enforced(monkeypatch: pytest.MonkeyPatch) -> None:
    assert settings_from_env().device_registry == "off"
    monkeypatch.setenv("HGJ_INGEST_DEVICE_REGISTRY", "enforce")
    monkeypatch.setenv("HGJ_INGEST_REGISTRY_REFRESH_S", "2.5")
    settings = settings_from_env()
    assert (settings.device_registry, settings.registry_refresh_s) == ("enforce", 2.5)
    monkeypatch.setenv("HGJ_INGEST_DEVICE_REGISTRY", "on")
    with pytest.raises(ValueError, match="device_registry"):
        settings_from_env()


def test_settings_survive_the_trip_through_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    original = IngestSettings(
        root="demo", batch_size=250, mqtt_password=SecretStr("s3cret"), share_group="ingest"
    )
    for name, value in settings_to_env(original).items():
        monkeypatch.setenv(name, value)
    assert settings_from_env() == original
