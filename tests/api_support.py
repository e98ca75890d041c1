"""Building the API for tests: a clock the test moves, cheap password hashing, users seeded
straight into the state database, and small helpers to sign in and send tokens."""

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI
from fastapi.testclient import TestClient

from hgj_api import accounts
from hgj_api.app import create_app
from hgj_api.broker_accounts import BrokerAccounts, BrokerUnavailableError
from hgj_api.security.passwords import Passwords
from hgj_api.security.permissions import Role
from hgj_api.services import Services
from hgj_api.settings import ApiSettings
from hgj_brokeradmin.acl import MqttAccount
from tests.statedb_fixtures import T0

JWT_SECRET = "test-jwt-secret-0123456789abcdef-0123456789abcdef"
PASSWORD = "correct horse battery staple"

# Argon2's smallest sensible parameters: a test signs in dozens of times.
FAST_PASSWORDS = Passwords(PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


class FakeClock:
    """The time as the test says; starts at T0 (statedb_fixtures)."""

    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def api_settings(state_db_url: str, **overrides: Any) -> ApiSettings:
    """Production mode (the default) with a proper secret, unless overridden."""
    values: dict[str, Any] = {"state_db_url": state_db_url, "jwt_secret": JWT_SECRET}
    values.update(overrides)
    return ApiSettings(**values)


@dataclass
class Api:
    """A running app (lifespan started) with its client and clock."""

    app: FastAPI
    client: TestClient
    clock: FakeClock

    @property
    def services(self) -> Services:
        services: Services = self.app.state.services
        return services

    def seed_user(
        self,
        username: str,
        roles: Iterable[Role],
        communities: Iterable[str] = (),
        *,
        password: str = PASSWORD,
        enabled: bool = True,
    ) -> str:
        """Create a user directly in the database (``communities`` empty: platform-wide)."""
        communities = list(communities)
        with self.services.database.write_session() as session, session.begin():
            user = accounts.create_user(
                session,
                username=username,
                password_hash=self.services.passwords.hash(password),
                roles=roles,
                communities=communities,
                all_communities=not communities,
                now=self.clock(),
            )
            user.enabled = enabled
            return user.id

    def login(self, username: str, password: str = PASSWORD) -> dict[str, Any]:
        response = self.client.post(
            "/api/v1/auth/token", data={"username": username, "password": password}
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def headers_for(self, username: str, password: str = PASSWORD) -> dict[str, str]:
        return bearer(self.login(username, password)["access_token"])


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


class FakeBrokerAccounts:
    """The broker's accounts as a dict; ``fail`` makes every change raise, like a broker that
    is down."""

    def __init__(self) -> None:
        self.accounts: dict[str, MqttAccount] = {}
        self.fail = False

    def put(self, account: MqttAccount) -> None:
        self._check()
        self.accounts[account.username] = account

    def revoke(self, username: str) -> None:
        self._check()
        self.accounts.pop(username, None)

    def _check(self) -> None:
        if self.fail:
            raise BrokerUnavailableError("the broker refused or did not answer: (test)")


def start_api(
    settings: ApiSettings,
    clock: FakeClock | None = None,
    broker_accounts: BrokerAccounts | None = None,
    *,
    offline_commands: bool = False,
) -> Iterator[Api]:
    clock = clock or FakeClock()
    app = create_app(
        settings,
        clock=clock,
        passwords=FAST_PASSWORDS,
        broker_accounts=broker_accounts,
        offline_commands=offline_commands,
    )
    with TestClient(app) as client:
        yield Api(app, client, clock)


@pytest.fixture
def api(state_db_url: str) -> Iterator[Api]:
    """The API on ``state_db_url`` in production mode, started, with a fake clock."""
    yield from start_api(api_settings(state_db_url))
