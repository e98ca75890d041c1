"""First accounts for a deployed broker: what `docker compose` needs before its first start.

Writes, into one private directory, the dynamic-security plugin's file (the broker owns and
rewrites it from then on; the API adds and revokes devices through the control account), the
simulated devices' passwords for the demo profile, and an env file with the service passwords.
"""

import json
from dataclasses import dataclass
from pathlib import Path

from hgj_brokeradmin.dynsec import render_config
from hgj_devstack.accounts import api_account, control_account, device_account, service_account
from hgj_devstack.private_file import write_private
from hgj_sim.model import load_community

DYNSEC_FILE = "dynamic-security.json"
DEVICE_CREDENTIALS_FILE = "device-credentials.json"
ENV_FILE = "broker-secrets.env"


@dataclass(frozen=True)
class WrittenAccounts:
    directory: Path
    devices: int


def write_broker_accounts(
    directory: Path, root: str, communities: list[str], *, force: bool = False
) -> WrittenAccounts:
    """Raises FileExistsError rather than replace a file the broker may have changed."""
    target = directory / DYNSEC_FILE
    if target.exists() and not force:
        raise FileExistsError(
            f"{target} exists and the broker may have changed it since; pass --force to "
            "replace it (every account, including devices the API registered, is reset)"
        )
    directory.mkdir(parents=True, exist_ok=True)
    control = control_account()
    ingest = service_account(root, "ingest-1")
    api = api_account(root, "api-1")
    devices = [
        device_account(root, community.id, device.id)
        for community in map(load_community, communities)
        for device in community.devices
    ]
    write_private(target, json.dumps(render_config([control, ingest, api, *devices]), indent=1))
    credentials = {a.username: a.password for a in devices}
    write_private(directory / DEVICE_CREDENTIALS_FILE, json.dumps(credentials, indent=1))
    write_private(
        directory / ENV_FILE,
        f"HGJ_INGEST_MQTT_PASSWORD={ingest.password}\n"
        f"HGJ_API_MQTT_PASSWORD={api.password}\n"
        f"HGJ_API_BROKER_CONTROL_PASSWORD={control.password}\n",
    )
    return WrittenAccounts(directory, len(devices))
