"""Alembic environment, driven programmatically by ``hgj_statedb.db.migrate``.

There is no alembic.ini: ``migrate`` hands over an open connection in
``config.attributes["connection"]``. To write a new revision, autogenerate it against a
database at head (see statedb/README.md).
"""

from alembic import context
from sqlalchemy import Connection

from hgj_statedb.schema import metadata

config = context.config


def run_migrations(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        # SQLite cannot ALTER most things; batch mode rebuilds the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise RuntimeError("offline (--sql) migrations are not supported; use hgj_statedb.db.migrate")

_connection = config.attributes.get("connection")
if not isinstance(_connection, Connection):
    raise RuntimeError("run migrations through hgj_statedb.db.migrate(url)")
run_migrations(_connection)
