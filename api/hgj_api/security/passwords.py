"""Password hashing (Argon2id through argon2-cffi) and the password policy.

Verification costs the same whether or not the user exists: an unknown username is checked
against a dummy hash, so response times do not tell an attacker which usernames are real.
"""

from typing import Final

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

COMMON_DEFAULT_PASSWORDS: Final = frozenset(
    {"admin", "administrator", "password", "changeme", "change-me", "123456", "12345678",
     "hongguanjia", "hgj", "root", "secret", "admin123", "password123"}
)  # fmt: skip
"""Passwords that installers and demos tend to ship; refused as insecure defaults."""

USERNAME_PATTERN: Final = r"^[a-z0-9][a-z0-9._-]{0,63}$"
"""Lower-case sign-in names; people's real names go in ``display_name``."""

MAX_PASSWORD_LENGTH: Final = 1024
"""Argon2 takes any length; a bound keeps one request from hashing megabytes."""


class Passwords:
    """Hash and verify passwords. The default Argon2 parameters are argon2-cffi's (RFC 9106's
    low-memory profile); tests pass cheaper ones."""

    def __init__(self, hasher: PasswordHasher | None = None) -> None:
        self._hasher = hasher or PasswordHasher()
        self._dummy_hash = self._hasher.hash("hgj-no-such-user")

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, password_hash: str | None, password: str) -> bool:
        """True when ``password`` matches; with ``password_hash`` None (no such user) the work
        is done against a dummy hash and the answer is False."""
        try:
            matches = self._hasher.verify(password_hash or self._dummy_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False
        return matches and password_hash is not None

    def needs_rehash(self, password_hash: str) -> bool:
        """True when the hash was made with other parameters than today's."""
        return self._hasher.check_needs_rehash(password_hash)


def password_problem(password: str, *, min_length: int, username: str | None = None) -> str | None:
    """Why ``password`` is not acceptable, or None. Length over composition rules (NIST SP
    800-63B), plus a refusal of well-known defaults and of the username itself."""
    if len(password) < min_length:
        return f"a password needs at least {min_length} characters"
    if len(password) > MAX_PASSWORD_LENGTH:
        return f"a password has at most {MAX_PASSWORD_LENGTH} characters"
    lowered = password.lower()
    if lowered in COMMON_DEFAULT_PASSWORDS:
        return "this password is a well-known default"
    if username is not None and lowered == username.lower():
        return "the password may not be the username"
    return None
