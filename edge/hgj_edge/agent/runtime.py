"""One running agent: its outbox, its single MQTT session, its presence, its commands.

Presence follows the contract's numbering: before each CONNECT the agent reserves a status
number for its online message and the next one for the last will sent in that CONNECT, so a
will always ranks just after the online status of its own connection. Every message, the
online and shutdown statuses included, goes through the outbox; only the will is the broker's.
"""

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from pydantic import SecretStr

from hgj_contracts import COMMAND, DEVICE_STATUS, Reading, utc_now
from hgj_contracts.commands import OpenGateCommand, SetSwitchCommand
from hgj_edge.agent.command_log import CommandLog
from hgj_edge.agent.commands import ActionHandler, CommandHandler
from hgj_edge.agent.config import AgentConfig
from hgj_edge.agent.drivers import Driver, GateDriver, State, SwitchDriver, build_driver
from hgj_edge.agent.gate import GateAgent
from hgj_edge.agent.sender import DeviceSender, ResultData
from hgj_edge.outbox import Outbox
from hgj_edge.publisher import OutboxPublisher
from hgj_edge.settings import PublisherSettings

log = logging.getLogger(__name__)

SHUTDOWN_FLUSH_S = 5.0
"""How long a clean shutdown waits for the broker to take the offline status (and the rest)."""


def publisher_settings(config: AgentConfig, password: SecretStr | None) -> PublisherSettings:
    broker = config.broker
    return PublisherSettings(
        host=broker.host,
        port=broker.port,
        client_id=config.client_id or config.device,
        username=broker.username,
        password=password,
        tls=broker.tls,
        keepalive_s=broker.keepalive_s,
        session_expiry_s=broker.session_expiry_s,
        inflight_window=config.inflight_window,
        reconnect_min_s=1,
        reconnect_max_s=broker.reconnect_max_s,
    )


class Agent:
    def __init__(self, config: AgentConfig, *, now: Callable[[], datetime] = utc_now) -> None:
        self.config = config
        self._started_at = time.monotonic()
        self._stop = threading.Event()
        password = config.broker.resolved_password()  # before any file is opened
        o = config.outbox
        self.outbox = Outbox(
            o.path,
            max_messages=o.max_messages,
            max_bytes=o.max_bytes,
            replay_window_s=o.replay_window_s,
            synchronous=o.synchronous,
        )
        self.publisher = OutboxPublisher(self.outbox, publisher_settings(config, password))
        self.sender = DeviceSender(
            self.publisher,
            root=config.root,
            community=config.community,
            device=config.device,
            describe=self._describe,
        )
        self.drivers: list[Driver] = [build_driver(d) for d in config.drivers]
        self.gate: GateAgent | None = None
        if config.gate is not None:
            driver = self._gate_driver()
            if driver is None:  # the config's validator requires one
                raise ValueError("a gate section needs a gate driver")
            self.gate = GateAgent(
                config.gate,
                driver,
                self.sender,
                now=now,
                opened=lambda: self.sender.state(self._state(), None, now()),
            )
        # The seen-commands table lives in the outbox's file: one file per agent to back up.
        self.command_log = CommandLog(o.path)
        self.commands = CommandHandler(
            self.sender, self.command_log, self._dispatch_table(), self._state, now=now
        )
        ids = self.sender.ids
        self.publisher.subscribe(COMMAND.subscription(**ids), COMMAND.qos, self.commands.on_message)
        self.publisher.on_link_up(self._link_up)
        self._online_seq = 0

    # Life cycle -----------------------------------------------------------------------------

    def start(self) -> None:
        self._reserve_presence()
        self.publisher.start()

    def run(self) -> None:
        """Publish health telemetry until ``stop``; then shut down cleanly."""
        interval = self.config.telemetry_interval_s
        try:
            while not self._stop.wait(interval if interval is not None else 3600):
                if interval is not None:
                    self.publish_health()
        finally:
            self.shutdown()

    def stop(self) -> None:
        """Ask ``run`` to end (signal handlers call this)."""
        self._stop.set()

    def shutdown(self) -> None:
        """Offline/shutdown status through the outbox, wait briefly for it, disconnect (which
        suppresses the will: the broker keeps our own, more precise status)."""
        self.sender.status("offline", "shutdown")
        if not self.publisher.flush(SHUTDOWN_FLUSH_S):
            log.warning("shutdown: the broker did not take everything; the rest stays queued")
        self.publisher.close()
        self.command_log.close()
        self.outbox.close()

    def publish_health(self) -> None:
        uptime = time.monotonic() - self._started_at
        self.sender.telemetry(
            {
                "uptime": Reading(value=round(uptime, 3), unit="s"),
                "outbox_depth": Reading(value=float(self.outbox.unacked_count()), unit="1"),
            }
        )

    # Presence -------------------------------------------------------------------------------

    def _reserve_presence(self) -> None:
        self._online_seq = self.sender.next_seq(DEVICE_STATUS)
        self.publisher.set_will(self.sender.will(self.sender.next_seq(DEVICE_STATUS)))

    def _link_up(self, first: bool) -> None:
        # On paho's thread, right after CONNACK: announce this connection with the number
        # reserved for it, then reserve the next pair for the next CONNECT's will.
        self.sender.status("online", "startup" if first else "reconnect", self._online_seq)
        self._reserve_presence()

    def _describe(self) -> dict[str, Any]:
        interval = self.config.telemetry_interval_s
        return {
            "device_type": self.config.device_type,
            "firmware": self.config.firmware,
            "report_interval_s": interval,
        }

    # Commands -------------------------------------------------------------------------------

    def _dispatch_table(self) -> dict[str, ActionHandler]:
        table: dict[str, ActionHandler] = {"ping": lambda _command: None}
        if self.gate is not None:
            gate = self.gate

            def open_gate(command: object) -> ResultData:
                assert isinstance(command, OpenGateCommand)
                return gate.open_remote(command)

            table["open_gate"] = open_gate
        elif (relay := self._gate_driver()) is not None:
            # A gate driver without access control (a barrier opened only remotely).

            def open_relay(command: object) -> ResultData:
                assert isinstance(command, OpenGateCommand)
                relay.open(command.hold_open_s)
                return {"hold_open_s": command.hold_open_s}

            table["open_gate"] = open_relay
        switch = self._switch_driver()
        if switch is not None:

            def set_switch(command: object) -> None:
                assert isinstance(command, SetSwitchCommand)
                switch.set_switch(command.channel, command.on)

            table["set_switch"] = set_switch
        return table

    def _state(self) -> State:
        state: State = {}
        for driver in self.drivers:
            state.update(driver.state())
        return state

    def _gate_driver(self) -> GateDriver | None:
        return next((d for d in self.drivers if isinstance(d, GateDriver)), None)

    def _switch_driver(self) -> SwitchDriver | None:
        return next((d for d in self.drivers if isinstance(d, SwitchDriver)), None)
