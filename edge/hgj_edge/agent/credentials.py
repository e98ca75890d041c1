"""Local credential checks of a gate: cards, QR codes and PINs from the agent's config.

Checked on the gate itself so that residents get in while the network is down. Each refusal
has a reason code (``unknown_card``, ``expired_pin``, ``method_not_accepted``) that goes into the
passage event, so the duty guard and the resident's complaint see why.
"""

import hmac
from dataclasses import dataclass
from datetime import datetime

from hgj_edge.agent.config import CredentialEntry, GateMethod


@dataclass(frozen=True, slots=True)
class Decision:
    granted: bool
    person_id: str | None = None
    reason: str | None = None
    """Why it was refused (a reason code); None when granted."""


def mask(method: str, secret: str) -> str:
    """What the event may say about a credential: the last four of a card, nothing of a PIN."""
    if method == "pin" or len(secret) <= 4:
        return f"{method}:****"
    return f"{method}:****{secret[-4:]}"


class CredentialList:
    def __init__(self, methods: list[GateMethod], entries: list[CredentialEntry]) -> None:
        self._methods = frozenset(methods)
        self._entries = list(entries)

    def accepts(self, method: str) -> bool:
        return method in self._methods

    def check(self, method: str, secret: str, now: datetime) -> Decision:
        if method not in self._methods:
            return Decision(False, reason="method_not_accepted")
        match = None
        for entry in self._entries:
            # Constant-time comparison: a PIN pad must not leak how many digits were right.
            if entry.method == method and hmac.compare_digest(
                entry.secret.get_secret_value().encode(), secret.encode()
            ):
                match = entry
        if match is None:
            return Decision(False, reason=f"unknown_{method}")
        if match.expires_at is not None and match.expires_at <= now:
            return Decision(False, person_id=match.person_id, reason=f"expired_{method}")
        return Decision(True, person_id=match.person_id)
