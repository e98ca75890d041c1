"""A real InfluxDB 1.x (``influxd``) process on loopback ports, for tests and `make run`.

It speaks only the v1 HTTP API that every supported InfluxDB serves: ``POST /write`` with
line protocol and ``POST /query`` with InfluxQL. Values always travel as bound parameters
(``params=`` JSON, referenced as ``$name``): on 1.6.7 a concatenated
``SELECT ...; DROP DATABASE x`` executed the drop. Identifiers (database names) cannot be
bound, so they are checked against an allow-list pattern and quoted.
"""

import json
import re
import string
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import urllib3

from hgj_devstack.ports import LOOPBACK, free_port
from hgj_devstack.service_process import ServiceProcess, end_process, log_tail

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_TEMPLATE = REPO_ROOT / "deploy" / "influxdb" / "influxdb.conf.template"
INFLUXD_BINARY = "/usr/bin/influxd"
LOG_TAIL_LINES = 30

IDENTIFIER_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")


class InfluxError(RuntimeError):
    """InfluxDB refused a request, or the server did not start; carries the status and body."""

    def __init__(self, message: str, status: int | None = None, body: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.body = body


def quote_identifier(name: str) -> str:
    """``"name"`` for names on the allow-list; ValueError for anything else."""
    if not IDENTIFIER_RE.fullmatch(name):
        raise ValueError(f"{name!r} is not an allowed identifier ({IDENTIFIER_RE.pattern})")
    return f'"{name}"'


class InfluxDB(ServiceProcess):
    """One ``influxd`` with its own directories and ports under ``workdir``."""

    def __init__(
        self,
        workdir: Path,
        http_port: int | None = None,
        *,
        template: Path = DEFAULT_TEMPLATE,
        binary: str = INFLUXD_BINARY,
    ) -> None:
        self._workdir = workdir
        self._http_port = http_port if http_port is not None else free_port()
        self._rpc_port = free_port()
        self._template = template
        self._binary = binary
        self._process: subprocess.Popen[bytes] | None = None
        self._http: urllib3.HTTPConnectionPool | None = None

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self._http_port}"

    @property
    def host(self) -> str:
        return LOOPBACK

    @property
    def http_port(self) -> int:
        return self._http_port

    @property
    def log_path(self) -> Path:
        return self._workdir / "influxd.log"

    @property
    def config_path(self) -> Path:
        return self._workdir / "influxdb.conf"

    def start(self, timeout: float = 30) -> None:
        """Write the config, start ``influxd`` and wait until ``/ping`` answers 204."""
        if self.running:
            raise InfluxError(f"influxd on port {self._http_port} is already running")
        if not Path(self._binary).exists():
            raise InfluxError(f"{self._binary} not found; run `make setup` to install InfluxDB")
        self._workdir.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(self._render_config(), encoding="utf-8")
        with self.log_path.open("ab") as log:
            # influxd logs to stderr; the child keeps its own copy of the descriptor.
            self._process = subprocess.Popen(
                [self._binary, "run", "-config", str(self.config_path)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self._http = urllib3.HTTPConnectionPool(
            LOOPBACK,
            self._http_port,
            maxsize=4,
            timeout=urllib3.Timeout(connect=2.0, read=60.0),
            retries=False,
        )
        try:
            self._wait_for_ping(timeout)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """SIGTERM, wait (SIGKILL after a grace period), and close the HTTP connections."""
        if self._http is not None:
            self._http.close()
            self._http = None
        end_process(self._process)
        self._process = None

    def create_database(self, name: str) -> None:
        self.query(f"CREATE DATABASE {quote_identifier(name)}")

    def drop_database(self, name: str) -> None:
        self.query(f"DROP DATABASE {quote_identifier(name)}")

    def databases(self) -> list[str]:
        result = self.query("SHOW DATABASES")
        series = result["results"][0].get("series", [])
        return [row[0] for s in series for row in s.get("values", [])]

    def query(
        self,
        q: str,
        db: str | None = None,
        params: Mapping[str, object] | None = None,
        epoch: str | None = None,
    ) -> dict[str, Any]:
        """Run InfluxQL with POST /query; values go in ``params`` and appear as ``$name`` in q.

        Raises InfluxError when the server answers an error status or any statement failed
        (InfluxDB reports statement errors inside a 200 response).
        """
        fields = {"q": q}
        if db is not None:
            fields["db"] = db
        if params:
            fields["params"] = json.dumps(dict(params))
        if epoch is not None:
            fields["epoch"] = epoch
        response = self._pool().request("POST", "/query", fields=fields, encode_multipart=False)
        body = response.data.decode("utf-8", errors="replace")
        if response.status >= 300:
            raise InfluxError(
                f"InfluxDB answered {response.status} to {q!r}: {body.strip()}",
                response.status,
                body,
            )
        result: dict[str, Any] = json.loads(body)
        errors = [r["error"] for r in result.get("results", []) if "error" in r]
        if "error" in result:
            errors.insert(0, result["error"])
        if errors:
            raise InfluxError(f"InfluxDB refused {q!r}: {'; '.join(errors)}", 200, body)
        return result

    def write(self, db: str, lines: str | bytes, precision: str = "ns") -> None:
        """POST /write line protocol; InfluxError on any refusal, including a partial write
        (InfluxDB stores the good lines of a batch and answers 400 for the rest)."""
        data = lines.encode("utf-8") if isinstance(lines, str) else lines
        query = urlencode({"db": db, "precision": precision})
        response = self._pool().request(
            "POST",
            f"/write?{query}",
            body=data,
            headers={"Content-Type": "text/plain; charset=utf-8"},
        )
        if response.status != 204:
            body = response.data.decode("utf-8", errors="replace")
            raise InfluxError(
                f"InfluxDB answered {response.status} to a write: {body.strip()}",
                response.status,
                body,
            )

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        return log_tail([self.log_path], lines, "(no influxd output)")

    def _render_config(self) -> str:
        template = string.Template(self._template.read_text(encoding="utf-8"))
        return template.substitute(
            INFLUXDB_RPC_BIND_ADDRESS=f"{LOOPBACK}:{self._rpc_port}",
            INFLUXDB_HTTP_BIND_ADDRESS=f"{LOOPBACK}:{self._http_port}",
            INFLUXDB_META_DIR=str(self._workdir / "meta"),
            INFLUXDB_DATA_DIR=str(self._workdir / "data"),
            INFLUXDB_WAL_DIR=str(self._workdir / "wal"),
        )

    def _pool(self) -> urllib3.HTTPConnectionPool:
        if self._http is None:
            raise InfluxError("influxd is not running; call start() first")
        return self._http

    def _wait_for_ping(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        last = "no answer yet"
        while True:
            process = self._process
            if process is None or process.poll() is not None:
                code = None if process is None else process.returncode
                raise InfluxError(
                    f"influxd exited during start (exit code {code})\n{self.log_tail()}"
                )
            try:
                response = self._pool().request("GET", "/ping", timeout=1.0)
            except urllib3.exceptions.HTTPError as exc:
                last = f"{type(exc).__name__}: {exc}"
            else:
                if response.status == 204:
                    return
                last = f"HTTP {response.status}"
            if time.monotonic() >= deadline:
                raise InfluxError(
                    f"influxd on port {self._http_port} did not answer /ping within "
                    f"{timeout}s: {last}\n{self.log_tail()}"
                )
            time.sleep(0.1)
