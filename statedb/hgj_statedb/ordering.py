"""Event-time ordering: what a raise or clear signal does, given what was applied before.

Signals for one (community, device, rule) can arrive out of event-time order: MQTT redelivers
after a reconnect, and shared subscriptions spread one device's messages over several ingest
workers. The store applies each signal under a per-key lock, and this function decides from
the stored state alone, so the outcome never depends on which worker got there first in the
cases that matter for the current state:

- A raise at or before the latest applied clear (``cleared_through``) is **stale**: the clear
  already superseded it, so it must not reopen the alert (a raise at t=5 arriving after the
  clear at t=10). Equal times count as stale: at a tie, the clear wins.
- Otherwise a raise **repeats** the active alert (count + 1, even if it is older than raises
  already counted: a late repeat still happened while the alert was active) or **raises** a
  new alert when none is active.
- A clear older than the active alert's latest raise is **superseded**: the condition held
  again after it, so the alert stays active. (Had it arrived in order, it would have cleared
  the alert and the later raise would have opened a new one: the current state is the same,
  the history is one alert instead of two.)
- Otherwise a clear **clears** the active alert, or, when none is active, is **recorded**:
  it moves the clear horizon so that an older raise arriving later is recognised as stale.

Duplicates (the same ``signal_id`` for the same key) are filtered before this is asked.
"""

from datetime import datetime
from typing import Literal

Outcome = Literal["raise", "repeat", "stale", "clear", "superseded", "record"]


def decide(
    kind: Literal["raise", "clear"],
    event_time: datetime,
    cleared_through: datetime | None,
    active_last_raised_at: datetime | None,
) -> Outcome:
    """The outcome of a signal; ``active_last_raised_at`` is None when no alert is active."""
    if kind == "raise":
        if cleared_through is not None and event_time <= cleared_through:
            return "stale"
        return "raise" if active_last_raised_at is None else "repeat"
    if active_last_raised_at is None:
        return "record"
    if event_time < active_last_raised_at:
        return "superseded"
    return "clear"
