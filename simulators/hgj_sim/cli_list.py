"""``python -m hgj_sim list``: what a community file describes."""

from collections import Counter
from typing import Annotated

import typer
from rich.table import Table

from hgj_sim.cli_support import CommunityOption, console, load_communities
from hgj_sim.credentials import device_username
from hgj_sim.model import Community

SHORT_TYPE_NAMES = {
    "temp_humidity": "temp/RH",
    "smoke_detector": "smoke",
    "water_leak": "leak",
    "door_contact": "door",
    "access_controller": "access",
    "elevator_camera": "lift cam",
    "face_camera": "face cam",
    "charging_monitor": "socket",
    "street_light": "light",
    "water_pump": "pump",
}
"""Row labels that keep the inventory table narrow."""

SITE = "site"
"""Column of compound equipment (gates, street lights, the charging shed)."""


def _inventory(community: Community) -> Table:
    """Device counts: a row per type, a column per building, then the compounds' own."""
    buildings = sorted(b.number for b in community.buildings)
    table = Table(title=f"{community.name_zh} {community.name_en} ({community.id})")
    table.add_column("type")
    for number in buildings:
        table.add_column(f"b{number}", justify="right")
    has_site = any(d.building is None for d in community.devices)
    if has_site:
        table.add_column(SITE, justify="right")
    table.add_column("total", justify="right", style="bold")
    counts = Counter((d.device_type, d.building) for d in community.devices)
    types = list(dict.fromkeys(d.device_type for d in community.devices))
    columns: list[int | None] = [*buildings, *([None] if has_site else [])]
    for device_type in types:
        row = [str(counts[(device_type, b)] or "") for b in columns]
        total = sum(counts[(device_type, b)] for b in columns)
        table.add_row(SHORT_TYPE_NAMES.get(device_type, device_type), *row, str(total))
    per_column = Counter(d.building for d in community.devices)
    table.add_row("total", *(str(per_column[b]) for b in columns), str(len(community.devices)))
    return table


def _layout(community: Community) -> Table:
    table = Table("compound / grid", "buildings", "gates / worker", title="compounds and grids")
    for compound in community.compounds:
        gates = ", ".join(f"{g.name} {g.name_zh}" for g in compound.gates) or "-"
        numbers = ", ".join(map(str, compound.buildings))
        table.add_row(f"{compound.id} {compound.name_zh}", numbers, gates)
    for grid in community.grids:
        numbers = ", ".join(map(str, grid.buildings))
        table.add_row(f"{grid.id} {grid.name_zh}", numbers, grid.worker.name_zh)
    return table


def list_devices(
    community: CommunityOption = None,
    devices: Annotated[bool, typer.Option("--devices", help="also list every device")] = False,
) -> None:
    """Print a community's inventory, compounds and grids.

    Device counts by type and building, the compounds with their gates, the grids with their
    grid workers; --devices lists every device with its location and MQTT username.
    """
    if not community:
        raise typer.BadParameter("give --community", param_hint="--community")
    for item in load_communities(community):
        console.print(_inventory(item))
        if item.compounds or item.grids:
            console.print(_layout(item))
        if devices:
            listing = Table("device", "type", "location", "grid", "every (s)", "username")
            for d in item.devices:
                listing.add_row(
                    d.id,
                    d.device_type,
                    d.location,
                    d.grid or "",
                    f"{d.report_interval_s:g}",
                    device_username(item.id, d.id),
                )
            console.print(listing)
