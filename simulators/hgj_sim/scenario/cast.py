"""Who a scenario's cast names stand for in a given community."""

from collections.abc import Mapping

from hgj_sim.inventory import SimDevice
from hgj_sim.model import Community
from hgj_sim.scenario.model import Selector


class CastError(ValueError):
    """A cast name that matches no device, or several where one was meant."""


def matches(selector: Selector, device: SimDevice) -> bool:
    if selector.type is not None:
        types = [selector.type] if isinstance(selector.type, str) else selector.type
        if device.device_type not in types:
            return False
    for name in ("id", "building", "unit", "floor", "place", "compound", "gate"):
        wanted = getattr(selector, name)
        if wanted is not None and getattr(device, name) != wanted:
            return False
    return True


def resolve_cast(
    cast: Mapping[str, Selector], community: Community
) -> dict[str, tuple[SimDevice, ...]]:
    """Each cast name's devices, in the community's order."""
    resolved: dict[str, tuple[SimDevice, ...]] = {}
    for name, selector in cast.items():
        found = tuple(d for d in community.devices if matches(selector, d))
        wanted = selector.model_dump(exclude_defaults=True)
        if not found:
            raise CastError(f"cast {name!r}: no device of {community.id} matches {wanted}")
        if len(found) > 1 and not selector.all:
            ids = ", ".join(d.id for d in found[:4]) + (", ..." if len(found) > 4 else "")
            raise CastError(
                f"cast {name!r}: {len(found)} devices of {community.id} match {wanted} "
                f"({ids}); narrow it down or say all: true"
            )
        resolved[name] = found
    return resolved
