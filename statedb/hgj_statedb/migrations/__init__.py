"""Alembic migrations of the state database; run them with ``hgj_statedb.db.migrate``."""
