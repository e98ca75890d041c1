"""App factory: tests and deployments build the API the same way, from settings.

``create_app`` refuses insecure settings outside development mode before anything starts;
the lifespan then migrates the state database (unless told not to), creates the bootstrap
admin, and refuses to serve in production while a user's password is below the policy.
"""

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime, timedelta

from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy.exc import SQLAlchemyError
from starlette.responses import Response

from hgj_api import __doc__ as _about
from hgj_api import http_errors
from hgj_api.audit import AuditLog
from hgj_api.broker_accounts import BrokerAccounts, DynsecBrokerAccounts, NoBrokerAccounts
from hgj_api.commands.config import BrokerEndpoint
from hgj_api.commands.wiring import build_runtime
from hgj_api.database import Database
from hgj_api.live.service import LiveService
from hgj_api.metrics import ApiMetrics, MetricsMiddleware
from hgj_api.presence.consumer import PresenceConsumer
from hgj_api.request_id import RequestIdMiddleware
from hgj_api.routers import (
    alerts,
    audit,
    auth,
    commands,
    devices,
    health,
    places,
    stream,
    telemetry,
    users,
)
from hgj_api.security.passwords import Passwords
from hgj_api.security.tokens import AccessTokens
from hgj_api.services import Services
from hgj_api.settings import ApiSettings, influx_config, settings_from_env
from hgj_api.startup import bootstrap_admin, check_settings, check_weak_passwords, log
from hgj_api.telemetry import InfluxQueryClient, QueryRunner, TelemetryReader
from hgj_contracts import utc_now
from hgj_statedb.alert_store import AlertStore

TAGS = [
    {"name": "auth", "description": "Sign in (OAuth2 password flow), refresh, sign out."},
    {"name": "users", "description": "User administration for admins, scoped by community."},
    {
        "name": "alerts",
        "description": "Alerts in your communities: list, detail with timeline, acknowledge, "
        "assign, note, resolve, and the summary for a screen's header.",
    },
    {
        "name": "places",
        "description": "Communities, grids (网格) and grid workers, buildings and units.",
    },
    {
        "name": "devices",
        "description": "The device registry, broker credentials, and each device's presence.",
    },
    {"name": "telemetry", "description": "Readings over time and latest values (InfluxDB)."},
    {
        "name": "commands",
        "description": "Remote commands to devices (open a gate, switch, reboot, ...): send "
        "one, follow it through its states, and its timeline.",
    },
    {
        "name": "audit",
        "description": "Who did what, hash-chained: for admins and privacy officers.",
    },
    {"name": "health", "description": "Liveness and readiness probes."},
    {"name": "metrics", "description": "Prometheus metrics."},
]


def create_app(
    settings: ApiSettings | None = None,
    *,
    clock: Callable[[], datetime] = utc_now,
    passwords: Passwords | None = None,
    broker_accounts: BrokerAccounts | None = None,
    telemetry_runner: QueryRunner | None = None,
    offline_commands: bool = False,
) -> FastAPI:
    """The API for ``settings`` (from the environment when None). ``clock``, ``passwords`` and
    ``broker_accounts`` and ``telemetry_runner`` are for tests: a clock they move, cheaper
    Argon2 parameters, and stand-ins for the broker and InfluxDB where none runs.
    ``offline_commands`` (tests) accepts commands without a broker: they are stored and
    audited, and stay queued since nothing sends them."""
    settings = settings or settings_from_env()
    check_settings(settings)
    metrics = ApiMetrics()
    database = Database.open(settings.state_db_url)
    alert_store = AlertStore(database.engine, clock)
    if broker_accounts is None:
        broker_accounts = _broker_accounts(settings)
    influx: InfluxQueryClient | None = None
    runner = telemetry_runner
    if runner is None:
        runner = influx = InfluxQueryClient(influx_config(settings))
    audit_log = AuditLog(clock)
    live = LiveService(settings, alert_store, metrics)
    command_runtime = build_runtime(
        settings,
        database,
        alert_store,
        audit_log,
        live.command_changed,
        clock=clock,
        endpoint=BrokerEndpoint("127.0.0.1") if offline_commands else None,
    )
    presence = None
    if settings.mqtt_host is not None:
        presence = PresenceConsumer(settings, database.engine, clock)
    services = Services(
        settings=settings,
        database=database,
        passwords=passwords or Passwords(),
        access_tokens=AccessTokens(
            settings.jwt_secret.get_secret_value(),
            issuer=settings.jwt_issuer,
            ttl=timedelta(seconds=settings.access_token_ttl_s),
            clock=clock,
        ),
        audit=audit_log,
        metrics=metrics,
        clock=clock,
        alerts=alert_store,
        live=live,
        broker_accounts=broker_accounts,
        telemetry=TelemetryReader(runner),
        commands=command_runtime,
        presence=presence,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            await run_in_threadpool(_start, services)
            services.live.start(asyncio.get_running_loop())
            if command_runtime is not None and not offline_commands:
                # Connects in the background: a broker that is down delays commands (they
                # wait queued for the sweeper), not the API.
                command_runtime.start()
            if presence is not None:
                presence.start()  # in the background too
            yield
        finally:
            if presence is not None:
                await run_in_threadpool(presence.stop)
            if command_runtime is not None:
                await run_in_threadpool(command_runtime.stop)
            await run_in_threadpool(services.live.stop)
            services.database.close()
            if isinstance(services.broker_accounts, DynsecBrokerAccounts):
                services.broker_accounts.close()
            if influx is not None:
                influx.close()

    app = FastAPI(
        title="Hongguanjia API",
        description=_about or "",
        version="0.1.0",
        openapi_tags=TAGS,
        lifespan=lifespan,
    )
    app.state.services = services
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    app.add_middleware(RequestIdMiddleware)  # outermost: metrics and errors carry the id

    # Without a prefix: each router declares its full path (see hgj_api.routers).
    for router in (
        health.router,
        auth.router,
        users.router,
        alerts.router,
        stream.router,
        places.router,
        devices.router,
        telemetry.router,
        commands.router,
        audit.router,
    ):
        app.include_router(router)
    http_errors.install(app)  # 400/422 described as they are; 405 with a complete Allow

    @app.get("/metrics", tags=["metrics"], response_class=Response)
    def prometheus_metrics() -> Response:
        """Prometheus text exposition (requests by route template and status, latency,
        sign-in counters)."""
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return app


def _start(services: Services) -> None:
    database = services.database
    if services.settings.migrate_on_start:
        database.migrate()
    try:
        revision = database.schema_revision()
    except SQLAlchemyError as error:
        revision = f"unreachable ({type(error).__name__})"
    if revision != database.head_revision:
        # Migrations run elsewhere (HGJ_API_MIGRATE_ON_START=false): serve, not ready, until
        # they have; /readyz says why. The checks below need the current schema.
        log.warning(
            "the state database schema is %s, not %s: not ready until it is migrated",
            revision,
            database.head_revision,
        )
        return
    bootstrap_admin(services)
    check_weak_passwords(services)


def _broker_accounts(settings: ApiSettings) -> BrokerAccounts:
    if settings.broker_control_password is None or settings.mqtt_host is None:
        return NoBrokerAccounts()
    return DynsecBrokerAccounts(
        settings.mqtt_host,
        settings.mqtt_port,
        settings.broker_control_password.get_secret_value(),
        tls=settings.mqtt_tls,
    )
