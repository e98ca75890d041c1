"""Submitting commands: what ``POST /api/v1/commands`` calls (``create``).

``submit`` turns a request into a stored command (idempotent per user and key), refuses it
when an interlock says so (stored ``refused``, not dropped), announces the creation and hands a
queued command to the dispatcher at once. ``CommandRuntime`` wires store, interlocks,
dispatcher and sweeper together for one API replica.
"""

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Self

from hgj_api.commands.config import BrokerEndpoint, CommandConfig
from hgj_api.commands.dispatcher import AuditHook, CommandDispatcher
from hgj_api.commands.interlocks import Interlocks, RoleSource
from hgj_api.commands.requests import CommandRequest, InvalidCommandError
from hgj_api.commands.sweeper import CommandSweeper
from hgj_contracts import utc_now
from hgj_statedb.alert_store import AlertStore
from hgj_statedb.command_store import CommandStore
from hgj_statedb.command_views import CommandView, Created, NewCommand, build_command


class CommandService:
    def __init__(
        self,
        config: CommandConfig,
        store: CommandStore,
        interlocks: Interlocks,
        dispatcher: CommandDispatcher,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._config = config
        self._store = store
        self._interlocks = interlocks
        self._dispatcher = dispatcher
        self._clock = clock

    def submit(
        self,
        community: str,
        request: CommandRequest,
        requested_by: str,
        idempotency_key: str | None = None,
    ) -> CommandView:
        """The command for this request: new, or the one an earlier request with the same
        key created (IdempotencyConflictError when that request differed).
        InvalidCommandError when the request cannot become a command."""
        return self.create(community, request, requested_by, idempotency_key).command

    def create(
        self,
        community: str,
        request: CommandRequest,
        requested_by: str,
        idempotency_key: str | None = None,
    ) -> Created:
        """``submit``, telling a new command (``is_new``) from an idempotent repeat: the
        REST answer differs (201 or 200)."""
        ttl_s = self._config.default_ttl_s if request.ttl_s is None else request.ttl_s
        if ttl_s > self._config.max_ttl_s:
            raise InvalidCommandError(f"ttl_s must be at most {self._config.max_ttl_s:g}")
        now = self._clock()
        try:
            # The store checks this too; checking first keeps its ValueError for key conflicts.
            build_command(
                command_id="c-check",
                action=request.action,
                parameters=request.parameters,
                created_at=now,
                expires_at=now + timedelta(seconds=ttl_s),
                requested_by=requested_by,
                reason=request.reason,
            )
        except ValueError as error:
            raise InvalidCommandError(str(error)) from error
        # Checked before the idempotency lookup, which is harmless: a retry of a command that
        # was queued before an alarm gets that command back, whatever the check says now.
        refusal = self._interlocks.check(
            community, request.device, request.action, request.parameters
        )
        created = self._store.create(
            NewCommand(
                community=community,
                device=request.device,
                action=request.action,
                parameters=request.parameters,
                requested_by=requested_by,
                ttl=timedelta(seconds=ttl_s),
                reason=request.reason,
                idempotency_key=idempotency_key,
            ),
            refusal=refusal,
            redispatch_after=self._config.redispatch_after,
            dispatch_now=self._dispatcher.is_connected,
        )
        if created.change is not None:
            self._dispatcher.announce(created.change)
            if created.command.state == "queued":
                self._dispatcher.dispatch(created.command)
        return created


class CommandRuntime:
    """Commands for one API replica: ``start()`` connects the dispatcher and starts the
    sweeper; ``service.submit`` is then ready for requests."""

    def __init__(
        self,
        config: CommandConfig,
        endpoint: BrokerEndpoint,
        store: CommandStore,
        alerts: AlertStore,
        *,
        audit: AuditHook | None = None,
        roles: RoleSource | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.config = config
        self.store = store
        self.interlocks = Interlocks(config.interlocks, alerts, roles)
        self.dispatcher = CommandDispatcher(
            config, endpoint, store, audit=audit, interlock=self.interlocks.check, clock=clock
        )
        self.sweeper = CommandSweeper(config, store, self.dispatcher, clock)
        self.service = CommandService(config, store, self.interlocks, self.dispatcher, clock)

    def start(self, ready_timeout: float | None = None) -> Self:
        """Connect and start sweeping; with ``ready_timeout``, wait until the result
        subscription is in place (TimeoutError after that long)."""
        self.dispatcher.start()
        if ready_timeout is not None and not self.dispatcher.wait_ready(ready_timeout):
            self.dispatcher.stop()
            raise TimeoutError(f"the command dispatcher was not ready within {ready_timeout}s")
        self.sweeper.start()
        return self

    def stop(self) -> None:
        self.sweeper.stop()
        self.dispatcher.stop()
