"""A device's profile from its status messages, and which status is the latest.

Status ``seq`` numbers restart at 1 with each run of a device (``reason: startup``), and a last
will carries its session's connect time as ``ts``, a little *before* the online status it
follows (it was composed first). So neither ``ts`` nor ``seq`` alone orders statuses; see
:func:`is_newer_status`.
"""

from datetime import timedelta

from hgj_contracts import DeviceStatus
from hgj_ingest.alerting.state import DeviceProfile, Mark

SESSION_GRACE = timedelta(seconds=60)
"""How far a will's ``ts`` (its connect time) may precede the online status it follows; and,
the other way round, how much later a status must be to start a new run we did not see begin."""


def is_newer_status(profile: DeviceProfile | None, status: DeviceStatus) -> bool:
    """Whether ``status`` supersedes the latest one applied (False for a redelivery)."""
    last = profile.status if profile is not None else None
    if last is None:
        return True
    if status.reason == "startup":
        return status.ts > last.ts  # a restart: its counters begin again
    if status.seq > last.seq:
        return status.ts >= last.ts - SESSION_GRACE  # same run; else an old run's straggler
    return status.ts > last.ts + SESSION_GRACE  # a later run whose startup we missed


def apply_status(profile: DeviceProfile | None, status: DeviceStatus) -> DeviceProfile:
    """The profile after a newer status. Offline statuses (and wills) say little about the
    device, so what they leave out is kept from before."""
    old = profile or DeviceProfile()
    return DeviceProfile(
        device_type=status.device_type or old.device_type,
        report_interval_s=status.report_interval_s or old.report_interval_s,
        location=status.location or old.location,
        status=Mark(status.ts, status.seq),
        status_reason=status.reason,
        online=status.state == "online",
    )
