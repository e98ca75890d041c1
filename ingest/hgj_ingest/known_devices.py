"""The registry's enabled devices, held in memory for the message handler.

Loaded from the state database when ingest starts, then reloaded every ``registry_refresh_s``
on a background thread: the handler only looks the pair up in a frozenset (swapped whole, so
no lock is needed), never queries the database per message. A failed reload keeps the last
set, logs and counts ``registry_refresh_errors``; a registration therefore takes effect within
one refresh interval.
"""

import logging
import threading

from hgj_ingest.counters import Counters
from hgj_statedb.device_registry import DeviceRegistry

log = logging.getLogger("hgj_ingest.registry")


class KnownDevices:
    def __init__(self, registry: DeviceRegistry, refresh_s: float, counters: Counters) -> None:
        self._registry = registry
        self._refresh_s = refresh_s
        self._counters = counters
        self._devices: frozenset[tuple[str, str]] = frozenset()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __call__(self, community: str, device: str) -> bool:
        return (community, device) in self._devices

    def __len__(self) -> int:
        return len(self._devices)

    def load(self) -> None:
        """Reload now; raises if the database cannot be read."""
        self._devices = self._registry.enabled_devices()

    def start(self) -> None:
        """Load (failing loudly: without the set every message would be quarantined), then
        keep reloading in the background."""
        self.load()
        log.info("device registry: %d enabled devices", len(self._devices))
        self._thread = threading.Thread(target=self._loop, name="ingest-registry", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._registry.close()

    def _loop(self) -> None:
        while not self._stop.wait(self._refresh_s):
            try:
                self.load()
            except Exception:
                log.exception("reloading the device registry failed; keeping the last set")
                self._counters.add("registry_refresh_errors")
