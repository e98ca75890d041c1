"""Files a Mosquitto broker reads: its config (rendered from the shipped template), the hashed
password file and the ACL file.

The config comes from deploy/mosquitto/mosquitto.conf.template, the file docker-compose and
production render too, so the broker the tests exercise is configured like the real one.
"""

import os
import pwd
import string
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from hgj_devstack.accounts import MqttAccount, render_acl, render_password_plaintext
from hgj_devstack.private_file import write_private

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_TEMPLATE = REPO_ROOT / "deploy" / "mosquitto" / "mosquitto.conf.template"
HASH_TOOL = "mosquitto_passwd"  # hashes a password file in place (-U)


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
    def password_file(self) -> Path:
        return self.config_dir / "passwd"

    @property
    def acl_file(self) -> Path:
        return self.config_dir / "acl"

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


def render_config(
    template: str, paths: BrokerPaths, port: int, bind_address: str, user: str
) -> str:
    """The template with every placeholder filled; KeyError names a placeholder left unfilled."""
    return string.Template(template).substitute(
        MOSQUITTO_BIND_ADDRESS=bind_address,
        MOSQUITTO_PORT=str(port),
        MOSQUITTO_CONFIG_DIR=str(paths.config_dir),
        MOSQUITTO_DATA_DIR=str(paths.data_dir),
        MOSQUITTO_LOG_FILE=str(paths.log_file),
        MOSQUITTO_USER=user,
    )


def write_credentials(paths: BrokerPaths, accounts: Sequence[MqttAccount]) -> None:
    """Write the password file (hashed) and the ACL file for these accounts.

    Plain ``user:password`` lines are hashed in place with one ``mosquitto_passwd -U`` call
    (one process, not one per account: a community has thousands of devices). Both files are
    written beside their final names and renamed, so a broker reloading on SIGHUP never reads
    a half-written file.
    """
    paths.config_dir.mkdir(parents=True, exist_ok=True)
    staged_passwd = paths.password_file.with_suffix(".new")
    write_private(staged_passwd, render_password_plaintext(accounts))
    result = subprocess.run(
        [HASH_TOOL, "-U", str(staged_passwd)],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"mosquitto_passwd -U failed ({result.returncode}): {result.stderr or result.stdout}"
        )
    staged_acl = paths.acl_file.with_suffix(".new")
    write_private(staged_acl, render_acl(accounts))
    staged_passwd.replace(paths.password_file)
    staged_acl.replace(paths.acl_file)


def write_config(paths: BrokerPaths, text: str) -> None:
    paths.config_dir.mkdir(parents=True, exist_ok=True)
    paths.data_dir.mkdir(parents=True, exist_ok=True)
    paths.config_file.write_text(text, encoding="utf-8")
