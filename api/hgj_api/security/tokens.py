"""Access tokens (signed JWTs, HS256) and the opaque refresh tokens' format.

Access tokens are short-lived and never stored: a request proves who it is by the signature.
They carry only the user's id and token generation; roles and communities are read from the
database on every request, so a change of roles applies at once and disabling a user or
resetting a password (which bump the generation) ends every session at once, not at expiry.

Expiry is checked against the injected clock rather than PyJWT's own (``time.time``), so
tests move time instead of sleeping and the decision has one source of time.
"""

import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

import jwt

ALGORITHM: Final = "HS256"
AUDIENCE: Final = "hgj-api"


class TokenError(Exception):
    """The token is not acceptable; the message is safe to show to the client."""


class TokenExpiredError(TokenError):
    pass


@dataclass(frozen=True, slots=True)
class AccessClaims:
    user_id: str
    generation: int
    issued_at: datetime
    expires_at: datetime
    token_id: str


@dataclass(frozen=True, slots=True)
class IssuedAccessToken:
    token: str
    expires_at: datetime
    expires_in_s: int


class AccessTokens:
    def __init__(
        self, secret: str, *, issuer: str, ttl: timedelta, clock: Callable[[], datetime]
    ) -> None:
        self._key = secret.encode()
        self._issuer = issuer
        self._ttl = ttl
        self._clock = clock

    def issue(self, user_id: str, generation: int) -> IssuedAccessToken:
        now = self._clock()
        expires_at = now + self._ttl
        claims = {
            "sub": user_id,
            "gen": generation,
            "typ": "access",
            "iss": self._issuer,
            "aud": AUDIENCE,
            "iat": int(now.timestamp()),
            "exp": int(expires_at.timestamp()),
            "jti": secrets.token_urlsafe(12),
        }
        token = jwt.encode(claims, self._key, algorithm=ALGORITHM)
        return IssuedAccessToken(token, expires_at, int(self._ttl.total_seconds()))

    def decode(self, token: str) -> AccessClaims:
        """The claims of a valid, unexpired access token; TokenError otherwise."""
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=[ALGORITHM],  # never taken from the token's header
                audience=AUDIENCE,
                issuer=self._issuer,
                options={
                    "require": ["sub", "exp", "iat", "iss", "aud", "jti"],
                    "verify_exp": False,  # checked below against our clock
                    "verify_iat": False,
                    "verify_nbf": False,
                },
            )
        except jwt.PyJWTError as error:
            raise TokenError("invalid access token") from error
        if claims.get("typ") != "access" or not isinstance(claims.get("gen"), int):
            raise TokenError("invalid access token")
        exp, iat = claims["exp"], claims["iat"]
        if not isinstance(exp, int) or not isinstance(iat, int):
            raise TokenError("invalid access token")
        if self._clock().timestamp() >= exp:
            raise TokenExpiredError("access token expired")
        tz = self._clock().tzinfo
        return AccessClaims(
            user_id=str(claims["sub"]),
            generation=claims["gen"],
            issued_at=datetime.fromtimestamp(iat, tz),
            expires_at=datetime.fromtimestamp(exp, tz),
            token_id=str(claims["jti"]),
        )


@dataclass(frozen=True, slots=True)
class RefreshTokenParts:
    jti: str
    secret: str


def new_refresh_token() -> tuple[str, RefreshTokenParts]:
    """A fresh opaque refresh token ``{jti}.{secret}`` and its parts: the jti finds the row,
    the secret (256 random bits) proves possession and is stored only as a hash."""
    parts = RefreshTokenParts(secrets.token_urlsafe(16), secrets.token_urlsafe(32))
    return f"{parts.jti}.{parts.secret}", parts


def parse_refresh_token(token: str) -> RefreshTokenParts | None:
    jti, dot, secret = token.partition(".")
    if not dot or not jti or not secret or len(jti) > 64 or len(secret) > 128:
        return None
    return RefreshTokenParts(jti, secret)


def hash_refresh_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def refresh_secret_matches(secret: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_refresh_secret(secret), stored_hash)
