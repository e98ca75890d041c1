"""Generated traffic of a scenario: people passing gates and unit doors through a day.

Seeded: the same scenario and seed give the same passages at the same moments. Times follow the
file's hour weights in local time of day, counted from the scenario's ``starts_at``.
"""

import random
from collections.abc import Mapping, Sequence
from typing import TypeVar

from hgj_sim.actions import Action, Emit
from hgj_sim.inventory import SimDevice
from hgj_sim.scenario.model import CredentialPassages, FacePassages, Traffic

Scripted = list[tuple[str, float, Action]]
"""(device id, offset, action)."""

FACE_TO_GATE_S = 1.5
"""A gate opens a moment after its camera has decided on a face."""

REFUSALS = {
    "card": "card not valid",
    "qr": "QR code expired",
    "pin": "wrong PIN",
    "face": "face not recognised",
}
PEOPLE = {"resident": ("r", 800), "staff": ("s", 40), "visitor": ("v", 300)}
"""Id prefix and how many distinct people of each category pass."""

K = TypeVar("K")


def _pick(rng: random.Random, weights: Mapping[K, float]) -> K:
    keys = list(weights)
    return rng.choices(keys, weights=[weights[k] for k in keys])[0]


def _person(rng: random.Random, category: str) -> str:
    prefix, population = PEOPLE[category]
    return f"{prefix}-{rng.randint(1, population):04d}"


def _moment(rng: random.Random, hours: Sequence[float], start_hour: float, end_s: float) -> float:
    """An offset in [0, end_s) whose local hour is drawn by ``hours`` (rejection sampling)."""
    top = max(hours)
    if top <= 0:
        raise ValueError("traffic hours weigh nothing")
    while True:
        at = rng.uniform(0, end_s)
        hour = int((start_hour + at / 3600) % 24)
        if rng.uniform(0, top) < hours[hour]:
            return round(at, 3)


def _direction(rng: random.Random, at: float, start_hour: float) -> str:
    # Out in the morning, in in the evening.
    morning = (start_hour + at / 3600) % 24 < 12
    return "out" if rng.random() < (0.7 if morning else 0.3) else "in"


def face_passages(
    item: FacePassages,
    cast: Mapping[str, tuple[SimDevice, ...]],
    rng: random.Random,
    start_hour: float,
    duration_s: float,
) -> Scripted:
    out: Scripted = []
    for _ in range(item.count):
        pair = rng.choice(item.gates)
        gate, camera = cast[pair.gate][0], cast[pair.camera][0]
        at = _moment(rng, item.hours, start_hour, duration_s - FACE_TO_GATE_S)
        category = _pick(rng, item.categories)
        person = _person(rng, category)
        track = f"t-{rng.getrandbits(32):08x}"
        face = {
            "track_id": track,
            "category": category,
            "person_id": person,
            "score": round(rng.uniform(0.82, 0.98), 3),
            "frames": rng.randint(3, 9),
            "snapshot_ref": f"snap/{camera.id}/{track}",
        }
        passage = {
            "method": "face",
            "granted": True,
            "direction": _direction(rng, at, start_hour),
            "person_id": person,
        }
        out.append((camera.id, at, Emit("face", face)))
        out.append((gate.id, round(at + FACE_TO_GATE_S, 3), Emit("gate_passage", passage)))
    return out


def credential_passages(
    item: CredentialPassages,
    cast: Mapping[str, tuple[SimDevice, ...]],
    rng: random.Random,
    start_hour: float,
    duration_s: float,
) -> Scripted:
    devices = [d for name in item.devices for d in cast[name]]
    out: Scripted = []
    for _ in range(item.count):
        device = rng.choice(devices)
        at = _moment(rng, item.hours, start_hour, duration_s)
        method = _pick(rng, item.methods)
        granted = rng.random() >= item.refused
        category = "visitor" if method == "qr" else "resident"
        fields: dict[str, object] = {
            "method": method,
            "granted": granted,
            "direction": _direction(rng, at, start_hour),
        }
        if granted:
            fields["person_id"] = _person(rng, category)
        else:
            fields["reason"] = REFUSALS[method]
        if method != "face":
            fields["credential_ref"] = f"{method}:****{rng.randint(0, 9999):04d}"
        out.append((device.id, at, Emit("gate_passage", fields)))
    return out


def generate(
    items: Sequence[Traffic],
    cast: Mapping[str, tuple[SimDevice, ...]],
    seed: int,
    start_hour: float,
    duration_s: float,
) -> Scripted:
    """Every generated passage of a scenario."""
    out: Scripted = []
    for index, item in enumerate(items):
        rng = random.Random(f"{seed}/traffic/{index}")
        if isinstance(item, FacePassages):
            out += face_passages(item, cast, rng, start_hour, duration_s)
        else:
            out += credential_passages(item, cast, rng, start_hour, duration_s)
    return out
