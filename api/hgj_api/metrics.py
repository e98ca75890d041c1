"""Prometheus metrics for ``/metrics``: requests by route template and status, their latency,
and the sign-in counters a brute-force alert watches.

Each app has its own registry rather than prometheus_client's global one, so several apps in
one process (tests) do not collide, and nothing else in the process leaks into ``/metrics``.
Routes are labelled by their template (``/api/v1/users/{user_id}``), never the raw path, and
requests that match no route share one label, so label cardinality stays bounded whatever
clients send.
"""

import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

UNMATCHED = "<unmatched>"


class ApiMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "hgj_api_requests",
            "HTTP requests answered, by method, route template and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "hgj_api_request_duration_seconds",
            "Time to answer an HTTP request, by method and route template",
            ["method", "route"],
            registry=self.registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
        )
        self.login_attempts = Counter(
            "hgj_api_login_attempts",
            "Password logins by outcome (success, bad_password, unknown_user, locked, disabled)",
            ["outcome"],
            registry=self.registry,
        )
        self.lockouts = Counter(
            "hgj_api_lockouts", "Accounts locked after repeated failures", registry=self.registry
        )
        self.stream_connections = Gauge(
            "hgj_api_stream_connections",
            "Live-stream WebSocket connections signed in and receiving",
            registry=self.registry,
        )
        self.stream_closed = Counter(
            "hgj_api_stream_closed",
            "Live-stream connections closed by the server, by close code "
            "(4401 unauthenticated, 4403 forbidden, 4429 too slow, ...)",
            ["code"],
            registry=self.registry,
        )
        self.stream_events = Counter(
            "hgj_api_stream_events",
            "Messages handed to the live stream's connections, by kind",
            ["kind"],
            registry=self.registry,
        )
        self.stream_feed_overflow = Counter(
            "hgj_api_stream_feed_overflow",
            "Messages from MQTT dropped because the event loop fell too far behind",
            registry=self.registry,
        )


class MetricsMiddleware:
    """Pure ASGI middleware (no response buffering): times each HTTP request and counts it
    under the template of the route the router matched."""

    def __init__(self, app: ASGIApp, metrics: ApiMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the client gets if the app fails before starting a response

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            # The router writes the matched route into the scope it was given (this one).
            route = scope.get("route")
            template = (
                route.path if isinstance(route, BaseRoute) and hasattr(route, "path") else UNMATCHED
            )
            method = scope["method"]
            self.metrics.requests.labels(method, template, str(status)).inc()
            self.metrics.latency.labels(method, template).observe(time.perf_counter() - started)
