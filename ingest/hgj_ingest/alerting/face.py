"""Face rules: which face decisions are alerts. The rest of their handling is that of any
instant event (see ``event_rules.on_occurrence``).

Hours are the community's local time (Asia/Shanghai for the pilots, which has no daylight
saving, but a zone is used rather than a fixed +08:00 so that the rule reads as written anywhere).
"""

from zoneinfo import ZoneInfo

from hgj_contracts.events import FaceEvent
from hgj_ingest.alerting.rules import FaceSpec


def is_alert(spec: FaceSpec, event: FaceEvent, zone: ZoneInfo) -> bool:
    """Whether this face decision matches the rule (the device filter is checked apart)."""
    if event.category != spec.category:
        return False
    if spec.watchlists is not None and event.watchlist not in spec.watchlists:
        return False
    if spec.min_score is not None and event.score < spec.min_score:
        return False
    if spec.hours is None:
        return True
    local = event.ts.astimezone(zone).time()
    return any(window.contains(local) for window in spec.hours)


def details(event: FaceEvent) -> dict[str, object]:
    """Placeholder values. Ids and a score only: a face image never leaves the edge device."""
    return {
        "category": event.category,
        "person": event.person_id,
        "watchlist": event.watchlist,
        "score": event.score,
    }
