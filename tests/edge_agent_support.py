"""Fakes for the edge agent's unit tests: a sink that records what the agent would publish,
decoded through the contract so tests assert on payloads, not bytes."""

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from hgj_contracts import CommandResult, DeviceState, match_topic
from hgj_contracts.events import GatePassageEvent
from hgj_edge.agent.sender import DeviceSender

IDS = {"root": "hgj", "community": "guangsha", "device": "gs-gate-north"}
NOW = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)


@dataclass
class RecordingSink:
    sent: list[tuple[str, Any]] = field(default_factory=list)

    def put(self, topic: str, payload: bytes) -> int | None:
        match = match_topic(topic)
        self.sent.append((match.channel.name, match.channel.decode(payload, match.params)))
        return len(self.sent)

    def of(self, channel: str) -> list[Any]:
        return [payload for name, payload in self.sent if name == channel]

    def results(self) -> list[tuple[str, str, str | None]]:
        return [
            (r.command_id, r.status, r.error_code)
            for r in self.of("command_result")
            if isinstance(r, CommandResult)
        ]

    def states(self) -> list[DeviceState]:
        return [s for s in self.of("device_state") if isinstance(s, DeviceState)]

    def passages(self) -> list[GatePassageEvent]:
        return [e for e in self.of("event") if isinstance(e, GatePassageEvent)]


def sender(sink: RecordingSink) -> DeviceSender:
    return DeviceSender(sink, root=IDS["root"], community=IDS["community"], device=IDS["device"])


def command(action: str, command_id: str, *, expires_in_s: float = 60, **fields: Any) -> bytes:
    """A command payload as the API sends it, issued at NOW."""
    import json

    body = {
        "v": 1,
        "ts": (NOW - timedelta(seconds=1)).isoformat(),
        "action": action,
        "command_id": command_id,
        "expires_at": (NOW + timedelta(seconds=expires_in_s)).isoformat(),
        **fields,
    }
    return json.dumps(body).encode()
