"""The lifecycle of a remote command, as a pure state machine (no I/O, no clock).

A command is created ``queued`` (or ``refused`` when an interlock says no) and then moves on
inputs from three sources: the broker (PUBACK), the device (its results) and the sweeper (time).
The table below is the whole policy; the store applies it under a row lock, so whatever order
inputs arrive in, each one is judged against the state the previous one left.

Why the table looks the way it does:

- **Results may overtake each other and the PUBACK.** Results travel on a shared subscription, so
  the device's ``accepted`` and ``succeeded`` can reach two API replicas and be applied in either
  order, and a fast device can answer before the publishing replica has processed its PUBACK.
  Hence every result is accepted from ``queued`` and ``sent`` alike, and a result that arrives
  after a later one (``accepted`` after ``succeeded``) changes nothing.
- **Final states never move.** A duplicated or late result (QoS 1 redelivery, the device answering
  a replay with its first result) is ignored once the command is final, so a command that
  succeeded stays succeeded and an expired one is never revived.
- **``timeout`` is not final.** It says "no answer within the acknowledgement timeout"; the
  device may be offline and receive the command from its persistent session before
  ``expires_at``, and then its results still count. Only the deadline ends the wait.
"""

from typing import Final, Literal, TypeGuard, get_args

from hgj_contracts.commands import CommandState, ResultStatus

PlatformInput = Literal["published", "publish_refused", "ack_timeout", "deadline", "interlock"]
"""What the platform itself observes: the broker's PUBACK (or its refusal), the sweeper's two
clocks (acknowledgement timeout, ``expires_at``) and an interlock checked again at dispatch."""
CommandInput = ResultStatus | PlatformInput
"""Everything that can move a command: a device result status, or a platform observation."""

RESULT_STATUSES: Final[tuple[ResultStatus, ...]] = get_args(ResultStatus)
PLATFORM_INPUTS: Final[tuple[PlatformInput, ...]] = get_args(PlatformInput)

INITIAL_STATES: Final[frozenset[CommandState]] = frozenset({"queued", "refused"})
TERMINAL_STATES: Final[frozenset[CommandState]] = frozenset(
    {"succeeded", "failed", "expired", "refused"}
)
OPEN_STATES: Final[frozenset[CommandState]] = frozenset({"queued", "sent", "delivered", "timeout"})
"""Not final: the sweeper watches these."""
AWAITING_ANSWER: Final[frozenset[CommandState]] = frozenset({"sent", "delivered"})
"""States the acknowledgement timeout applies to: the broker has the command, and the device
owes us its next answer."""

# What a device's answer means, wherever it arrives from. "rejected" (the device would not
# even try: unknown action, bad parameters, busy) is a failure to the operator.
RESULT_MEANING: Final[dict[ResultStatus, CommandState]] = {
    "accepted": "delivered",
    "succeeded": "succeeded",
    "failed": "failed",
    "rejected": "failed",
    "expired": "expired",
}

# Spelled out in full rather than composed, so that a reviewer reads the policy in one place.
TRANSITIONS: Final[dict[CommandState, dict[CommandInput, CommandState]]] = {
    "queued": {
        "published": "sent",
        "publish_refused": "failed",
        "interlock": "refused",
        "deadline": "expired",
        # The device may answer before this replica has processed the PUBACK.
        "accepted": "delivered",
        "succeeded": "succeeded",
        "failed": "failed",
        "rejected": "failed",
        "expired": "expired",
    },
    "sent": {
        "ack_timeout": "timeout",
        "deadline": "expired",
        "accepted": "delivered",
        "succeeded": "succeeded",
        "failed": "failed",
        "rejected": "failed",
        "expired": "expired",
    },
    "delivered": {
        # A second "accepted" is a duplicate; "published" here is a PUBACK overtaken by the
        # device's answer. Neither is listed, so neither changes anything.
        "ack_timeout": "timeout",
        "deadline": "expired",
        "succeeded": "succeeded",
        "failed": "failed",
        "rejected": "failed",
        "expired": "expired",
    },
    "timeout": {
        "deadline": "expired",
        # A late "accepted" is real news: the device was offline and has the command now.
        "accepted": "delivered",
        "succeeded": "succeeded",
        "failed": "failed",
        "rejected": "failed",
        "expired": "expired",
    },
    "succeeded": {},
    "failed": {},
    "expired": {},
    "refused": {},
}


def next_state(state: CommandState, event: CommandInput) -> CommandState | None:
    """The state ``event`` moves a command in ``state`` to, or None when it changes nothing
    (a duplicate, a late or out-of-order input, anything at all once final)."""
    return TRANSITIONS[state].get(event)


def is_result(event: CommandInput) -> TypeGuard[ResultStatus]:
    """True for a device's answer (as opposed to something the platform observed)."""
    return event in RESULT_STATUSES


def is_terminal(state: CommandState) -> bool:
    return state in TERMINAL_STATES


def contradicts_final_state(state: CommandState, status: ResultStatus) -> bool:
    """True when a device result arriving for a final command tells a different story, for
    example ``succeeded`` for a command the platform already called expired or refused.

    Such a result still changes nothing (final is final), but it is worth a line in the
    timeline: the gate may have opened although the console says it did not. Duplicates and
    a late ``accepted`` are not contradictions."""
    if not is_terminal(state) or status == "accepted":
        return False
    return RESULT_MEANING[status] != state
