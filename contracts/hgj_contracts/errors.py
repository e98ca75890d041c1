"""The one error type of the contract: a message that does not meet it, with a reason code."""

from hgj_contracts.service import RejectReason


class ContractError(ValueError):
    """A topic or payload that breaks the contract. ``reason`` is a stable code for counting."""

    def __init__(self, reason: RejectReason, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason: RejectReason = reason
        self.detail = detail
