"""`python -m hgj_devstack`: the commands behind the Makefile."""

from hgj_devstack.cli import app

app()
