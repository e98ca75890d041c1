"""``python -m hgj_sim``."""

from hgj_sim.cli import app

app()
