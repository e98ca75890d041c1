"""A real Mosquitto broker process on a loopback port, for tests and `make run`.

The broker is configured from the shipped template (see mosquitto_config), keeps its log,
persistence and credentials in one work directory, and can be stopped cleanly, killed with
SIGKILL (durability tests) and restarted on the same port with the same persistence.
"""

import os
import secrets
import signal
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

from hgj_brokeradmin.control import DynsecControl
from hgj_devstack.accounts import MqttAccount, control_account
from hgj_devstack.mosquitto_config import (
    DEFAULT_TEMPLATE,
    BrokerPaths,
    current_user,
    render_config,
    write_config,
    write_credentials,
)
from hgj_devstack.mqtt_probe import CONNACK_ACCEPTED, CONNACK_NAMES, try_connect
from hgj_devstack.ports import LOOPBACK, free_port
from hgj_devstack.service_process import ServiceProcess, end_process, log_tail

MOSQUITTO_BINARY = "/usr/sbin/mosquitto"
LOG_TAIL_LINES = 30


def _file_identity(path: Path) -> tuple[int, int, int] | None:
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    return (stat.st_ino, stat.st_mtime_ns, stat.st_size)


class BrokerError(RuntimeError):
    """The broker did not start, stop or reload as asked; the message carries its log tail."""


class Mosquitto(ServiceProcess):
    """One broker process. ``start()`` returns once it accepts an authenticated MQTT login."""

    def __init__(
        self,
        workdir: Path,
        accounts: Sequence[MqttAccount],
        port: int | None = None,
        *,
        bind_address: str = LOOPBACK,
        template: Path = DEFAULT_TEMPLATE,
        binary: str = MOSQUITTO_BINARY,
    ) -> None:
        if not accounts:
            # Readiness is proven by logging in; with no account nobody could.
            raise ValueError("a broker needs at least one account")
        self._paths = BrokerPaths(workdir)
        self._accounts = list(accounts)
        # Manages accounts while the broker runs; it can touch no device topic.
        self._control = control_account()
        self._port = port if port is not None else free_port()
        self._bind_address = bind_address
        self._template = template
        self._binary = binary
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def host(self) -> str:
        # Clients connect over loopback even when a container binds 0.0.0.0.
        return LOOPBACK

    @property
    def port(self) -> int:
        return self._port

    @property
    def log_path(self) -> Path:
        return self._paths.log_file

    @property
    def paths(self) -> BrokerPaths:
        return self._paths

    @property
    def accounts(self) -> tuple[MqttAccount, ...]:
        return tuple(self._accounts)

    def start(self, timeout: float = 10) -> None:
        """Write config and credentials, start the process, wait until a login is accepted."""
        if self.running:
            raise BrokerError(f"broker on port {self._port} is already running")
        self._reap()
        if not Path(self._binary).exists():
            raise BrokerError(f"{self._binary} not found; run `make setup` to install Mosquitto")
        text = render_config(
            self._template.read_text(encoding="utf-8"),
            self._paths,
            self._port,
            self._bind_address,
            current_user(),
        )
        write_config(self._paths, text)
        write_credentials(self._paths, [*self._accounts, self._control])
        with self._paths.console_file.open("ab") as console:
            # The child keeps its own copy of the descriptor; ours closes with the block.
            self._process = subprocess.Popen(
                [self._binary, "-c", str(self._paths.config_file)],
                stdin=subprocess.DEVNULL,
                stdout=console,
                stderr=subprocess.STDOUT,
            )
        try:
            self._wait_for_login(self._accounts[0], timeout, "start")
        except BaseException:
            self.kill()
            raise

    def stop(self) -> None:
        """SIGTERM and wait: Mosquitto saves its persistence database on the way out."""
        self._end(signal.SIGTERM)

    def kill(self) -> None:
        """SIGKILL: no chance to save, as in a power cut or an OOM kill."""
        self._end(signal.SIGKILL)

    def restart(self, timeout: float = 10) -> None:
        """Stop (if running) and start again on the same port with the same persistence."""
        self.stop()
        self.start(timeout)

    @property
    def control(self) -> MqttAccount:
        """The account that changes accounts at runtime (the API's, in a deployment)."""
        return self._control

    def add_accounts(self, accounts: Sequence[MqttAccount], timeout: float = 10) -> None:
        """Add logins to a running broker without restarting it, through the plugin's control
        topic, as the API does.

        Returns once one of the new logins is accepted, so the caller can connect at once.
        """
        if not accounts:
            return
        self._accounts.extend(accounts)
        if not self.running:
            write_credentials(self._paths, [*self._accounts, self._control])
            return
        with DynsecControl(self.host, self._port, self._control, timeout_s=timeout) as control:
            control.add_accounts(accounts)
        self._wait_for_login(accounts[0], timeout, "account change")

    def wait_for_snapshot(self, timeout: float = 10) -> None:
        """Block until the broker writes a persistence snapshot that began after this call.

        The shipped config saves every couple of seconds, not on every message (see
        deploy/mosquitto/README.md), so a message is safe from ``kill()`` only once a
        snapshot taken after its PUBACK is on disk. Mosquitto is single-threaded and saves
        by writing a new file and renaming it over the old one, so a file that changes after
        this call holds everything the broker had acknowledged before it.
        """
        before = _file_identity(self._paths.persistence_file)
        deadline = time.monotonic() + timeout
        while _file_identity(self._paths.persistence_file) in (before, None):
            if not self.running:
                raise BrokerError(f"mosquitto is not running\n{self.log_tail()}")
            if time.monotonic() >= deadline:
                raise BrokerError(f"no persistence snapshot within {timeout}s\n{self.log_tail()}")
            time.sleep(0.05)

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        """The end of the broker log and console output, for error messages."""
        paths = (self._paths.console_file, self._paths.log_file)
        return log_tail(paths, lines, "(no broker output)")

    def _end(self, sig: signal.Signals) -> None:
        end_process(self._process, sig)
        self._process = None

    def _reap(self) -> None:
        """Forget a process that already exited (wait() avoids a zombie and a ResourceWarning)."""
        if self._process is not None:
            self._process.wait()
            self._process = None

    def _wait_for_login(self, account: MqttAccount, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        last = "no answer yet"
        while True:
            process = self._process
            if process is None or process.poll() is not None:
                code = None if process is None else process.returncode
                raise BrokerError(
                    f"mosquitto exited during {what} (exit code {code})\n{self.log_tail()}"
                )
            try:
                code = try_connect(
                    self.host,
                    self._port,
                    account.username,
                    account.password,
                    client_id=f"devstack-probe-{os.getpid()}-{secrets.token_hex(4)}",
                )
            except OSError as exc:
                last = f"{type(exc).__name__}: {exc}"
            else:
                if code == CONNACK_ACCEPTED:
                    return
                last = f"CONNACK {code} ({CONNACK_NAMES.get(code, 'unknown')})"
            if time.monotonic() >= deadline:
                raise BrokerError(
                    f"mosquitto on port {self._port} did not accept {account.username!r} "
                    f"within {timeout}s during {what}: {last}\n{self.log_tail()}"
                )
            time.sleep(0.05)
