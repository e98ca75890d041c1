"""Row ids: a short prefix (``a-`` alerts, ``u-`` users) and a ULID in lower case.

A ULID (48-bit millisecond time, 80 random bits, Crockford base32) sorts by creation time, so
newest-first listings and pagination can order by id, and it stays inside the contract's id
grammar (``^[a-z0-9][a-z0-9_-]{0,63}$``) that the alert payload enforces. Random bits also
keep user ids from being guessed or enumerated.
"""

import secrets
import time

_CROCKFORD = "0123456789abcdefghjkmnpqrstvwxyz"


def new_id(prefix: str) -> str:
    value = (time.time_ns() // 1_000_000) << 80 | secrets.randbits(80)
    chars = []
    for _ in range(26):
        value, digit = divmod(value, 32)
        chars.append(_CROCKFORD[digit])
    return prefix + "".join(reversed(chars))


def new_alert_id() -> str:
    return new_id("a-")


def new_user_id() -> str:
    return new_id("u-")
