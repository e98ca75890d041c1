"""What `make run` started and where, written to .run/stack.json for `make status` and tools.

The file holds passwords (admin and service accounts), so it is written owner-only.
"""

import json
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from hgj_devstack.private_file import write_private

RUN_DIR = Path(".run")
STATE_FILE = RUN_DIR / "stack.json"


class StackState(BaseModel):
    model_config = ConfigDict(extra="forbid")

    root: str
    communities: list[str]
    mqtt_host: str
    mqtt_port: int
    mqtt_embedded: bool
    mqtt_protocol: str
    admin_username: str
    admin_password: str
    store: str
    """"influxdb" or "sqlite" (the embedded fallback)."""
    influx_url: str | None
    influx_db: str
    sqlite_path: str | None
    state_db_url: str
    pids: dict[str, int]
    api_url: str | None = None
    api_username: str | None = None
    api_password: str | None = None
    """The console's first admin (the API's bootstrap admin of this run)."""


def save(state: StackState, path: Path = STATE_FILE) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_private(path, state.model_dump_json(indent=2))


def load(path: Path = STATE_FILE) -> StackState | None:
    if not path.exists():
        return None
    return StackState.model_validate(json.loads(path.read_text(encoding="utf-8")))
