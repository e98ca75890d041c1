"""``python -m hgj_sim``: simulated devices of Hongguanjia pilot communities.

Commands live in modules of their own: ``cli_run`` (run, also scenarios), ``cli_list``,
``cli_scenarios``, ``cli_load``.
"""

import typer

from hgj_sim.cli_list import list_devices
from hgj_sim.cli_load import load
from hgj_sim.cli_run import run
from hgj_sim.cli_scenarios import scenarios

app = typer.Typer(
    help="Simulated devices of Hongguanjia pilot communities, speaking the MQTT contract: "
    "run communities, play scenarios, generate load.",
    no_args_is_help=True,
)


@app.callback()
def main() -> None:
    """Simulated devices of Hongguanjia pilot communities."""


app.command()(run)
app.command("list")(list_devices)
app.command()(scenarios)
app.command()(load)
