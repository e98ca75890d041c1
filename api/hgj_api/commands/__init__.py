"""Remote commands, the platform side: submit, dispatch over MQTT, follow to the end.

A command is stored ``queued`` (or ``refused`` by an interlock), published to the device with an
MQTT 5 message expiry, and moved by the broker's PUBACK, the device's answers and the sweeper
through ``sent``, ``delivered``, ``succeeded``/``failed``, ``timeout`` and ``expired``
(``hgj_statedb.command_states`` has the rules). Every change is audited through a hook and
announced on the ``command_progress`` channel. Typical use, per API replica::

    runtime = CommandRuntime(CommandConfig(...), BrokerEndpoint(host, port, ...),
                             CommandStore.open(url), AlertStore.open(url),
                             audit=audit_hook).start(ready_timeout=10)
    command = runtime.service.submit("guangsha", CommandRequest(device=..., action=...),
                                     requested_by=user_id, idempotency_key=key)
    ...
    runtime.stop()

The API builds it from its own settings (``hgj_api.commands.wiring``) and serves it at
``/api/v1/commands`` (``hgj_api.routers.commands``): InvalidCommandError answers 422,
IdempotencyConflictError (``hgj_statedb.command_store``) 409.
"""

from hgj_api.commands.config import BrokerEndpoint, CommandConfig
from hgj_api.commands.dispatcher import AuditHook, CommandDispatcher
from hgj_api.commands.interlocks import InterlockConfig, Interlocks, ProtectedDevice
from hgj_api.commands.requests import CommandRequest, InvalidCommandError
from hgj_api.commands.service import CommandRuntime, CommandService
from hgj_api.commands.sweeper import CommandSweeper

__all__ = [
    "AuditHook",
    "BrokerEndpoint",
    "CommandConfig",
    "CommandDispatcher",
    "CommandRequest",
    "CommandRuntime",
    "CommandService",
    "CommandSweeper",
    "InterlockConfig",
    "Interlocks",
    "InvalidCommandError",
    "ProtectedDevice",
]
