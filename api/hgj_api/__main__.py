"""``python -m hgj_api``: see hgj_api.cli."""

from hgj_api.cli import app

if __name__ == "__main__":
    app(prog_name="python -m hgj_api")
