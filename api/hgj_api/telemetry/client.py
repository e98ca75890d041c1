"""Send InfluxQL to InfluxDB's v1 ``POST /query`` and turn every failure into a typed error.

Synchronous on purpose: FastAPI runs plain ``def`` endpoints in its threadpool, the rest of the
API's I/O (the state database through SQLAlchemy) is synchronous too, and one query per request
gains nothing from an event loop. A sync ``httpx.Client`` is safe to share between those
threads, pools its connections, and stays usable from scripts and tests without a loop.

POST, not GET: query text and bound values stay out of URLs and access logs. The verb is no
defence by itself (on 1.6.7 a GET ``SELECT ...; DROP DATABASE x`` executed the drop); that is
the job of bound values and the identifier allow-list in ``influxql``.
"""

import json
from types import TracebackType
from typing import Any, Self

import httpx
from pydantic import BaseModel, ConfigDict, ValidationError

from hgj_api.telemetry.config import InfluxConfig
from hgj_api.telemetry.errors import (
    InfluxAuthError,
    InfluxQueryFailedError,
    InfluxUnavailableError,
)
from hgj_api.telemetry.influxql import InfluxQuery

_BODY_IN_ERRORS = 500
_QUERY_IN_ERRORS = 300


class ResultSeries(BaseModel):
    """One series of one statement's answer; ``values`` rows follow ``columns``."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    name: str
    tags: dict[str, str] = {}
    columns: list[str]
    values: list[list[Any]] = []


class _Statement(BaseModel):
    model_config = ConfigDict(extra="ignore")

    statement_id: int = 0
    series: list[ResultSeries] = []
    error: str | None = None


class _Answer(BaseModel):
    model_config = ConfigDict(extra="ignore")

    results: list[_Statement] = []
    error: str | None = None


class InfluxQueryClient:
    """A connection pool to one InfluxDB database; close it (or use ``with``) when done."""

    def __init__(
        self, config: InfluxConfig, *, transport: httpx.BaseTransport | None = None
    ) -> None:
        self._config = config
        headers = {"Accept": "application/json"}
        auth: httpx.Auth | None = None
        if config.token is not None:
            headers["Authorization"] = f"Token {config.token.get_secret_value()}"
        elif config.username is not None and config.password is not None:
            auth = httpx.BasicAuth(config.username, config.password.get_secret_value())
        self._http = httpx.Client(
            base_url=config.url.rstrip("/"),
            auth=auth,
            headers=headers,
            timeout=httpx.Timeout(config.timeout_s, connect=config.connect_timeout_s),
            transport=transport,
            follow_redirects=False,
        )

    def query(self, query: InfluxQuery) -> list[list[ResultSeries]]:
        """Run ``query``; the series of each statement, in statement order.

        Raises InfluxUnavailableError (down, timeout, 429/5xx; InfluxAuthError for 401/403)
        or InfluxQueryFailedError (InfluxDB refused the query).
        """
        form = {
            "q": query.text,
            "db": self._config.database,
            "params": json.dumps(dict(query.params)),
            "epoch": "u",  # integer microseconds: exact, and the precision ingest writes
        }
        if self._config.retention_policy is not None:
            form["rp"] = self._config.retention_policy
        response = self._send("/query", form)
        answer = self._parse(response)
        errors = [s.error for s in answer.results if s.error is not None]
        if answer.error is not None:
            errors.insert(0, answer.error)
        if errors:
            shown = query.text if len(query.text) <= _QUERY_IN_ERRORS else query.text[:200] + "..."
            raise InfluxQueryFailedError(
                f"InfluxDB refused the query {shown!r}: {'; '.join(dict.fromkeys(errors))}",
                response.status_code,
                response.text[:_BODY_IN_ERRORS],
            )
        return [statement.series for statement in answer.results]

    def ping(self) -> None:
        """Return when InfluxDB answers ``/ping``; InfluxUnavailableError otherwise (readiness)."""
        self._send("/ping", None)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _send(self, path: str, form: dict[str, str] | None) -> httpx.Response:
        where = f"InfluxDB at {self._config.url}"
        try:
            response = self._http.get(path) if form is None else self._http.post(path, data=form)
        except httpx.TimeoutException as exc:
            raise InfluxUnavailableError(f"{where} did not answer in time ({exc!r})") from exc
        except httpx.TransportError as exc:
            raise InfluxUnavailableError(f"{where} is unreachable: {exc}") from exc
        status = response.status_code
        if status < 300:
            return response
        body = response.text[:_BODY_IN_ERRORS]
        detail = f"{where} answered {status}: {_error_text(response)}"
        if status in (401, 403):
            raise InfluxAuthError(detail + " (check the API's InfluxDB credentials)", status, body)
        if status == 429 or status >= 500:
            raise InfluxUnavailableError(detail, status, body)
        raise InfluxQueryFailedError(detail, status, body)

    def _parse(self, response: httpx.Response) -> _Answer:
        try:
            return _Answer.model_validate_json(response.content)
        except ValidationError as exc:
            # Not InfluxDB's JSON: most likely the URL points at something else (a proxy page).
            raise InfluxUnavailableError(
                f"InfluxDB at {self._config.url} answered {response.status_code} with "
                f"something that is not a query result: {response.text[:200]!r}",
                response.status_code,
                response.text[:_BODY_IN_ERRORS],
            ) from exc


def _error_text(response: httpx.Response) -> str:
    """InfluxDB's ``{"error": ...}`` message when there is one, else the start of the body."""
    try:
        payload = response.json()
    except ValueError:
        payload = None
    if isinstance(payload, dict) and isinstance(payload.get("error"), str):
        return str(payload["error"])
    return response.text[:200].strip() or response.reason_phrase
