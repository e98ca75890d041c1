"""`python -m hgj_ingest`: run the ingest service until SIGINT/SIGTERM."""

import logging
import signal
import threading

from hgj_ingest.logs import configure_logging
from hgj_ingest.service import IngestService
from hgj_ingest.settings import settings_from_env


def main() -> None:
    try:
        settings = settings_from_env()
    except ValueError as err:  # pydantic's ValidationError is a ValueError too
        raise SystemExit(f"ingest: bad configuration: {err}") from None
    configure_logging(settings.log_format, settings.log_level)
    service = IngestService(settings)
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    service.start()
    logging.getLogger("hgj_ingest").info(
        "ingest %s: mqtt %s:%s root %r → InfluxDB %s db %r",
        settings.instance,
        settings.mqtt_host,
        settings.mqtt_port,
        settings.root,
        settings.influx_url,
        settings.influx_db,
    )
    done.wait()
    service.stop()


if __name__ == "__main__":
    main()
