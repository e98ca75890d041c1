"""The driver interface: how an agent moves real hardware, and the simulated drivers that ship.

A driver does the physical part only (pulse the gate relay, switch a load) and reports its
state; deciding whether to act (expiry, duplicates, credentials) is the agent's job, so every
driver gets the same protections. Failures are ``DriverError`` with a contract error code.
"""

import threading
from typing import Protocol, runtime_checkable

from hgj_edge.agent.config import DriverConfig, SimulatedGateConfig, SimulatedSwitchConfig
from hgj_edge.agent.sender import StateValue

State = dict[str, StateValue]


class DriverError(Exception):
    """The hardware did not do what it was told; ``code`` goes into the failed result."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@runtime_checkable
class Driver(Protocol):
    def state(self) -> State:
        """The current actuator state, as the retained DeviceState reports it."""
        ...


@runtime_checkable
class GateDriver(Driver, Protocol):
    def open(self, hold_open_s: float) -> None:
        """Release the gate for ``hold_open_s``; DriverError when it did not move."""
        ...


@runtime_checkable
class SwitchDriver(Driver, Protocol):
    channels: int

    def set_switch(self, channel: int, on: bool) -> None: ...


class SimulatedGate:
    """A gate relay that records its openings. The automatic close after the hold time is not
    modelled (a real controller closes by itself): the state says the gate has been opened and
    how often, which is what the platform tracks."""

    def __init__(self, fail_with: str | None = None) -> None:
        self._fail_with = fail_with
        self._lock = threading.Lock()
        self.openings: list[float] = []

    def open(self, hold_open_s: float) -> None:
        if self._fail_with is not None:
            raise DriverError(self._fail_with, "the barrier did not move")
        with self._lock:
            self.openings.append(hold_open_s)

    def state(self) -> State:
        with self._lock:
            return {"gate": "open" if self.openings else "closed", "openings": len(self.openings)}


class SimulatedSwitch:
    """Relays of a street light or pump controller."""

    def __init__(self, channels: int = 1, fail_with: str | None = None) -> None:
        self.channels = channels
        self._fail_with = fail_with
        self._lock = threading.Lock()
        self._on = [False] * channels

    def set_switch(self, channel: int, on: bool) -> None:
        if not 0 <= channel < self.channels:
            raise DriverError("no_such_channel", f"channel {channel}: {self.channels} fitted")
        if self._fail_with is not None:
            raise DriverError(self._fail_with, "the relay did not switch")
        with self._lock:
            self._on[channel] = on

    def state(self) -> State:
        with self._lock:
            return {f"switch_{i}": on for i, on in enumerate(self._on)}


def build_driver(config: DriverConfig) -> Driver:
    if isinstance(config, SimulatedGateConfig):
        return SimulatedGate(config.fail_with)
    if isinstance(config, SimulatedSwitchConfig):
        return SimulatedSwitch(config.channels, config.fail_with)
    raise AssertionError(f"no driver for {config!r}")  # pragma: no cover - the union is closed
