"""Files a Mosquitto broker reads: its config (rendered from the shipped template) and the
dynamic-security plugin's file of accounts, roles and ACLs.

The config comes from deploy/mosquitto/mosquitto.conf.template, the file docker-compose and
production render too, so the broker the tests exercise is configured like the real one.
"""

import json
import os
import pwd
import string
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from hgj_brokeradmin.dynsec import JsonObject, merge_config
from hgj_devstack.accounts import MqttAccount
from hgj_devstack.private_file import write_private

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_TEMPLATE = REPO_ROOT / "deploy" / "mosquitto" / "mosquitto.conf.template"
DYNSEC_PLUGIN_CANDIDATES = (
    Path("/usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so"),  # Debian, Ubuntu
    Path("/usr/lib/aarch64-linux-gnu/mosquitto_dynamic_security.so"),
    Path("/usr/lib/mosquitto_dynamic_security.so"),  # the eclipse-mosquitto image
)


@dataclass(frozen=True)
class BrokerPaths:
    """Where one broker keeps its files; everything sits under one work directory."""

    workdir: Path

    @property
    def config_dir(self) -> Path:
        return self.workdir / "config"

    @property
    def config_file(self) -> Path:
        return self.config_dir / "mosquitto.conf"

    @property
    def dynsec_file(self) -> Path:
        """The plugin's accounts, roles and ACLs; the broker rewrites it on every change."""
        return self.config_dir / "dynamic-security.json"

    @property
    def data_dir(self) -> Path:
        return self.workdir / "data"

    @property
    def persistence_file(self) -> Path:
        """Named by ``persistence_file`` in the template."""
        return self.data_dir / "mosquitto.db"

    @property
    def log_file(self) -> Path:
        return self.workdir / "mosquitto.log"

    @property
    def console_file(self) -> Path:
        """stdout/stderr: where Mosquitto reports errors before its log file is open."""
        return self.workdir / "mosquitto.console"


def current_user() -> str:
    """The user to name in ``user``: Mosquitto started as root would otherwise switch to the
    ``mosquitto`` account and fail to write a persistence directory in a private temp dir."""
    return pwd.getpwuid(os.geteuid()).pw_name


def dynsec_plugin() -> Path:
    """Where this machine's Mosquitto keeps its dynamic-security plugin."""
    for candidate in DYNSEC_PLUGIN_CANDIDATES:
        if candidate.exists():
            return candidate
    raise FileNotFoundError(
        "Mosquitto's dynamic-security plugin (mosquitto_dynamic_security.so) is missing; "
        "it ships with Mosquitto 2.0 or later: run `make setup`"
    )


def render_config(
    template: str,
    paths: BrokerPaths,
    port: int,
    bind_address: str,
    user: str,
    plugin: Path | None = None,
) -> str:
    """The template with every placeholder filled; KeyError names a placeholder left unfilled."""
    return string.Template(template).substitute(
        MOSQUITTO_BIND_ADDRESS=bind_address,
        MOSQUITTO_PORT=str(port),
        MOSQUITTO_CONFIG_DIR=str(paths.config_dir),
        MOSQUITTO_DATA_DIR=str(paths.data_dir),
        MOSQUITTO_LOG_FILE=str(paths.log_file),
        MOSQUITTO_USER=user,
        MOSQUITTO_DYNSEC_PLUGIN=str(plugin or dynsec_plugin()),
    )


def write_credentials(paths: BrokerPaths, accounts: Sequence[MqttAccount]) -> None:
    """Put these accounts into the plugin's file while the broker is down.

    Accounts already in the file and not among these stay: the broker owns the file once it
    has run, and accounts created at runtime (the API registering a device) must survive a
    restart. The file is written beside its final name and renamed, so a crash never leaves
    half of it.
    """
    paths.config_dir.mkdir(parents=True, exist_ok=True)
    existing: JsonObject | None = None
    if paths.dynsec_file.exists():
        existing = json.loads(paths.dynsec_file.read_text(encoding="utf-8"))
    staged = paths.dynsec_file.with_suffix(".new")
    write_private(staged, json.dumps(merge_config(existing, accounts), indent=1))
    staged.replace(paths.dynsec_file)


def write_config(paths: BrokerPaths, text: str) -> None:
    paths.config_dir.mkdir(parents=True, exist_ok=True)
    paths.data_dir.mkdir(parents=True, exist_ok=True)
    paths.config_file.write_text(text, encoding="utf-8")
