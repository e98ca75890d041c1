"""Roles as permission sets, and the Principal that carries them."""

from hgj_api.principal import Principal
from hgj_api.security.permissions import ROLE_PERMISSIONS, Permission, Role, permissions_of
from hgj_statedb.models import ROLE_NAMES

P = Permission

SECURITY = {
    P.ALERT_VIEW,
    P.ALERT_ACK,
    P.ALERT_ASSIGN,
    P.ALERT_NOTE,
    P.ALERT_RESOLVE,
    P.SNAPSHOT_VIEW,
    P.DEVICE_VIEW,
    P.TELEMETRY_VIEW,
}


def test_each_role_has_exactly_its_permissions() -> None:
    assert dict(ROLE_PERMISSIONS) == {
        Role.SECURITY: SECURITY,
        Role.OPERATOR: SECURITY | {P.DEVICE_COMMAND},
        Role.ADMIN: {
            P.USER_MANAGE,
            P.COMMUNITY_MANAGE,
            P.DEVICE_VIEW,
            P.DEVICE_MANAGE,
            P.TELEMETRY_VIEW,
            P.RULE_MANAGE,
            P.AUDIT_VIEW,
        },
        Role.PRIVACY_OFFICER: {P.FACE_CONSENT_MANAGE, P.FACE_ENROLL, P.FACE_DELETE, P.AUDIT_VIEW},
    }


def test_every_permission_belongs_to_some_role() -> None:
    assert set().union(*ROLE_PERMISSIONS.values()) == set(Permission)


def test_the_database_knows_the_same_roles() -> None:
    assert {role.value for role in Role} == set(ROLE_NAMES)


def test_roles_add_up() -> None:
    both = permissions_of([Role.SECURITY, Role.PRIVACY_OFFICER])
    assert {P.ALERT_ACK, P.FACE_DELETE} <= both
    assert P.DEVICE_COMMAND not in both
    assert permissions_of([]) == frozenset()


def test_a_principal_knows_its_permissions_and_scope() -> None:
    guard = Principal("u-1", "guard", frozenset({Role.OPERATOR}), frozenset({"guangsha"}))
    assert guard.has(P.ALERT_ACK, P.DEVICE_COMMAND)
    assert not guard.has(P.ALERT_ACK, P.USER_MANAGE)
    assert guard.can_see("guangsha")
    assert not guard.can_see("guanbeigou")
    assert guard.covers(frozenset({"guangsha"}))
    assert not guard.covers(frozenset({"guangsha", "guanbeigou"}))
    assert not guard.covers(frozenset(), all_communities=True)

    platform = Principal("u-2", "hq", frozenset({Role.ADMIN}), all_communities=True)
    assert platform.can_see("any-future-community")
    assert platform.covers(frozenset(), all_communities=True)
    assert not platform.has(P.ALERT_ACK)  # admins configure; they do not handle alerts
