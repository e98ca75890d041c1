"""Message bytes for load mode without building a pydantic model per message.

At tens of thousands of messages a second, validating and serialising a model per message
would cost more than publishing it. The templates below produce the same JSON the contract's
channel would (tests decode samples of every type through the contract), with values that vary
by device and ``seq`` so that stored series are not flat.
"""

from datetime import UTC, datetime

_HEAD = '{"v":1,"ts":"%s","seq":%d,"metrics":{'
_TEMPLATES = {
    "temp_humidity": _HEAD
    + '"temperature":{"value":%.1f,"unit":"Cel"},"humidity":{"value":%.1f,"unit":"%%RH"},'
    '"battery":{"value":%.1f,"unit":"%%"}}}',
    "smoke_detector": _HEAD
    + '"smoke_density":{"value":%.3f,"unit":"%%/m"},"battery":{"value":%.1f,"unit":"%%"}}}',
    "water_leak": _HEAD
    + '"water_leak":{"value":0.0,"unit":"1"},"water_level":{"value":%.1f,"unit":"cm"},'
    '"battery":{"value":%.1f,"unit":"%%"}}}',
    "door_contact": _HEAD
    + '"door_open":{"value":%.1f,"unit":"1"},"battery":{"value":%.1f,"unit":"%%"}}}',
    "charging_monitor": _HEAD
    + '"current":{"value":%.2f,"unit":"A"},"voltage":{"value":%.1f,"unit":"V"},'
    '"switch_on":{"value":1.0,"unit":"1"}}}',
}


class TimestampText:
    """The current UTC time as the contract writes it, formatted at most once a millisecond."""

    def __init__(self) -> None:
        self._ms = -1
        self._text = ""

    def at(self, epoch_ns: int) -> str:
        ms = epoch_ns // 1_000_000
        if ms != self._ms:
            self._ms = ms
            moment = datetime.fromtimestamp(ms / 1000, UTC)
            self._text = moment.strftime("%Y-%m-%dT%H:%M:%S.%f") + "Z"
        return self._text


_FACE = (
    '{"v":1,"ts":"%s","seq":%d,"kind":"face","track_id":"t-%08x","category":"%s",'
    '"person_id":"%s-%04d","score":%.3f,"frames":%d,"snapshot_ref":"snap/%s/t-%08x"}'
)
_CATEGORIES = ("resident",) * 8 + ("staff", "visitor")
"""Who a load camera sees: no strangers or watchlist faces, which would be alerts."""


def message_bytes(device_type: str, device: str, index: int, seq: int, ts: str) -> bytes:
    """The next message of device number ``index`` (0-based): a face event for a camera, a
    reading otherwise."""
    if device_type == "face_camera":
        return face_event_bytes(device, index, seq, ts)
    return telemetry_bytes(device_type, index, seq, ts)


def face_event_bytes(device: str, index: int, seq: int, ts: str) -> bytes:
    """A face decision of camera ``device``: ids and a score, never an image."""
    track = (index * 7919 + seq) & 0xFFFFFFFF
    category = _CATEGORIES[(seq + index) % len(_CATEGORIES)]
    person = (seq * 31 + index) % 800 + 1
    score = 0.82 + (seq % 17) / 100
    return (
        _FACE % (ts, seq, track, category, category[0], person, score, 3 + seq % 7, device, track)
    ).encode()


def telemetry_bytes(device_type: str, index: int, seq: int, ts: str) -> bytes:
    """One reading of device number ``index`` (0-based) of ``device_type``."""
    wave = (seq * 7 + index) % 11 / 10  # 0.0 .. 1.0, a cheap wobble
    battery = 95.0 - (index % 40)
    values: tuple[float, ...]
    if device_type == "temp_humidity":
        values = (18.0 + index % 60 / 10 + wave, 35.0 + index % 20 - wave, battery)
    elif device_type == "smoke_detector":
        values = (0.004 + wave / 500, battery)
    elif device_type == "water_leak":
        values = (0.5 + wave, battery)
    elif device_type == "door_contact":
        values = (1.0 if wave > 0.95 else 0.0, battery)
    else:
        values = (0.02 + wave / 10, 220.0 + wave)
    return (_TEMPLATES[device_type] % (ts, seq, *values)).encode()
