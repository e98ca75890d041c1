"""What every store over the state database shares: its engine, a session factory for reads
and one for writes (SQLite's write lock taken at BEGIN, see ``db.write_engine``), and opening
its own migrated engine from a URL."""

from collections.abc import Callable
from datetime import datetime
from typing import Self

from sqlalchemy import Engine
from sqlalchemy.orm import sessionmaker

from hgj_contracts import utc_now
from hgj_statedb.db import open_engine, write_engine


class EngineStore:
    """Thread-safe: share one store per process. ``clock`` gives the wall-clock time of the
    writes the store makes on its own."""

    def __init__(self, engine: Engine, clock: Callable[[], datetime] = utc_now) -> None:
        self.engine = engine
        self._clock = clock
        self._reads = sessionmaker(engine, expire_on_commit=False)
        self._writes = sessionmaker(write_engine(engine), expire_on_commit=False)
        self._owns_engine = False

    @classmethod
    def open(cls, url: str, *, run_migrations: bool = True) -> Self:
        """A store on a new engine for ``url``, migrated to the latest schema by default;
        ``close()`` disposes of the engine."""
        store = cls(open_engine(url, run_migrations=run_migrations))
        store._owns_engine = True
        return store

    def close(self) -> None:
        if self._owns_engine:
            self.engine.dispose()
