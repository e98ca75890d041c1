"""``python -m hgj_api`` as an operator runs it: the first admin from the CLI, then uvicorn
serving on PostgreSQL; and a production start with the built-in key refused."""

import json
import os
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from hgj_devstack.ports import free_port
from tests.api_support import JWT_SECRET
from tests.helpers import wait_until

pytestmark = pytest.mark.integration

PASSWORD = "first admin passphrase 2026"


def _env(**settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HGJ_API_")}
    env.update({f"HGJ_API_{name.upper()}": value for name, value in settings.items()})
    return env


def _call(url: str, data: bytes | None = None, headers: dict[str, str] | None = None) -> Any:
    request = urllib.request.Request(url, data=data, headers=headers or {})  # noqa: S310
    with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 - loopback
        return json.loads(response.read())


def _answers(url: str) -> bool:
    try:
        _call(url)
    except (urllib.error.URLError, ConnectionError):
        return False
    return True


@pytest.fixture
def server_env(state_db_url: str) -> dict[str, str]:
    port = free_port()
    return _env(state_db_url=state_db_url, jwt_secret=JWT_SECRET, port=str(port))


@pytest.fixture
def state_db_url(postgres_state_db_url: str) -> str:
    return postgres_state_db_url


@pytest.fixture
def server(server_env: dict[str, str]) -> Iterator[str]:
    base = f"http://127.0.0.1:{server_env['HGJ_API_PORT']}"
    process = subprocess.Popen(
        [sys.executable, "-m", "hgj_api"],
        env=server_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        wait_until(
            lambda: process.poll() is not None or _answers(f"{base}/healthz"),
            timeout=30,
            message="the API to answer",
        )
        assert process.poll() is None, process.stderr.read().decode() if process.stderr else ""
        yield base
    finally:
        process.terminate()
        process.communicate(timeout=10)


def test_the_served_api_is_ready_and_signs_in(server_env: dict[str, str], server: str) -> None:
    created = subprocess.run(
        [sys.executable, "-m", "hgj_api", "create-admin", "--username", "hq.admin"],
        env=server_env | {"HGJ_ADMIN_PASSWORD": PASSWORD},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert created.returncode == 0, created.stderr
    assert "created admin hq.admin" in created.stdout
    assert _call(f"{server}/readyz")["status"] == "ready"
    form = urllib.parse.urlencode({"username": "hq.admin", "password": PASSWORD}).encode()
    tokens = _call(f"{server}/api/v1/auth/token", data=form)
    me = _call(
        f"{server}/api/v1/auth/me", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )
    assert (me["username"], me["roles"], me["all_communities"]) == ("hq.admin", ["admin"], True)


def test_production_refuses_the_built_in_key(state_db_url: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "hgj_api"],
        env=_env(state_db_url=state_db_url, port=str(free_port())),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "refusing to start in production mode" in result.stderr
    assert "HGJ_API_JWT_SECRET is the built-in development key" in result.stderr
