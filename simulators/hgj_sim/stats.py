"""Counters of a simulator run, read by the CLI's status line and by tests."""

from dataclasses import dataclass


@dataclass(slots=True)
class SimStats:
    """Running totals over every device of a run; only the event loop's thread mutates them."""

    devices: int = 0
    """Devices started."""
    connected: int = 0
    """Devices with a live MQTT session now."""
    sent: int = 0
    """Telemetry messages acknowledged by the broker (PUBACK)."""
    events: int = 0
    """Event messages acknowledged by the broker."""
    answers: int = 0
    """Command results and state updates acknowledged by the broker."""
    commands: int = 0
    """Commands received."""
    skipped: int = 0
    """Readings not taken because the device was offline or too far behind."""
    failed: int = 0
    """Telemetry publishes that failed; each is sent again after the device reconnects."""
    refused: int = 0
    """Publishes the broker answered with a failure code (MQTT 5), e.g. denied by its ACL."""
    connects: int = 0
    """Successful connections, reconnections included."""
    connect_failures: int = 0
    """Connection attempts refused or timed out (broker down, wrong password)."""
    lost: int = 0
    """Sessions that ended without the device deciding to end them."""
    finished: int = 0
    """Devices that have stopped for good (count reached or stop requested)."""

    @property
    def errors(self) -> int:
        return self.failed + self.refused + self.connect_failures

    def count(self, channel: str) -> None:
        """One acknowledged publish on this contract channel."""
        if channel == "telemetry":
            self.sent += 1
        elif channel == "event":
            self.events += 1
        elif channel in ("command_result", "device_state"):
            self.answers += 1
