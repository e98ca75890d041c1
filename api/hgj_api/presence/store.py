"""Applying one device status to the registry: a conditional UPDATE, so that an older status
(a redelivery, a retained copy read after a newer live one, another replica's slower write)
never overwrites a newer one, and applying the same status twice changes nothing.

Order is by event time. One tie is broken on purpose: a device composes its last will when it
connects, with the same ``ts`` as the online status it sends then (``hgj_contracts.status``:
the will takes the next ``seq``), so at equal times an offline status wins over an online one.
"""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, and_, false, or_, update
from sqlalchemy.engine import Engine

from hgj_contracts.status import DeviceStatus
from hgj_statedb.models import DeviceRow


@dataclass(frozen=True, slots=True)
class PresenceUpdate:
    community: str
    device: str
    online: bool
    reason: str | None
    at: datetime
    """The event time the registry orders statuses by."""

    @classmethod
    def of(
        cls, community: str, device: str, status: DeviceStatus, at: datetime
    ) -> "PresenceUpdate":
        return cls(community, device, status.state == "online", status.reason, at)


def apply_presence(engine: Engine, change: PresenceUpdate) -> bool:
    """True when the registry took the status (the device is registered and the status is
    newer than the one it has). Commits before returning: the caller acknowledges after."""
    stored = DeviceRow.status_at
    wins_tie: ColumnElement[bool] = (
        false() if change.online else and_(stored == change.at, DeviceRow.online.is_(True))
    )
    newer = or_(stored.is_(None), stored < change.at, wins_tie)
    with engine.begin() as connection:
        result = connection.execute(
            update(DeviceRow)
            .where(DeviceRow.community == change.community, DeviceRow.device == change.device)
            .where(newer)
            .values(online=change.online, status_reason=change.reason, status_at=change.at)
        )
        return result.rowcount == 1
