"""Device accounts: one MQTT username per device, and the passwords a deployer hands out.

Real devices each have their own credentials (so one can be revoked without touching the
others), and so does every simulated device. The username is ``{community}.{device}``: ``.``
cannot occur in an id, so the two halves can always be told apart.
"""

import json
from collections.abc import Mapping
from pathlib import Path

from hgj_sim.model import Community


class CredentialsError(ValueError):
    """A credentials file that is unreadable, malformed, or lacks some device."""


def device_username(community_id: str, device_id: str) -> str:
    """The MQTT username (and client id) of one device."""
    return f"{community_id}.{device_id}"


def community_usernames(community: Community) -> list[str]:
    """The usernames every device of a community logs in with, for creating broker accounts."""
    return [device_username(community.id, d.id) for d in community.devices]


def load_credentials(path: Path) -> dict[str, str]:
    """Read a JSON object mapping username to password."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CredentialsError(f"{path}: cannot read credentials: {exc}") from None
    except ValueError as exc:
        raise CredentialsError(f"{path}: not valid JSON: {exc}") from None
    if not isinstance(data, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in data.items()
    ):
        raise CredentialsError(f"{path}: expected a JSON object of username -> password strings")
    return data


def check_credentials(credentials: Mapping[str, str], usernames: list[str]) -> None:
    """Fail before connecting anything when some device has no password, naming a few."""
    missing = [u for u in usernames if u not in credentials]
    if missing:
        shown = ", ".join(missing[:5]) + (", ..." if len(missing) > 5 else "")
        raise CredentialsError(f"no password for {len(missing)} device(s): {shown}")
