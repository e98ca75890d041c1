"""Identifiers used in topics: one grammar for roots, communities, devices, kinds and actions.

Ids are lower-case so that a topic never differs from another only by case, and they cannot
start with ``_`` so that the service namespace (``_svc``) can never collide with a community.
"""

import re
from typing import Annotated

from pydantic import StringConstraints

ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"
_ID_RE = re.compile(ID_PATTERN)

Identifier = Annotated[str, StringConstraints(pattern=ID_PATTERN)]


def is_identifier(value: str) -> bool:
    """True when ``value`` may stand in one id position of a topic."""
    return _ID_RE.fullmatch(value) is not None


def check_identifier(value: str, what: str) -> str:
    """Return ``value`` or raise ValueError naming the position it was meant for."""
    if not is_identifier(value):
        raise ValueError(f"{what} {value!r} is not an id (expected {ID_PATTERN})")
    return value
