"""Commands inside the API process: the runtime built from the API's own settings, its audit
hook writing to the hash-chained audit log, its progress handed to the live stream, and the
interlocks reading fire equipment from the device registry.

One set of broker settings (HGJ_API_MQTT_*) serves the live stream and the dispatcher; the
dispatcher's session is ``{instance}``, the live stream's ``{instance}-live``.
"""

import logging
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select

from hgj_api.audit import Actor, AuditLog
from hgj_api.commands.config import BrokerEndpoint, CommandConfig
from hgj_api.commands.interlocks import RoleSource, SafetyRole, role_of_type
from hgj_api.commands.service import CommandRuntime
from hgj_api.database import Database
from hgj_api.settings import ApiSettings
from hgj_statedb.alert_store import AlertStore
from hgj_statedb.command_store import CommandStore
from hgj_statedb.command_views import CommandChange
from hgj_statedb.models import AuditOutcome, DeviceRow, UserRow

log = logging.getLogger("hgj_api.commands")


def endpoint_of(settings: ApiSettings) -> BrokerEndpoint | None:
    """The dispatcher's broker, or None when the API has none (commands then answer 503)."""
    if settings.mqtt_host is None:
        return None
    login = settings.mqtt_login
    return BrokerEndpoint(
        host=settings.mqtt_host,
        port=settings.mqtt_port,
        username=None if login is None else login[0],
        password=settings.mqtt_password,
        tls=settings.mqtt_tls,
        ca_file=settings.mqtt_ca_file,
    )


def command_config(settings: ApiSettings) -> CommandConfig:
    return CommandConfig(root=settings.root, instance=settings.instance)


def registry_roles(database: Database) -> RoleSource:
    """Safety roles from the registry's ``device_type`` (see ``interlocks.REGISTRY_ROLES``)."""

    def role_of(community: str, device: str) -> SafetyRole | None:
        with database.read_session() as session:
            device_type = session.scalar(
                select(DeviceRow.device_type).where(
                    DeviceRow.community == community, DeviceRow.device == device
                )
            )
        return role_of_type(device_type)

    return role_of


def audit_action(change: CommandChange) -> str:
    """``command.create`` (queued), ``command.refused`` (an interlock, at creation or just
    before sending), ``command.<state>`` for the rest, ``command.late_result`` for an answer
    that came after the command was final."""
    event = change.event
    if not change.is_transition:
        return "command.late_result"
    if event.from_state is None and event.to_state == "queued":
        return "command.create"
    return f"command.{event.to_state}"


def _outcome(change: CommandChange) -> AuditOutcome:
    state = change.event.to_state
    if state == "refused":
        return "denied"
    return "failure" if state in ("failed", "timeout", "expired") else "success"


class CommandAuditor:
    """The dispatcher's audit hook: each committed change becomes one audit record (its own
    transaction, sealed into the hash chain at commit), then goes to ``on_progress``."""

    def __init__(
        self,
        database: Database,
        audit: AuditLog,
        on_progress: Callable[[CommandChange], None] | None = None,
    ) -> None:
        self._database = database
        self._audit = audit
        self._on_progress = on_progress

    def __call__(self, change: CommandChange) -> None:
        self.record(change)
        if self._on_progress is not None and change.is_transition:
            self._on_progress(change)

    def record(self, change: CommandChange) -> None:
        command, event = change.command, change.event
        detail: dict[str, object] = {
            "device": command.device,
            "action": command.action,
            "state": event.to_state,
            "cause": event.cause,
        }
        if event.from_state is None:
            detail["parameters"] = dict(command.parameters)
            detail["reason"] = command.reason
        if event.error_code is not None:
            detail["error_code"] = event.error_code
            detail["error"] = event.error
        with self._database.write_session() as session, session.begin():
            actor = Actor(None, event.actor)
            if event.actor == command.requested_by:
                # The person who asked (creation, or a refusal at creation) is the actor;
                # everything later is done by this replica on its own.
                user = session.get(UserRow, command.requested_by)
                actor = Actor(command.requested_by, user.username if user else None)
            self._audit.record(
                session,
                audit_action(change),
                actor=actor,
                outcome=_outcome(change),
                target=("command", command.command_id),
                community=command.community,
                detail=detail,
            )


def build_runtime(
    settings: ApiSettings,
    database: Database,
    alerts: AlertStore,
    audit: AuditLog,
    on_progress: Callable[[CommandChange], None] | None,
    *,
    clock: Callable[[], datetime],
    endpoint: BrokerEndpoint | None = None,
) -> CommandRuntime | None:
    """The runtime for this replica, not started; None without a broker. ``endpoint``
    overrides the settings' (tests give one that is never started)."""
    endpoint = endpoint or endpoint_of(settings)
    if endpoint is None:
        return None
    return CommandRuntime(
        command_config(settings),
        endpoint,
        CommandStore(database.engine, clock),
        alerts,
        audit=CommandAuditor(database, audit, on_progress),
        roles=registry_roles(database),
        clock=clock,
    )
