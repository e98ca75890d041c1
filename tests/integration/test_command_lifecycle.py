"""Remote commands end to end: the API's dispatcher, a real Mosquitto, a device process, and the
state database (SQLite and PostgreSQL).

The sweeper runs only when a test calls ``tick(now)``, with a ``now`` the test chooses: the
acknowledgement timeout passes without waiting for it. Only the broker's message expiry needs
real time to pass (about two seconds, in one test). Absence is proven with a sentinel: a later
command to the same device arrives, so an earlier one that was dropped would have arrived first.
"""

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from pydantic import SecretStr

from hgj_api.commands import (
    BrokerEndpoint,
    CommandConfig,
    CommandRequest,
    CommandRuntime,
    InterlockConfig,
    ProtectedDevice,
)
from hgj_contracts import (
    COMMAND,
    COMMAND_PROGRESS,
    DEVICE_STATE,
    CommandProgress,
    CommandState,
    utc_now,
)
from hgj_devstack.accounts import (
    MqttAccount,
    admin_account,
    api_account,
    device_account,
    service_account,
)
from hgj_devstack.mosquitto import Mosquitto
from hgj_statedb.alert_store import AlertStore
from hgj_statedb.command_store import CommandStore, IdempotencyConflictError
from hgj_statedb.command_views import CommandChange, CommandView, NewCommand
from tests.command_device import CommandDevice
from tests.helpers import MosquittoFactory, MqttTestClient, wait_until
from tests.statedb_fixtures import signal

pytestmark = pytest.mark.integration

COMMUNITY = "guangsha"
GATE = "gs-gate-n"
FIRE_GATE = "gs-gate-fire"
DEVICES = (GATE, FIRE_GATE)
INSTANCE = "api-1"
ACK_TIMEOUT_S = 0.5
GRACE_S = 0.3


@dataclass
class Stack:
    broker: Mosquitto
    root: str
    runtime: CommandRuntime
    store: CommandStore
    alerts: AlertStore
    observer: MqttTestClient
    accounts: dict[str, MqttAccount]
    audited: list[CommandChange] = field(default_factory=list)
    devices: list[CommandDevice] = field(default_factory=list)

    def device(self, device: str = GATE, **options: Any) -> CommandDevice:
        connected = CommandDevice(
            self.broker,
            self.accounts[device],
            root=self.root,
            community=COMMUNITY,
            device=device,
            **options,
        ).connect()
        self.devices.append(connected)
        return connected

    def submit(
        self,
        action: str,
        device: str = GATE,
        *,
        key: str | None = None,
        user: str = "u-guard1",
        **request: Any,
    ) -> CommandView:
        return self.runtime.service.submit(
            COMMUNITY,
            CommandRequest(device=device, action=action, **request),
            requested_by=user,
            idempotency_key=key,
        )

    def wait_state(self, command_id: str, state: CommandState, timeout: float = 10) -> CommandView:
        def reached() -> bool:
            found = self.store.get(command_id)
            return found is not None and found.state == state

        wait_until(reached, timeout, message=f"{command_id} {state}")
        found = self.store.get(command_id)
        assert found is not None
        return found

    def states(self, command_id: str) -> list[CommandState]:
        return [e.to_state for e in self.store.timeline(command_id) if e.kind == "transition"]

    def progress(self, command_id: str, count: int) -> list[CommandProgress]:
        """The announcements of ``command_id`` on the progress channel, once ``count`` came."""

        def announced() -> list[CommandProgress]:
            decoded = [
                COMMAND_PROGRESS.decode(m.payload, COMMAND_PROGRESS.match(m.topic.split("/")))
                for m in self.observer.messages
            ]
            return sorted(
                (p for p in decoded if p.command_id == command_id), key=lambda p: p.event_id
            )

        wait_until(lambda: len(announced()) >= count, message=f"{count} announcements")
        return announced()

    def sweep_at(self, at: Any) -> list[CommandChange]:
        return self.runtime.sweeper.tick(at)


class CommandLifecycleCases:
    @pytest.fixture
    def stack(
        self, mosquitto_factory: MosquittoFactory, topic_root: str, state_db_url: str
    ) -> Iterator[Stack]:
        accounts = {d: device_account(topic_root, COMMUNITY, d) for d in DEVICES}
        api = api_account(topic_root, INSTANCE)
        admin = admin_account(topic_root)
        broker = mosquitto_factory([api, admin, *accounts.values()])
        config = CommandConfig(
            root=topic_root,
            instance=INSTANCE,
            ack_timeout_s=ACK_TIMEOUT_S,
            result_grace_s=GRACE_S,
            sweep_interval_s=None,
            interlocks=InterlockConfig(
                protected=(
                    ProtectedDevice(community=COMMUNITY, device=FIRE_GATE, role="fire_lane_gate"),
                )
            ),
        )
        store = CommandStore.open(state_db_url)
        alerts = AlertStore.open(state_db_url, run_migrations=False)
        observer = MqttTestClient.connected(broker, admin)
        observer.subscribe(COMMAND_PROGRESS.subscription(root=topic_root))
        audited: list[CommandChange] = []
        endpoint = BrokerEndpoint(broker.host, broker.port, password=SecretStr(api.password))
        runtime = CommandRuntime(config, endpoint, store, alerts, audit=audited.append)
        stack = Stack(broker, topic_root, runtime, store, alerts, observer, accounts, audited)
        stack.accounts["admin"] = admin
        runtime.start(ready_timeout=10)
        try:
            yield stack
        finally:
            runtime.stop()
            for device in stack.devices:
                device.disconnect()
            observer.close()
            alerts.close()
            store.close()

    def test_success_walks_every_state_with_its_time(self, stack: Stack) -> None:
        device = stack.device()
        command = stack.submit("open_gate", parameters={"hold_open_s": 5.0}, reason="van")

        done = stack.wait_state(command.command_id, "succeeded")

        assert stack.states(command.command_id) == ["queued", "sent", "delivered", "succeeded"]
        assert done.created_at < done.sent_at <= done.delivered_at <= done.finished_at  # type: ignore[operator]
        assert done.finished_at < done.expires_at  # type: ignore[operator]
        assert (done.error_code, done.requested_by, done.reason) == (None, "u-guard1", "van")
        assert device.executed_ids() == [command.command_id]
        # The broker was told to drop it by expires_at (whole seconds, less a second of slack).
        assert device.expiry_intervals[command.command_id] in (28, 29)
        # Every transition was announced, in order, and audited.
        timeline = stack.store.timeline(command.command_id)
        announced = stack.progress(command.command_id, 4)
        assert [p.state for p in announced] == ["queued", "sent", "delivered", "succeeded"]
        assert [p.event_id for p in announced] == [e.event_id for e in timeline]
        assert announced[-1].finished_at == done.finished_at
        assert [c.event.to_state for c in stack.audited] == [
            "queued",
            "sent",
            "delivered",
            "succeeded",
        ]
        wait_until(lambda: stack.store.undelivered_progress() == [], message="outbox empty")
        # The device reports its new state, retained, naming the command.
        with MqttTestClient.connected(stack.broker, stack.accounts["admin"]) as reader:
            reader.subscribe(DEVICE_STATE.topic(root=stack.root, community=COMMUNITY, device=GATE))
            (retained,) = reader.wait_for_messages(1)
        state = DEVICE_STATE.decode(retained.payload)
        assert retained.retain
        assert (state.state, state.command_id) == ({"gate": "open"}, command.command_id)

    def test_a_device_failure_fails_the_command_with_its_error(self, stack: Stack) -> None:
        stack.device(fail={"set_switch": "relay_stuck"})
        command = stack.submit("set_switch", parameters={"on": True})

        failed = stack.wait_state(command.command_id, "failed")

        assert (failed.error_code, failed.error) == ("relay_stuck", "told to fail")
        assert stack.states(command.command_id) == ["queued", "sent", "delivered", "failed"]
        last = stack.progress(command.command_id, 4)[-1]
        assert (last.state, last.error_code) == ("failed", "relay_stuck")

    def test_answers_overtaking_each_other_end_in_the_outcome(self, stack: Stack) -> None:
        device = stack.device(final_first=True)
        command = stack.submit("ping")
        stack.wait_state(command.command_id, "succeeded")
        device.wait_for_answers(command.command_id, 2)
        sentinel = stack.submit("ping")
        stack.wait_state(sentinel.command_id, "succeeded")  # the late "accepted" was applied

        assert stack.states(command.command_id) == ["queued", "sent", "succeeded"]
        done = stack.store.get(command.command_id)
        assert done is not None
        assert done.delivered_at == done.finished_at

    def test_an_offline_device_times_out_expires_and_never_runs_it_late(self, stack: Stack) -> None:
        device = stack.device()
        device.disconnect()  # offline, its session (and subscription) kept by the broker
        gate = stack.submit("open_gate", ttl_s=3.0)  # the broker keeps it 1-2 s: interval 1
        ping = stack.submit("ping", ttl_s=30.0)  # still valid when the device is back
        sent = [stack.wait_state(c.command_id, "sent") for c in (gate, ping)]  # broker has them
        last_sent = max(c.sent_at for c in sent if c.sent_at is not None)

        timeouts = stack.sweep_at(last_sent + timedelta(seconds=ACK_TIMEOUT_S + 0.01))
        assert [(c.command.command_id, c.command.state) for c in timeouts] == [
            (gate.command_id, "timeout"),
            (ping.command_id, "timeout"),
        ]
        assert {c.event.error_code for c in timeouts} == {"ack_timeout"}
        # The broker's expiry runs on real time: wait for the deadline itself.
        wait_until(lambda: utc_now() > gate.expires_at, timeout=5, message="expires_at")
        (expired,) = stack.sweep_at(gate.expires_at + timedelta(seconds=GRACE_S + 0.01))
        assert (expired.command.command_id, expired.command.state) == (gate.command_id, "expired")
        assert expired.command.error_code == "expired_unanswered"

        device.connect()  # back, past the gate's deadline but not the ping's
        stack.wait_state(ping.command_id, "succeeded")
        # Queued before the ping, the gate would have arrived first: the broker dropped it.
        assert device.received_ids() == [ping.command_id]
        assert device.executed_ids() == [ping.command_id]
        assert stack.states(ping.command_id) == [
            "queued",
            "sent",
            "timeout",
            "delivered",
            "succeeded",
        ]

        # Should a copy arrive anyway (a bridge without MQTT 5 expiry, a replay), the device
        # refuses it on its own.
        with MqttTestClient.connected(stack.broker, stack.accounts["admin"]) as replay:
            replay.publish(
                COMMAND.topic(root=stack.root, **gate.command_topic_params),
                COMMAND.encode(gate.to_command()),
            )
        (answer,) = device.wait_for_answers(gate.command_id, 1)
        assert (answer.status, answer.error_code) == ("expired", "expired")
        assert gate.command_id not in device.executed_ids()
        stack.wait_state(stack.submit("ping").command_id, "succeeded")  # answer processed
        assert stack.states(gate.command_id) == ["queued", "sent", "timeout", "expired"]
        assert [e.kind for e in stack.store.timeline(gate.command_id)] == ["transition"] * 4
        announced = stack.progress(gate.command_id, 4)
        assert [p.state for p in announced] == ["queued", "sent", "timeout", "expired"]

    def test_a_command_delivered_twice_is_carried_out_once(self, stack: Stack) -> None:
        device = stack.device()
        command = stack.submit("open_gate")
        done = stack.wait_state(command.command_id, "succeeded")

        stack.runtime.dispatcher.dispatch(done)  # a second replica's re-dispatch
        with MqttTestClient.connected(stack.broker, stack.accounts["admin"]) as replay:
            replay.publish(  # a plain duplicate of the very same message
                COMMAND.topic(root=stack.root, **command.command_topic_params),
                COMMAND.encode(command.to_command()),
            )
        answers = device.wait_for_answers(command.command_id, 4)
        stack.wait_state(stack.submit("ping").command_id, "succeeded")  # answers processed

        assert [a.status for a in answers] == ["accepted", "succeeded", "succeeded", "succeeded"]
        assert device.received_ids().count(command.command_id) == 3
        assert device.executed_ids().count(command.command_id) == 1
        assert stack.states(command.command_id) == ["queued", "sent", "delivered", "succeeded"]
        assert [e.kind for e in stack.store.timeline(command.command_id)] == ["transition"] * 4

    def test_posting_again_with_the_same_key_is_idempotent(self, stack: Stack) -> None:
        device = stack.device()
        first = stack.submit("open_gate", key="k-gate-1", parameters={"hold_open_s": 5.0})
        again = stack.submit("open_gate", key="k-gate-1", parameters={"hold_open_s": 5.0})
        assert again.command_id == first.command_id
        stack.wait_state(first.command_id, "succeeded")
        retry = stack.submit("open_gate", key="k-gate-1", parameters={"hold_open_s": 5.0})
        assert (retry.command_id, retry.state) == (first.command_id, "succeeded")

        with pytest.raises(IdempotencyConflictError):
            stack.submit("open_gate", key="k-gate-1", parameters={"hold_open_s": 60.0})
        other_user = stack.submit("open_gate", key="k-gate-1", user="u-guard2")
        stack.wait_state(other_user.command_id, "succeeded")

        assert device.executed_ids() == [first.command_id, other_user.command_id]
        created = [c for c in stack.audited if c.event.cause == "created"]
        assert [c.command.command_id for c in created] == [
            first.command_id,
            other_user.command_id,
        ]

    def test_an_interlock_refuses_closing_the_fire_lane_during_a_fire(self, stack: Stack) -> None:
        fire_gate = stack.device(FIRE_GATE)
        smoke = stack.alerts.apply(signal("raise", 0, community=COMMUNITY, device="gs-b01-smoke"))
        assert smoke is not None

        refused = stack.submit("set_switch", FIRE_GATE, parameters={"on": False}, reason="test")

        assert refused.state == "refused"
        assert refused.error_code == "interlock_fire_lane_gate"
        assert smoke.alert.alert_id in (refused.error or "")
        assert stack.states(refused.command_id) == ["refused"]
        (announced,) = stack.progress(refused.command_id, 1)
        assert (announced.state, announced.error_code) == ("refused", refused.error_code)
        assert [c.event.to_state for c in stack.audited] == ["refused"]
        # Opening the fire lane is what a fire needs: allowed, and it reaches the gate.
        opened = stack.submit("open_gate", FIRE_GATE)
        stack.wait_state(opened.command_id, "succeeded")
        assert fire_gate.received_ids() == [opened.command_id]  # the refused one never went
        # Once the alarm is over, the same request goes through.
        stack.alerts.apply(signal("clear", 1, community=COMMUNITY, device="gs-b01-smoke"))
        closed = stack.submit("set_switch", FIRE_GATE, parameters={"on": False}, reason="test")
        stack.wait_state(closed.command_id, "succeeded")

    def test_the_interlock_is_checked_again_before_a_queued_command_goes_out(
        self, stack: Stack
    ) -> None:
        fire_gate = stack.device(FIRE_GATE)
        queued = stack.store.create(
            NewCommand(
                community=COMMUNITY,
                device=FIRE_GATE,
                action="set_switch",
                parameters={"on": False},
                requested_by="u-guard1",
                ttl=timedelta(seconds=30),
            ),
            dispatch_now=False,  # queued while no dispatcher could send it
        ).command
        stack.alerts.apply(signal("raise", 0, community=COMMUNITY, device="gs-b01-smoke"))

        stack.sweep_at(utc_now())  # a dispatcher claims it, checks, refuses

        refused = stack.store.get(queued.command_id)
        assert refused is not None
        assert (refused.state, refused.error_code) == ("refused", "interlock_fire_lane_gate")
        assert stack.states(queued.command_id) == ["queued", "refused"]
        opened = stack.submit("open_gate", FIRE_GATE)
        stack.wait_state(opened.command_id, "succeeded")
        assert fire_gate.received_ids() == [opened.command_id]

    def test_the_sweeper_sends_what_was_never_sent_and_announces_what_was_never_announced(
        self, stack: Stack
    ) -> None:
        device = stack.device()
        # Stored by a replica that died before publishing anything (or had no broker).
        orphan = stack.store.create(
            NewCommand(
                community=COMMUNITY,
                device=GATE,
                action="ping",
                parameters={},
                requested_by="u-guard1",
                ttl=timedelta(seconds=30),
            ),
            dispatch_now=False,
        ).command

        stack.sweep_at(utc_now() + timedelta(seconds=5.1))  # past progress_retry_after

        stack.wait_state(orphan.command_id, "succeeded")
        assert device.executed_ids() == [orphan.command_id]
        assert [p.state for p in stack.progress(orphan.command_id, 4)] == [
            "queued",
            "sent",
            "delivered",
            "succeeded",
        ]
        wait_until(lambda: stack.store.undelivered_progress() == [], message="outbox empty")
        done = stack.store.get(orphan.command_id)
        assert done is not None
        assert done.dispatch_attempts == 1

    def test_a_command_the_broker_refuses_fails(
        self, stack: Stack, mosquitto_factory: MosquittoFactory
    ) -> None:
        # A replica whose broker account lacks the command topic (a plain service account).
        weak = service_account(stack.root, "api-weak")
        broker = mosquitto_factory([weak])
        config = stack.runtime.config.model_copy(update={"instance": "api-weak"})
        endpoint = BrokerEndpoint(broker.host, broker.port, password=SecretStr(weak.password))
        runtime = CommandRuntime(config, endpoint, stack.store, stack.alerts).start(
            ready_timeout=10
        )
        try:
            command = runtime.service.submit(
                COMMUNITY, CommandRequest(device=GATE, action="ping"), requested_by="u-guard1"
            )
            failed = stack.wait_state(command.command_id, "failed")
        finally:
            runtime.stop()
        assert failed.error_code == "publish_refused"
        assert "authori" in (failed.error or "").lower()


class TestCommandLifecycleOnSqlite(CommandLifecycleCases):
    @pytest.fixture
    def state_db_url(self, sqlite_state_db_url: str) -> str:
        return sqlite_state_db_url


class TestCommandLifecycleOnPostgres(CommandLifecycleCases):
    @pytest.fixture
    def state_db_url(self, postgres_state_db_url: str) -> str:
        return postgres_state_db_url
