"""What every locally started server (Mosquitto, InfluxDB) shares: ending its process, reading
the tail of its logs for error messages, and being usable as a context manager."""

import signal
import subprocess
from abc import ABC, abstractmethod
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import Self

STOP_TIMEOUT = 15.0


def end_process(
    process: subprocess.Popen[bytes] | None, sig: signal.Signals = signal.SIGTERM
) -> None:
    """Send ``sig`` and wait; SIGKILL if the process outlives STOP_TIMEOUT."""
    if process is None or process.poll() is not None:
        return
    process.send_signal(sig)
    try:
        process.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def log_tail(paths: Iterable[Path], lines: int, empty: str) -> str:
    """The last ``lines`` of each existing file, headed by its name, or ``empty``."""
    parts = []
    for path in paths:
        if path.exists():
            tail = path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:]
            if tail:
                parts.append(f"--- {path.name} ---\n" + "\n".join(tail))
    return "\n".join(parts) or empty


class ServiceProcess(ABC):
    """A server process we started. ``with server:`` starts it unless running and stops it on
    the way out."""

    _process: subprocess.Popen[bytes] | None = None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int | None:
        """The process id while running (``make run`` records it to clean up after a crash)."""
        return self._process.pid if self._process is not None and self.running else None

    @abstractmethod
    def start(self, timeout: float = 10) -> None: ...

    @abstractmethod
    def stop(self) -> None: ...

    def __enter__(self) -> Self:
        if not self.running:
            self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
