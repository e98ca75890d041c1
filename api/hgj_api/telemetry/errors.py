"""What can go wrong reading telemetry, as types a router maps to HTTP answers.

- TelemetryQueryError: the request itself is invalid (unknown metric, window too small for the
  range, ...); nothing was sent to InfluxDB. A router answers 422 with the message.
- InfluxUnavailableError: InfluxDB cannot answer now (down, timing out, overloaded, or refusing
  our credentials). A router answers 503; trying again later may help.
- InfluxQueryFailedError: InfluxDB answered but refused the query (syntax, missing database).
  That is a bug or a misconfiguration on our side, not the caller's: a router answers 500.
"""


class TelemetryQueryError(ValueError):
    """The caller asked for something the allow-list or the limits do not permit."""


class InfluxReadError(RuntimeError):
    """InfluxDB did not give us results; ``status`` is its HTTP status when it answered."""

    def __init__(self, message: str, status: int | None = None, body: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.body = body


class InfluxUnavailableError(InfluxReadError):
    """No usable answer from InfluxDB: connection refused or reset, timeout, 429 or 5xx."""


class InfluxAuthError(InfluxUnavailableError):
    """InfluxDB refused our credentials (401/403): the API's configuration needs fixing."""


class InfluxQueryFailedError(InfluxReadError):
    """InfluxDB refused a query (400, or an error inside a 200 answer)."""
