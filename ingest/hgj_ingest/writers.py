"""Choose the point writer for the configured store."""

from hgj_ingest.influx_writer import InfluxWriter, PointWriter, WriteRejected
from hgj_ingest.settings import IngestSettings


class DiscardingWriter:
    """For the alert worker (role=alerts): storage workers store the points."""

    def write(self, lines: list[str]) -> WriteRejected | None:
        return None

    def close(self) -> None:
        pass


def make_point_writer(settings: IngestSettings) -> PointWriter:
    """Where this worker's telemetry points go: nowhere for the alert worker."""
    return DiscardingWriter() if settings.role == "alerts" else make_writer(settings)


def make_writer(settings: IngestSettings) -> PointWriter:
    """The writer for the configured store: InfluxDB, or the embedded SQLite fallback."""
    if settings.store == "sqlite":
        from hgj_ingest.sqlite_writer import SqliteWriter

        if not settings.sqlite_path:
            raise ValueError("store=sqlite needs sqlite_path")
        return SqliteWriter(settings.sqlite_path)
    return InfluxWriter(
        settings.influx_url,
        settings.influx_db,
        username=settings.influx_username,
        password=settings.influx_password,
        token=settings.influx_token,
        timeout_s=settings.influx_timeout_s,
    )
