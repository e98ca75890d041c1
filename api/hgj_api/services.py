"""What the app factory builds once and every request shares (``app.state.services``)."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from hgj_api.audit import AuditLog
from hgj_api.broker_accounts import BrokerAccounts
from hgj_api.commands.service import CommandRuntime
from hgj_api.database import Database
from hgj_api.live.service import LiveService
from hgj_api.metrics import ApiMetrics
from hgj_api.presence.consumer import PresenceConsumer
from hgj_api.security.passwords import Passwords
from hgj_api.security.tokens import AccessTokens
from hgj_api.settings import ApiSettings
from hgj_api.telemetry import TelemetryReader
from hgj_statedb.alert_store import AlertStore


@dataclass(frozen=True, slots=True)
class Services:
    settings: ApiSettings
    database: Database
    passwords: Passwords
    access_tokens: AccessTokens
    audit: AuditLog
    metrics: ApiMetrics
    clock: Callable[[], datetime]
    alerts: AlertStore
    """The alert lifecycle (human actions and queries), on the same engine as ``database``."""
    live: LiveService
    """The live stream's hub and MQTT feed, and the announcer of alert changes made here."""
    broker_accounts: BrokerAccounts
    telemetry: TelemetryReader
    presence: PresenceConsumer | None = None
    """Device statuses into the registry; None without a broker."""
    commands: CommandRuntime | None = None
    """Remote commands (store, dispatcher, sweeper); None without a broker: POST answers 503."""

    @property
    def refresh_ttl(self) -> timedelta:
        return timedelta(seconds=self.settings.refresh_token_ttl_s)
