"""What the app factory builds once and every request shares (``app.state.services``)."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from hgj_api.audit import AuditLog
from hgj_api.database import Database
from hgj_api.metrics import ApiMetrics
from hgj_api.security.passwords import Passwords
from hgj_api.security.tokens import AccessTokens
from hgj_api.settings import ApiSettings


@dataclass(frozen=True, slots=True)
class Services:
    settings: ApiSettings
    database: Database
    passwords: Passwords
    access_tokens: AccessTokens
    audit: AuditLog
    metrics: ApiMetrics
    clock: Callable[[], datetime]

    @property
    def refresh_ttl(self) -> timedelta:
        return timedelta(seconds=self.settings.refresh_token_ttl_s)
