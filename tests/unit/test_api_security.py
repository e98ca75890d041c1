"""Access tokens (JWT) and passwords, without HTTP."""

import base64
import json
from datetime import timedelta

import jwt
import pytest

from hgj_api.security.passwords import Passwords, password_problem
from hgj_api.security.tokens import (
    AccessTokens,
    TokenError,
    TokenExpiredError,
    hash_refresh_secret,
    new_refresh_token,
    parse_refresh_token,
    refresh_secret_matches,
)
from tests.api_support import FAST_PASSWORDS, JWT_SECRET, FakeClock
from tests.statedb_fixtures import T0


def _tokens(clock: FakeClock, secret: str = JWT_SECRET, issuer: str = "hgj-api") -> AccessTokens:
    return AccessTokens(secret, issuer=issuer, ttl=timedelta(minutes=15), clock=clock)


def _b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_an_access_token_carries_the_user_and_expires_by_the_clock() -> None:
    clock = FakeClock()
    tokens = _tokens(clock)
    issued = tokens.issue("u-1", 3)
    assert issued.expires_at == T0 + timedelta(minutes=15)
    assert issued.expires_in_s == 900
    claims = tokens.decode(issued.token)
    assert (claims.user_id, claims.generation, claims.issued_at) == ("u-1", 3, T0)
    clock.advance(minutes=15)
    with pytest.raises(TokenExpiredError):
        tokens.decode(issued.token)


def test_tokens_signed_otherwise_are_refused() -> None:
    clock = FakeClock()
    good = _tokens(clock).issue("u-1", 0).token
    other_key = _tokens(clock, secret="another-secret-of-enough-length-0123456789").issue("u-1", 0)
    other_issuer = _tokens(clock, issuer="someone-else").issue("u-1", 0)
    header, payload, _ = good.split(".")
    unsigned = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{payload}."
    tampered_claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    tampered = f"{header}.{_b64(tampered_claims | {'sub': 'u-admin'})}.{good.split('.')[2]}"
    refresh_like = jwt.encode(
        tampered_claims | {"typ": "refresh"}, JWT_SECRET.encode(), algorithm="HS256"
    )
    for token in (other_key.token, other_issuer.token, unsigned, tampered, refresh_like, "x"):
        with pytest.raises(TokenError):
            _tokens(clock).decode(token)


def test_refresh_tokens_are_opaque_and_stored_as_hashes() -> None:
    token, parts = new_refresh_token()
    assert parse_refresh_token(token) == parts
    assert parts.secret not in hash_refresh_secret(parts.secret)
    assert refresh_secret_matches(parts.secret, hash_refresh_secret(parts.secret))
    assert not refresh_secret_matches("guess", hash_refresh_secret(parts.secret))
    for malformed in ("", "nodot", ".secret", "jti.", "x" * 65 + ".s"):
        assert parse_refresh_token(malformed) is None


def test_passwords_verify_and_unknown_users_never_match() -> None:
    hashed = FAST_PASSWORDS.hash("correct horse battery staple")
    assert hashed.startswith("$argon2id$")
    assert FAST_PASSWORDS.verify(hashed, "correct horse battery staple")
    assert not FAST_PASSWORDS.verify(hashed, "wrong")
    assert not FAST_PASSWORDS.verify(None, "hgj-no-such-user")  # the dummy's own password
    assert not FAST_PASSWORDS.verify("not a hash", "x")
    assert Passwords().needs_rehash(hashed)  # cheaper than the defaults: upgraded at login


def test_the_password_policy() -> None:
    assert password_problem("long enough passphrase", min_length=12) is None
    assert password_problem("short", min_length=12) == "a password needs at least 12 characters"
    assert password_problem("Password123", min_length=8) == "this password is a well-known default"
    assert password_problem("li.na.guard.1", min_length=8, username="LI.NA.GUARD.1") == (
        "the password may not be the username"
    )
    assert password_problem("x" * 1025, min_length=8) is not None
