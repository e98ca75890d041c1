"""The API's handle on the state database: one engine, and sessions for reading and writing.

Writes go through ``write_engine`` so that on SQLite they take the write lock at BEGIN (see
``hgj_statedb.db``): a read-then-write transaction (a login counting a failure, a refresh
token rotation) would otherwise fail with "database is locked" under concurrency instead of
waiting its turn. Reads use plain transactions and never block ingest thanks to WAL.
"""

from typing import Final

from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from hgj_statedb.db import alembic_config, make_engine, migrate, write_engine


class Database:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.reads: Final = sessionmaker(engine, expire_on_commit=False)
        self.writes: Final = sessionmaker(write_engine(engine), expire_on_commit=False)
        self.head_revision: Final = ScriptDirectory.from_config(alembic_config()).get_current_head()

    @classmethod
    def open(cls, url: str) -> "Database":
        return cls(make_engine(url))

    def migrate(self) -> None:
        migrate(self.engine)

    def schema_revision(self) -> str | None:
        """The revision the database is at (None: never migrated); raises when unreachable."""
        with self.engine.connect() as connection:
            if not connection.dialect.has_table(connection, "alembic_version"):
                return None
            found = connection.execute(text("SELECT version_num FROM alembic_version"))
            return found.scalar_one_or_none()

    def read_session(self) -> Session:
        return self.reads()

    def write_session(self) -> Session:
        return self.writes()

    def close(self) -> None:
        self.engine.dispose()
