"""Write line protocol to InfluxDB's v1 HTTP API and classify the answer.

InfluxDB 1.x, 2.x (v1 compatibility endpoints) and 3.x all accept ``POST /write``. The answer
decides what ingest does with a batch: 2xx stored; 4xx (other than 429) the data is at fault,
retrying cannot help, so the offending lines are isolated and dead-lettered; 429, 5xx and
connection errors are the store's trouble, so the batch is retried, honouring Retry-After.
"""

from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlencode

import urllib3
from pydantic import SecretStr

from hgj_ingest.points import WRITE_PRECISION


class RetryableWriteError(Exception):
    def __init__(self, detail: str, retry_after_s: float | None = None) -> None:
        super().__init__(detail)
        self.retry_after_s = retry_after_s


@dataclass(frozen=True, slots=True)
class WriteRejected:
    """InfluxDB refused (some of) the data: HTTP status and its error text."""

    status: int
    error: str


class PointWriter(Protocol):
    def write(self, lines: list[str]) -> "WriteRejected | None": ...

    def close(self) -> None: ...


class InfluxWriter:
    def __init__(
        self,
        url: str,
        db: str,
        *,
        username: str | None = None,
        password: SecretStr | None = None,
        token: SecretStr | None = None,
        timeout_s: float = 10.0,
    ) -> None:
        self._url = url.rstrip("/") + "/write"
        self._fields = {"db": db, "precision": WRITE_PRECISION}
        self._headers = {"Content-Type": "text/plain; charset=utf-8"}
        if token is not None:
            self._headers["Authorization"] = f"Token {token.get_secret_value()}"
        elif username is not None and password is not None:
            self._fields |= {"u": username, "p": password.get_secret_value()}
        self._http = urllib3.PoolManager(
            maxsize=2,
            timeout=urllib3.Timeout(connect=min(timeout_s, 5.0), read=timeout_s),
            retries=False,
        )

    def write(self, lines: list[str]) -> WriteRejected | None:
        """Store ``lines``; None on success. Raises RetryableWriteError when worth retrying."""
        url = self._url + "?" + urlencode(self._fields)
        body = "\n".join(lines).encode("utf-8")
        try:
            response = self._http.request("POST", url, body=body, headers=self._headers)
        except urllib3.exceptions.HTTPError as err:
            raise RetryableWriteError(f"InfluxDB unreachable: {err}") from err
        status = response.status
        if 200 <= status < 300:
            return None
        text = response.data.decode("utf-8", errors="replace")[:2000]
        if status == 429 or status >= 500:
            raise RetryableWriteError(
                f"InfluxDB answered {status}: {text}", _retry_after(response.headers)
            )
        return WriteRejected(status, text)

    def close(self) -> None:
        self._http.clear()


def _retry_after(headers: urllib3.HTTPHeaderDict) -> float | None:
    value = headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP date: rare from InfluxDB; fall back to our own backoff
