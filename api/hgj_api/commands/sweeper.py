"""The sweeper: what happens to commands because time passes.

Each tick, on every replica (the store's ``SKIP LOCKED`` scans split the work):

1. commands the device has not answered within the acknowledgement timeout become ``timeout``,
   and open commands past ``expires_at`` (plus a grace for answers in flight) become ``expired``;
2. queued commands whose PUBACK never came (the publishing replica died, the broker was down)
   are claimed and published again;
3. progress announcements whose PUBACK never came are published again.

``tick(now)`` takes the time as an argument, so tests move the clock instead of sleeping.
"""

import logging
import threading
from collections.abc import Callable
from datetime import datetime

from hgj_api.commands.config import CommandConfig
from hgj_api.commands.dispatcher import CommandDispatcher
from hgj_contracts import utc_now
from hgj_statedb.command_store import CommandStore
from hgj_statedb.command_views import CommandChange

log = logging.getLogger("hgj_api.commands")


class CommandSweeper:
    def __init__(
        self,
        config: CommandConfig,
        store: CommandStore,
        dispatcher: CommandDispatcher,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._config = config
        self._store = store
        self._dispatcher = dispatcher
        self._clock = clock
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def tick(self, now: datetime | None = None) -> list[CommandChange]:
        """One pass at ``now`` (the clock's time by default); the state changes it made."""
        now = self._clock() if now is None else now
        config = self._config
        changes = self._store.sweep(
            now,
            ack_timeout=config.ack_timeout,
            grace=config.result_grace,
            actor=config.instance,
        )
        for change in changes:
            self._dispatcher.announce(change)
        if self._dispatcher.is_connected:
            # Claiming while offline would only push the next attempt back.
            for command in self._store.claim_for_dispatch(
                now, redispatch_after=config.redispatch_after
            ):
                self._dispatcher.dispatch(command)
            self._dispatcher.republish(
                self._store.undelivered_progress(recorded_before=now - config.progress_retry_after)
            )
        return changes

    def start(self) -> None:
        """Tick every ``sweep_interval_s`` on a thread (nothing when that is None)."""
        interval = self._config.sweep_interval_s
        if interval is None or self._thread is not None:
            return
        self._thread = threading.Thread(
            target=self._run, args=(interval,), name="command-sweeper", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _run(self, interval: float) -> None:
        while not self._stop.wait(interval):
            try:
                self.tick()
            except Exception:  # the database may be briefly away; the next tick tries again
                log.exception("command sweep failed")
