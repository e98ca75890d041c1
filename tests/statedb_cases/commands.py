"""The command store: creation and idempotency, the lifecycle, the sweeper, replicas at once.

Run on SQLite (tests/unit/test_command_store_sqlite.py) and PostgreSQL
(tests/integration/test_command_store_postgres.py). Time is a fake clock the tests move.
"""

import random
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, insert
from sqlalchemy.exc import IntegrityError

from hgj_contracts import COMMAND_PROGRESS, CommandResult
from hgj_contracts.commands import OpenGateCommand, ResultStatus
from hgj_statedb.command_models import CommandRow
from hgj_statedb.command_states import CommandInput
from hgj_statedb.command_store import (
    CommandNotFoundError,
    CommandStore,
    IdempotencyConflictError,
    ResultMismatchError,
)
from hgj_statedb.command_views import CommandView, NewCommand, Refusal
from hgj_statedb.db import open_engine
from tests.statedb_fixtures import T0, at

ACK = timedelta(seconds=10)
GRACE = timedelta(seconds=2)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def set(self, seconds: float) -> None:
        self.now = at(seconds)


def gate(key: str | None = None, user: str = "u-guard1", **changes: Any) -> NewCommand:
    """Open the north gate for 5 s, valid for 30 s."""
    command = NewCommand(
        community="guangsha",
        device="gs-gate-n",
        action="open_gate",
        parameters={"hold_open_s": 5.0},
        requested_by=user,
        ttl=timedelta(seconds=30),
        reason="delivery van",
        idempotency_key=key,
    )
    return replace(command, **changes)


def answer(
    command: CommandView,
    status: ResultStatus,
    error_code: str | None = None,
    *,
    seq: int = 1,
    data: dict[str, str | int | float | bool | None] | None = None,
) -> CommandResult:
    return CommandResult(
        ts=T0,
        seq=seq,
        command_id=command.command_id,
        action=command.action,
        status=status,
        error_code=error_code,
        data=data,
    )


def states(store: CommandStore, command_id: str) -> list[str | None]:
    return [e.to_state for e in store.timeline(command_id)]


class CommandStoreCases:
    @pytest.fixture
    def clock(self) -> Clock:
        return Clock()

    @pytest.fixture
    def open_store(self, state_db_url: str, clock: Clock) -> Iterator[Callable[[], CommandStore]]:
        """More stores on the same database, each with its own engine (as API replicas)."""
        engines: list[Engine] = []

        def make() -> CommandStore:
            engines.append(open_engine(state_db_url, run_migrations=not engines))
            return CommandStore(engines[-1], clock=clock)

        try:
            yield make
        finally:
            for engine in engines:
                engine.dispose()

    @pytest.fixture
    def commands(self, open_store: Callable[[], CommandStore]) -> CommandStore:
        return open_store()

    def queued(self, store: CommandStore, **changes: Any) -> CommandView:
        return store.create(gate(**changes)).command

    # Creation.

    def test_a_new_command_is_queued_and_its_creation_is_on_the_timeline(
        self, commands: CommandStore
    ) -> None:
        created = commands.create(gate())
        command = created.command
        assert created.is_new
        assert command.command_id.startswith("c-")
        assert (command.state, command.created_at, command.expires_at) == ("queued", T0, at(30))
        assert (command.sent_at, command.finished_at, command.error_code) == (None, None, None)
        (event,) = commands.timeline(command.command_id)
        assert (event.from_state, event.to_state, event.cause) == (None, "queued", "created")
        assert (event.kind, event.actor, event.at) == ("transition", "u-guard1", T0)
        assert commands.get(command.command_id) == command

    def test_the_stored_command_rebuilds_the_same_contract_payload(
        self, commands: CommandStore
    ) -> None:
        command = self.queued(commands)
        payload = command.to_command()
        assert payload == OpenGateCommand(
            ts=T0,
            command_id=command.command_id,
            expires_at=at(30),
            issued_by="u-guard1",
            reason="delivery van",
            hold_open_s=5.0,
        )
        assert commands.get(command.command_id) is not None

    def test_a_refused_command_is_stored_final_with_its_reason(
        self, commands: CommandStore
    ) -> None:
        refusal = Refusal("interlock_fire_pump", "fire pump must keep running")
        created = commands.create(gate(), refusal=refusal)
        command = created.command
        assert (command.state, command.finished_at) == ("refused", T0)
        assert (command.error_code, command.error) == (refusal.error_code, refusal.error)
        (event,) = commands.timeline(command.command_id)
        assert (event.to_state, event.error_code) == ("refused", "interlock_fire_pump")
        assert commands.claim_for_dispatch(at(0), redispatch_after=ACK) == []
        assert commands.sweep(at(100), ack_timeout=ACK) == []

    @pytest.mark.parametrize(
        ("action", "parameters", "message"),
        [
            ("set_switch", {}, "on"),
            ("set_switch", {"on": False, "chanel": 1}, "no parameters"),
            ("open_gate", {"command_id": "c-other"}, "may not set"),
            ("set_switch", {"on": "false"}, "on"),
            ("launch", {}, "launch"),
        ],
    )
    def test_parameters_that_do_not_fit_the_action_are_never_stored(
        self, commands: CommandStore, action: str, parameters: dict[str, Any], message: str
    ) -> None:
        with pytest.raises(ValueError, match=message):
            commands.create(gate(action=action, parameters=parameters))
        assert commands.list_commands() == []

    def test_the_database_refuses_an_unknown_state(self, commands: CommandStore) -> None:
        row = {
            "id": "c-1",
            "community": "guangsha",
            "device": "gs-gate-n",
            "action": "ping",
            "parameters": {},
            "requested_by": "u-1",
            "request_hash": "x",
            "state": "lost",
            "state_since": T0,
            "created_at": T0,
            "expires_at": at(30),
            "updated_at": T0,
        }
        with pytest.raises(IntegrityError), commands.engine.begin() as connection:
            connection.execute(insert(CommandRow), [row])

    # Idempotency.

    def test_a_retry_with_the_same_key_and_body_gets_the_first_command(
        self, commands: CommandStore, clock: Clock
    ) -> None:
        first = commands.create(gate("k-1"))
        clock.set(3)
        again = commands.create(gate("k-1"))
        assert not again.is_new
        assert again.command == first.command
        assert len(commands.list_commands()) == 1
        assert states(commands, first.command.command_id) == ["queued"]

    def test_a_key_reused_for_another_request_is_a_conflict(self, commands: CommandStore) -> None:
        first = commands.create(gate("k-1")).command
        with pytest.raises(IdempotencyConflictError) as conflict:
            commands.create(gate("k-1", parameters={"hold_open_s": 60.0}))
        assert conflict.value.command_id == first.command_id
        with pytest.raises(IdempotencyConflictError):
            commands.create(gate("k-1", reason="another reason"))

    def test_keys_belong_to_their_user(self, commands: CommandStore) -> None:
        mine = commands.create(gate("k-1", user="u-guard1")).command
        theirs = commands.create(gate("k-1", user="u-guard2")).command
        assert mine.command_id != theirs.command_id

    def test_concurrent_retries_of_one_request_create_one_command(
        self, open_store: Callable[[], CommandStore]
    ) -> None:
        stores = [open_store() for _ in range(4)]
        barrier = threading.Barrier(len(stores))

        def post(store: CommandStore) -> str:
            barrier.wait()
            return store.create(gate("k-race")).command.command_id

        with ThreadPoolExecutor(len(stores)) as pool:
            ids = list(pool.map(post, stores))

        assert len(set(ids)) == 1
        assert len(stores[0].list_commands()) == 1
        assert len(stores[0].timeline(ids[0])) == 1

    # The lifecycle.

    def test_the_success_path_records_every_state_and_its_time(
        self, commands: CommandStore, clock: Clock
    ) -> None:
        command = self.queued(commands)
        clock.set(0.1)
        sent = commands.apply(command.command_id, "published", actor="api-1")
        clock.set(0.3)
        delivered = commands.record_result(
            "guangsha", "gs-gate-n", answer(command, "accepted"), actor="api-2"
        )
        clock.set(1.0)
        done = commands.record_result(
            "guangsha", "gs-gate-n", answer(command, "succeeded", data={"gate": "open"}, seq=2)
        )
        assert sent is not None
        assert delivered is not None
        assert done is not None
        final = done.command
        assert final.state == "succeeded"
        assert (final.sent_at, final.delivered_at, final.finished_at) == (at(0.1), at(0.3), at(1))
        assert final.result_data == {"gate": "open"}
        assert final.error_code is None
        timeline = commands.timeline(command.command_id)
        assert [(e.from_state, e.to_state, e.cause) for e in timeline] == [
            (None, "queued", "created"),
            ("queued", "sent", "published"),
            ("sent", "delivered", "accepted"),
            ("delivered", "succeeded", "succeeded"),
        ]
        assert [e.at for e in timeline] == [at(0), at(0.1), at(0.3), at(1)]
        assert [e.actor for e in timeline] == ["u-guard1", "api-1", "api-2", None]
        assert timeline[2].device_ts == T0
        progress = done.to_progress()
        assert (progress.state, progress.previous_state, progress.event_id) == (
            "succeeded",
            "delivered",
            timeline[-1].event_id,
        )
        assert (progress.sent_at, progress.finished_at, progress.ts) == (at(0.1), at(1), at(1))
        assert done.topic_params == {"community": "guangsha", "device": "gs-gate-n"}

    @pytest.mark.parametrize(("status", "code"), [("failed", "relay_stuck"), ("rejected", "busy")])
    def test_a_failure_or_rejection_fails_with_the_devices_error(
        self, commands: CommandStore, status: ResultStatus, code: str
    ) -> None:
        command = self.queued(commands)
        commands.apply(command.command_id, "published")
        change = commands.record_result("guangsha", "gs-gate-n", answer(command, status, code))
        assert change is not None
        assert (change.command.state, change.command.error_code) == ("failed", code)
        assert change.event.cause == status

    def test_answers_out_of_order_end_in_the_outcome(
        self, commands: CommandStore, clock: Clock
    ) -> None:
        command = self.queued(commands)
        clock.set(1)
        done = commands.record_result("guangsha", "gs-gate-n", answer(command, "succeeded"))
        assert done is not None
        # The answer implies the earlier steps, with the time the platform learnt of them.
        assert (done.command.sent_at, done.command.delivered_at) == (at(1), at(1))
        assert commands.record_result("guangsha", "gs-gate-n", answer(command, "accepted")) is None
        assert commands.apply(command.command_id, "published") is None
        assert states(commands, command.command_id) == ["queued", "succeeded"]

    def test_duplicates_change_nothing_and_final_is_final(self, commands: CommandStore) -> None:
        command = self.queued(commands)
        commands.record_result("guangsha", "gs-gate-n", answer(command, "accepted"))
        assert commands.record_result("guangsha", "gs-gate-n", answer(command, "accepted")) is None
        commands.record_result("guangsha", "gs-gate-n", answer(command, "failed", "jammed"))
        late: list[tuple[ResultStatus, str | None]] = [
            ("failed", "jammed"),
            ("rejected", "busy"),
            ("accepted", None),
        ]
        for status, code in late:
            result = answer(command, status, code)
            assert commands.record_result("guangsha", "gs-gate-n", result) is None
        platform: tuple[CommandInput, ...] = ("published", "ack_timeout", "deadline", "interlock")
        for event in platform:
            assert commands.apply(command.command_id, event) is None
        assert states(commands, command.command_id) == ["queued", "delivered", "failed"]

    def test_a_contradicting_late_result_is_kept_on_the_timeline_only(
        self, commands: CommandStore
    ) -> None:
        command = self.queued(commands)
        commands.apply(command.command_id, "published")
        (expired,) = commands.sweep(at(40), ack_timeout=ACK, grace=GRACE)
        assert expired.command.state == "expired"
        late = commands.record_result("guangsha", "gs-gate-n", answer(command, "succeeded"))
        assert late is not None
        assert not late.is_transition
        assert (late.event.kind, late.event.from_state, late.event.to_state) == (
            "late_result",
            "expired",
            "expired",
        )
        assert late.event.cause == "succeeded"
        stored = commands.get(command.command_id)
        assert stored is not None
        assert stored.state == "expired"
        # Recorded, but not announced: nothing changed.
        announced = {e.event_id for e in commands.undelivered_progress()}
        assert late.event.event_id not in announced
        # The device saying "expired" too agrees with the platform: nothing to record.
        agreeing = answer(command, "expired", "expired")
        assert commands.record_result("guangsha", "gs-gate-n", agreeing) is None

    def test_results_must_come_from_the_commands_device(self, commands: CommandStore) -> None:
        command = self.queued(commands)
        with pytest.raises(ResultMismatchError):
            commands.record_result("guangsha", "gs-gate-s", answer(command, "succeeded"))
        with pytest.raises(ResultMismatchError):
            commands.record_result("guanbeigou", "gs-gate-n", answer(command, "succeeded"))
        wrong_action = answer(command, "succeeded").model_copy(update={"action": "reboot"})
        with pytest.raises(ResultMismatchError):
            commands.record_result("guangsha", "gs-gate-n", wrong_action)
        unknown = answer(command, "succeeded").model_copy(update={"command_id": "c-unknown"})
        with pytest.raises(CommandNotFoundError):
            commands.record_result("guangsha", "gs-gate-n", unknown)
        assert states(commands, command.command_id) == ["queued"]

    def test_a_publish_the_broker_refuses_fails_the_command(self, commands: CommandStore) -> None:
        command = self.queued(commands)
        change = commands.apply(
            command.command_id, "publish_refused", error_code="publish_refused", error="0x87"
        )
        assert change is not None
        assert (change.command.state, change.command.error_code) == ("failed", "publish_refused")

    # The sweeper.

    def test_no_answer_times_out_and_the_deadline_expires_it(
        self, commands: CommandStore, clock: Clock
    ) -> None:
        command = self.queued(commands)
        clock.set(1)
        commands.apply(command.command_id, "published")
        assert commands.sweep(at(10.9), ack_timeout=ACK, grace=GRACE) == []
        (timeout,) = commands.sweep(at(11), ack_timeout=ACK, grace=GRACE, actor="api-1")
        assert (timeout.command.state, timeout.command.timed_out_at) == ("timeout", at(11))
        assert (timeout.event.error_code, timeout.event.actor) == ("ack_timeout", "api-1")
        assert commands.sweep(at(31.9), ack_timeout=ACK, grace=GRACE) == []  # grace
        (expired,) = commands.sweep(at(32), ack_timeout=ACK, grace=GRACE)
        assert (expired.command.state, expired.command.finished_at) == ("expired", at(32))
        assert expired.command.error_code == "expired_unanswered"
        assert commands.sweep(at(99), ack_timeout=ACK, grace=GRACE) == []
        assert states(commands, command.command_id) == ["queued", "sent", "timeout", "expired"]

    def test_an_answer_after_the_timeout_still_counts(self, commands: CommandStore) -> None:
        command = self.queued(commands)
        commands.apply(command.command_id, "published")
        commands.sweep(at(10), ack_timeout=ACK, grace=GRACE)
        late = commands.record_result("guangsha", "gs-gate-n", answer(command, "accepted"))
        assert late is not None
        assert (late.command.state, late.command.error_code) == ("delivered", None)
        commands.record_result("guangsha", "gs-gate-n", answer(command, "succeeded"))
        assert states(commands, command.command_id) == [
            "queued",
            "sent",
            "timeout",
            "delivered",
            "succeeded",
        ]

    def test_a_delivered_command_waits_for_its_outcome_from_acceptance(
        self, commands: CommandStore, clock: Clock
    ) -> None:
        command = self.queued(commands)
        commands.apply(command.command_id, "published")
        clock.set(8)
        commands.record_result("guangsha", "gs-gate-n", answer(command, "accepted"))
        assert commands.sweep(at(17), ack_timeout=ACK, grace=GRACE) == []
        (timeout,) = commands.sweep(at(18), ack_timeout=ACK, grace=GRACE)
        assert timeout.command.state == "timeout"

    @pytest.mark.parametrize(
        ("steps", "code"),
        [
            ([], "expired_unsent"),
            (["published"], "expired_unanswered"),
            (["published", "accepted"], "expired_unconfirmed"),
        ],
    )
    def test_the_expiry_says_how_far_the_command_got(
        self, commands: CommandStore, steps: list[str], code: str
    ) -> None:
        command = self.queued(commands, ttl=timedelta(seconds=5))
        for step in steps:
            if step == "published":
                commands.apply(command.command_id, "published")
            else:
                commands.record_result("guangsha", "gs-gate-n", answer(command, "accepted"))
        (expired,) = commands.sweep(at(7), ack_timeout=timedelta(minutes=1), grace=GRACE)
        assert (expired.command.state, expired.command.error_code) == ("expired", code)

    # Dispatch claims.

    def test_a_queued_command_is_claimed_again_until_it_is_sent(
        self, commands: CommandStore
    ) -> None:
        waiting = commands.create(gate(), dispatch_now=False).command
        assert waiting.dispatch_attempts == 0
        published = commands.create(gate(), redispatch_after=timedelta(seconds=5)).command
        (claimed,) = commands.claim_for_dispatch(at(0), redispatch_after=ACK)
        assert (claimed.command_id, claimed.dispatch_attempts) == (waiting.command_id, 1)
        assert commands.claim_for_dispatch(at(1), redispatch_after=ACK) == []
        # The immediate publish of the other was never acknowledged: it is due again at 5 s.
        (again,) = commands.claim_for_dispatch(at(5), redispatch_after=ACK)
        assert (again.command_id, again.dispatch_attempts) == (published.command_id, 2)
        commands.apply(waiting.command_id, "published")
        assert commands.claim_for_dispatch(at(15), redispatch_after=ACK) == [
            commands.get(published.command_id)
        ]
        assert commands.claim_for_dispatch(at(40), redispatch_after=ACK) == []  # expired

    def test_replicas_claim_each_command_once(self, open_store: Callable[[], CommandStore]) -> None:
        stores = [open_store(), open_store()]
        created = {
            stores[0].create(gate(), dispatch_now=False).command.command_id for _ in range(40)
        }
        barrier = threading.Barrier(2)

        def claim(store: CommandStore) -> list[str]:
            barrier.wait()
            found: list[str] = []
            while batch := store.claim_for_dispatch(at(1), redispatch_after=ACK, limit=3):
                found.extend(c.command_id for c in batch)
            return found

        with ThreadPoolExecutor(2) as pool:
            first, second = pool.map(claim, stores)

        assert sorted(first + second) == sorted(created)

    # Replicas applying answers at once.

    def test_answers_applied_by_two_replicas_in_any_order_end_the_same(
        self, open_store: Callable[[], CommandStore]
    ) -> None:
        stores = [open_store(), open_store()]
        made = [stores[0].create(gate()).command for _ in range(15)]
        rng = random.Random(3)
        inputs: list[list[tuple[CommandView, str]]] = [[], []]
        for command in made:
            steps = ["published", "accepted", "succeeded", "succeeded"]
            for step in rng.sample(steps, len(steps)):
                inputs[rng.randrange(2)].append((command, step))
        barrier = threading.Barrier(2)

        def work(i: int) -> None:
            barrier.wait()
            for command, step in inputs[i]:
                if step == "published":
                    stores[i].apply(command.command_id, "published")
                else:
                    status: ResultStatus = "accepted" if step == "accepted" else "succeeded"
                    stores[i].record_result("guangsha", "gs-gate-n", answer(command, status))

        with ThreadPoolExecutor(2) as pool:
            list(pool.map(work, range(2)))

        for command in made:
            stored = stores[1].get(command.command_id)
            assert stored is not None
            assert stored.state == "succeeded"
            timeline = stores[1].timeline(command.command_id)
            assert [e.to_state for e in timeline].count("succeeded") == 1
            assert all(e.kind == "transition" for e in timeline)

    # The progress outbox.

    def test_every_transition_waits_in_the_outbox_until_published(
        self, commands: CommandStore, clock: Clock
    ) -> None:
        command = self.queued(commands)
        clock.set(1)
        commands.apply(command.command_id, "published")
        pending = commands.undelivered_progress()
        assert [p.payload.state for p in pending] == ["queued", "sent"]
        assert pending[0].topic_params == {"community": "guangsha", "device": "gs-gate-n"}
        assert COMMAND_PROGRESS.decode(COMMAND_PROGRESS.encode(pending[1].payload)).ts == at(1)
        assert [p.payload.state for p in commands.undelivered_progress(at(0.5))] == ["queued"]
        commands.mark_progress_published([pending[0].event_id])
        assert [p.event_id for p in commands.undelivered_progress()] == [pending[1].event_id]

    # Queries.

    def test_commands_are_listed_newest_first_by_community_device_and_state(
        self, commands: CommandStore, clock: Clock
    ) -> None:
        north = self.queued(commands)
        clock.set(1)
        south = self.queued(commands, device="gs-gate-s")
        clock.set(2)
        other = self.queued(commands, community="guanbeigou")
        commands.apply(south.command_id, "published")

        def ids(views: list[CommandView]) -> list[str]:
            return [v.command_id for v in views]

        assert ids(commands.list_commands()) == [
            other.command_id,
            south.command_id,
            north.command_id,
        ]
        assert ids(commands.list_commands(community="guangsha")) == [
            south.command_id,
            north.command_id,
        ]
        assert ids(commands.list_commands(community="guangsha", device="gs-gate-n")) == [
            north.command_id
        ]
        assert ids(commands.list_commands(state="sent")) == [south.command_id]
        assert ids(commands.list_commands(state=["queued", "sent"], limit=1)) == [other.command_id]
        assert ids(commands.list_commands(limit=1, offset=2)) == [north.command_id]
        with pytest.raises(ValueError, match="limit"):
            commands.list_commands(limit=0)
