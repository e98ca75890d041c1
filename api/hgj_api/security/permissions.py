"""What each role may do, as data: routers declare the permission they need
(``require(Permission.ALERT_ACK)``), never a role, so a role can change without touching them.

A user holds one or more roles and gets the union of their permissions. What the permissions
apply to is limited separately, by the user's communities (``hgj_api.scope``).
"""

from collections.abc import Iterable, Mapping
from enum import StrEnum
from types import MappingProxyType
from typing import Final

from hgj_statedb.models import ROLE_NAMES


class Permission(StrEnum):
    ALERT_VIEW = "alert:view"
    ALERT_ACK = "alert:ack"
    ALERT_ASSIGN = "alert:assign"
    ALERT_NOTE = "alert:note"
    ALERT_RESOLVE = "alert:resolve"
    SNAPSHOT_VIEW = "snapshot:view"
    DEVICE_VIEW = "device:view"
    TELEMETRY_VIEW = "telemetry:view"
    DEVICE_COMMAND = "device:command"
    DEVICE_MANAGE = "device:manage"
    USER_MANAGE = "user:manage"
    COMMUNITY_MANAGE = "community:manage"
    RULE_MANAGE = "rule:manage"
    FACE_CONSENT_MANAGE = "face:consent"
    FACE_ENROLL = "face:enroll"
    FACE_DELETE = "face:delete"
    AUDIT_VIEW = "audit:view"


class Role(StrEnum):
    SECURITY = "security"
    """Guards on duty: follow alerts through to resolution and look at camera snapshots."""
    OPERATOR = "operator"
    """Remote operations: everything security does, plus commands to gates, lights, pumps."""
    ADMIN = "admin"
    """Configuration: users, communities, devices, alert rules."""
    PRIVACY_OFFICER = "privacy_officer"
    """Face data: consent records, enrolment, deletion, and the audit log that proves it."""


_SECURITY: Final = frozenset(
    {
        Permission.ALERT_VIEW,
        Permission.ALERT_ACK,
        Permission.ALERT_ASSIGN,
        Permission.ALERT_NOTE,
        Permission.ALERT_RESOLVE,
        Permission.SNAPSHOT_VIEW,
        # An alert names a device and a reading; whoever handles it needs to see both.
        Permission.DEVICE_VIEW,
        Permission.TELEMETRY_VIEW,
    }
)

ROLE_PERMISSIONS: Final[Mapping[Role, frozenset[Permission]]] = MappingProxyType(
    {
        Role.SECURITY: _SECURITY,
        Role.OPERATOR: _SECURITY | {Permission.DEVICE_COMMAND},
        Role.ADMIN: frozenset(
            {
                Permission.USER_MANAGE,
                Permission.COMMUNITY_MANAGE,
                Permission.DEVICE_VIEW,
                Permission.DEVICE_MANAGE,
                Permission.TELEMETRY_VIEW,
                Permission.RULE_MANAGE,
                Permission.AUDIT_VIEW,
            }
        ),
        Role.PRIVACY_OFFICER: frozenset(
            {
                Permission.FACE_CONSENT_MANAGE,
                Permission.FACE_ENROLL,
                Permission.FACE_DELETE,
                Permission.AUDIT_VIEW,
            }
        ),
    }
)

if {role.value for role in Role} != set(ROLE_NAMES):  # pragma: no cover - a programming error
    raise RuntimeError("hgj_api Role and hgj_statedb ROLE_NAMES disagree")


def permissions_of(roles: Iterable[Role]) -> frozenset[Permission]:
    """The union of the roles' permissions."""
    granted: frozenset[Permission] = frozenset()
    for role in roles:
        granted |= ROLE_PERMISSIONS[role]
    return granted
