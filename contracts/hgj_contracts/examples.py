"""One canonical example payload per channel variant, for the generated docs and for tests."""

from datetime import UTC, datetime, timedelta

from pydantic import BaseModel

from hgj_contracts import commands as cmd
from hgj_contracts import events as ev
from hgj_contracts.alerts import Alert
from hgj_contracts.service import DeadLetter, ServiceStatus
from hgj_contracts.status import DeviceStatus
from hgj_contracts.telemetry import Reading, Telemetry

T0 = datetime(2026, 11, 27, 2, 14, 5, 120000, tzinfo=UTC)
_EXPIRES = T0 + timedelta(seconds=30)

EXAMPLE_PARAMS = {
    "root": "hgj",
    "community": "guangsha",
    "device": "gs-b03-u2-smoke-f05",
    "service": "ingest",
}

EXAMPLES: dict[str, list[BaseModel]] = {
    "device_status": [
        DeviceStatus(
            ts=T0,
            seq=1,
            state="online",
            reason="startup",
            device_type="smoke_detector",
            firmware="1.4.2",
            report_interval_s=60.0,
        ),
        DeviceStatus(ts=T0, seq=1, state="offline", reason="connection_lost"),
    ],
    "telemetry": [
        Telemetry(
            ts=T0,
            seq=42,
            metrics={
                "temperature": Reading(value=21.5, unit="Cel"),
                "humidity": Reading(value=38.0, unit="%RH"),
                "battery": Reading(value=87.0, unit="%"),
            },
        )
    ],
    "event": [
        ev.SmokeEvent(ts=T0, seq=43, active=True, smoke_density=4.2, location="5F corridor"),
        ev.WaterLeakEvent(ts=T0, seq=44, active=True, water_level=3.5, location="B1 pump room"),
        ev.DoorForcedEvent(ts=T0, seq=45, door="unit-2-main"),
        ev.DoorHeldOpenEvent(ts=T0, seq=46, active=True, door="unit-2-main", open_s=120.0),
        ev.EbikeInElevatorEvent(
            ts=T0, seq=47, active=True, confidence=0.91, snapshot_ref="snap/2026/11/27/a1b2.jpg"
        ),
        ev.EbikeChargingEvent(ts=T0, seq=48, active=True, current=2.4, location="3F corridor"),
        ev.TamperEvent(ts=T0, seq=49, active=True, detail="enclosure opened"),
        ev.CameraOfflineEvent(ts=T0, seq=50, active=True, cause="lens_covered"),
        ev.FaceEvent(
            ts=T0,
            seq=51,
            track_id="t-000193",
            category="resident",
            person_id="p-10233",
            score=0.93,
            frames=5,
            snapshot_ref="snap/2026/11/27/c3d4.jpg",
        ),
        ev.GatePassageEvent(
            ts=T0,
            seq=52,
            method="card",
            granted=True,
            direction="in",
            person_id="p-10233",
            credential_ref="card:****1234",
        ),
    ],
    "device_state": [cmd.DeviceState(ts=T0, seq=53, state={"gate": "open"}, command_id="c-7f3a")],
    "command": [
        cmd.OpenGateCommand(
            ts=T0,
            command_id="c-7f3a",
            expires_at=_EXPIRES,
            issued_by="u-guard1",
            reason="delivery van",
        ),
        cmd.SetSwitchCommand(ts=T0, command_id="c-7f3b", expires_at=_EXPIRES, on=True),
        cmd.SetReportIntervalCommand(
            ts=T0, command_id="c-7f3c", expires_at=_EXPIRES, interval_s=30.0
        ),
        cmd.RebootCommand(ts=T0, command_id="c-7f3d", expires_at=_EXPIRES),
        cmd.PingCommand(ts=T0, command_id="c-7f3e", expires_at=_EXPIRES),
    ],
    "command_result": [
        cmd.CommandResult(
            ts=T0,
            seq=54,
            command_id="c-7f3a",
            action="open_gate",
            status="succeeded",
            data={"gate": "open"},
        ),
        cmd.CommandResult(
            ts=T0,
            seq=55,
            command_id="c-7f3a",
            action="open_gate",
            status="expired",
            error_code="expired",
            error="command expired 4.1 s before it arrived",
        ),
    ],
    "command_progress": [
        cmd.CommandProgress(
            ts=T0 + timedelta(seconds=1),
            event_id=3,
            command_id="c-7f3a",
            device="gs-gate-n",
            action="open_gate",
            state="succeeded",
            previous_state="delivered",
            requested_by="u-guard1",
            created_at=T0,
            expires_at=_EXPIRES,
            sent_at=T0 + timedelta(milliseconds=40),
            delivered_at=T0 + timedelta(milliseconds=180),
            finished_at=T0 + timedelta(seconds=1),
        ),
        cmd.CommandProgress(
            ts=T0,
            event_id=7,
            command_id="c-7f3f",
            device="gs-gate-fire-lane",
            action="set_switch",
            state="refused",
            requested_by="u-guard1",
            created_at=T0,
            expires_at=_EXPIRES,
            finished_at=T0,
            error_code="interlock_fire_lane_gate",
            error="fire-lane gate gs-gate-fire-lane stays open while a fire alarm is active",
        ),
    ],
    "alert": [
        Alert(
            ts=T0,
            alert_id="a-000812",
            rule="smoke",
            device="gs-b03-u2-smoke-f05",
            severity="critical",
            state="active",
            raised_at=T0,
            message="Smoke detected, Guangsha building 3, 5F corridor",
            change="raised",
        )
    ],
    "service_status": [
        ServiceStatus(
            ts=T0,
            state="online",
            instance="ingest-1",
            version="0.1.0",
            counters={"received": 120443, "stored": 120431, "rejected_schema": 12},
        )
    ],
    "dead_letter": [
        DeadLetter(
            ts=T0,
            topic="hgj/guangsha/dev/gs-b03-th/telemetry",
            reason="non_finite",
            detail="NaN and infinities are not numbers here",
            payload_size=52,
            payload_b64="eyJ2IjoxfQ==",
        )
    ],
}


def example_topic_params(channel_name: str, payload: BaseModel) -> dict[str, str]:
    """Topic ids for an example payload, taking kind/action/rule/device from the payload."""
    params = dict(EXAMPLE_PARAMS)
    for key in ("kind", "action", "rule", "device"):
        value = getattr(payload, key, None)
        if isinstance(value, str):
            params[key] = value
    return params
