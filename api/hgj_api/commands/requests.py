"""A command as the runtime takes it (``POST /api/v1/commands`` builds one from its body,
``hgj_api.commands.schemas.CommandIn``), and its errors."""

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from hgj_contracts.ids import Identifier
from hgj_statedb.command_views import JsonScalar


class CommandRequest(BaseModel):
    """A command for one device of the community named by the URL.

    ``parameters`` are the action's own fields of the contract's command payload (``on`` and
    ``channel`` for ``set_switch``, ``hold_open_s`` for ``open_gate``, ...). The idempotency
    key travels beside the body (the ``Idempotency-Key`` header)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    device: Identifier
    action: Identifier
    parameters: Annotated[dict[str, JsonScalar], Field(max_length=16)] = Field(default_factory=dict)
    reason: Annotated[str, Field(min_length=1, max_length=500)] | None = None
    ttl_s: float | None = Field(
        default=None, gt=0, description="seconds the command stays valid; default from config"
    )


class InvalidCommandError(ValueError):
    """The request cannot become a command (unknown action, parameters that do not fit it, a
    ttl beyond the limit): answer 422."""
