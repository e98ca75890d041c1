"""The command state machine: every state × every input, and answers in any order.

The expected table is written out here independently of ``TRANSITIONS``, so a change to the
policy has to be made twice, on purpose.
"""

import itertools

import pytest

from hgj_contracts import COMMAND_STATES, CommandState
from hgj_statedb.command_states import (
    INITIAL_STATES,
    OPEN_STATES,
    PLATFORM_INPUTS,
    RESULT_STATUSES,
    TERMINAL_STATES,
    CommandInput,
    contradicts_final_state,
    is_terminal,
    next_state,
)

INPUTS: tuple[CommandInput, ...] = (*RESULT_STATUSES, *PLATFORM_INPUTS)
ANSWERS = {
    "accepted": "delivered",
    "succeeded": "succeeded",
    "failed": "failed",
    "rejected": "failed",
    "expired": "expired",
}
ALLOWED: dict[tuple[str, str], str] = {
    ("queued", "published"): "sent",
    ("queued", "publish_refused"): "failed",
    ("queued", "interlock"): "refused",
    ("queued", "deadline"): "expired",
    **{("queued", answer): state for answer, state in ANSWERS.items()},
    ("sent", "ack_timeout"): "timeout",
    ("sent", "deadline"): "expired",
    **{("sent", answer): state for answer, state in ANSWERS.items()},
    ("delivered", "ack_timeout"): "timeout",
    ("delivered", "deadline"): "expired",
    **{("delivered", a): s for a, s in ANSWERS.items() if a != "accepted"},
    ("timeout", "deadline"): "expired",
    **{("timeout", answer): state for answer, state in ANSWERS.items()},
}


@pytest.mark.parametrize(
    ("state", "event"), list(itertools.product(COMMAND_STATES, INPUTS)), ids=lambda v: str(v)
)
def test_every_input_in_every_state(state: CommandState, event: CommandInput) -> None:
    assert next_state(state, event) == ALLOWED.get((state, event))


def test_the_state_sets() -> None:
    assert set(COMMAND_STATES) == TERMINAL_STATES | OPEN_STATES
    assert not TERMINAL_STATES & OPEN_STATES
    assert {"succeeded", "failed", "expired", "refused"} == TERMINAL_STATES
    assert {"queued", "refused"} == INITIAL_STATES
    assert not is_terminal("timeout")  # the device may still answer until expires_at


@pytest.mark.parametrize("state", sorted(TERMINAL_STATES))
def test_final_states_never_move(state: CommandState) -> None:
    assert all(next_state(state, event) is None for event in INPUTS)


def _run(events: tuple[CommandInput, ...], start: CommandState = "queued") -> CommandState:
    state = start
    for event in events:
        state = next_state(state, event) or state
    return state


@pytest.mark.parametrize(
    "events", list(itertools.permutations(("published", "accepted", "succeeded")))
)
def test_the_outcome_wins_in_any_arrival_order(events: tuple[CommandInput, ...]) -> None:
    assert _run(events) == "succeeded"
    assert _run((*events, "accepted", "succeeded", "published", "ack_timeout")) == "succeeded"


@pytest.mark.parametrize(
    "events", list(itertools.permutations(("published", "accepted", "failed", "ack_timeout")))
)
def test_a_failure_wins_in_any_arrival_order(events: tuple[CommandInput, ...]) -> None:
    assert _run(events) == "failed"


def test_an_offline_device_times_out_then_expires() -> None:
    assert _run(("published", "ack_timeout")) == "timeout"
    assert _run(("published", "ack_timeout", "deadline")) == "expired"
    # ...and what it says once it is back changes nothing.
    assert _run(("published", "ack_timeout", "deadline", "accepted", "succeeded")) == "expired"


def test_a_device_back_before_the_deadline_still_counts() -> None:
    assert _run(("published", "ack_timeout", "accepted", "succeeded")) == "succeeded"


@pytest.mark.parametrize(
    ("state", "status", "contradicts"),
    [
        ("expired", "succeeded", True),
        ("expired", "failed", True),
        ("refused", "succeeded", True),
        ("refused", "expired", True),
        ("succeeded", "failed", True),
        ("failed", "succeeded", True),
        ("expired", "expired", False),  # agrees
        ("failed", "rejected", False),  # both mean failed
        ("succeeded", "succeeded", False),  # a duplicate
        ("succeeded", "accepted", False),  # merely out of order
        ("timeout", "succeeded", False),  # not final: a transition, not a late result
    ],
)
def test_late_results_that_contradict_a_final_state(
    state: CommandState, status: str, contradicts: bool
) -> None:
    assert contradicts_final_state(state, status) is contradicts  # type: ignore[arg-type]
