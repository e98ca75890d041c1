"""User administration: who may do it, within which communities, and what it changes."""

from typing import Any

import pytest
from sqlalchemy import select

from hgj_api.security.permissions import Role
from hgj_statedb.models import AuditLogRow
from tests.api_support import PASSWORD, Api, bearer

USERS = "/api/v1/users"
ME = "/api/v1/auth/me"
NEW_PASSWORD = "a much longer passphrase 2026"


def _new_user(username: str, roles: list[str], communities: list[str]) -> dict[str, Any]:
    return {"username": username, "password": PASSWORD, "roles": roles, "communities": communities}


def _records(api: Api, target_id: str) -> list[tuple[str, str | None, dict[str, Any]]]:
    with api.services.database.read_session() as session:
        rows = session.scalars(
            select(AuditLogRow).where(AuditLogRow.target_id == target_id).order_by(AuditLogRow.id)
        )
        return [(row.action, row.actor_username, row.detail) for row in rows]


class UserAdminCases:
    @pytest.fixture
    def admin(self, api: Api) -> dict[str, str]:
        api.seed_user("root.admin", [Role.ADMIN])  # platform-wide
        return api.headers_for("root.admin")

    def test_an_admin_creates_a_user_who_can_then_sign_in(
        self, api: Api, admin: dict[str, str]
    ) -> None:
        body = _new_user("Guard.One", ["security"], ["guangsha"])
        created = api.client.post(USERS, json=body | {"display_name": "保安一号"}, headers=admin)
        assert created.status_code == 201, created.text
        user = created.json()
        assert (user["username"], user["display_name"]) == ("guard.one", "保安一号")
        assert (user["roles"], user["communities"]) == (["security"], ["guangsha"])
        assert (user["enabled"], user["all_communities"]) == (True, False)
        assert not {"password", "password_hash"} & set(user)
        me = api.client.get(ME, headers=api.headers_for("guard.one")).json()
        assert me["user_id"] == user["id"]
        assert _records(api, user["id"]) == [
            (
                "user.create",
                "root.admin",
                {
                    "username": "guard.one",
                    "roles": ["security"],
                    "communities": ["guangsha"],
                    "all_communities": False,
                },
            ),
            ("auth.login", "guard.one", _records(api, user["id"])[1][2]),
        ]

    def test_users_are_listed_and_read(self, api: Api, admin: dict[str, str]) -> None:
        user_id = api.seed_user("guard.two", [Role.SECURITY], ["guanbeigou"])
        listed = api.client.get(USERS, headers=admin).json()
        assert [u["username"] for u in listed] == ["guard.two", "root.admin"]
        one = api.client.get(f"{USERS}/{user_id}", headers=admin)
        assert one.json()["username"] == "guard.two"
        assert api.client.get(f"{USERS}/u-nobody", headers=admin).status_code == 404

    def test_bad_requests_are_refused(self, api: Api, admin: dict[str, str]) -> None:
        api.seed_user("taken", [Role.SECURITY], ["guangsha"])
        cases = [
            (_new_user("taken", ["security"], ["guangsha"]), 409),
            (_new_user("short.pw", ["security"], ["guangsha"]) | {"password": "short"}, 422),
            (_new_user("default.pw", ["security"], ["guangsha"]) | {"password": "changeme"}, 422),
            (_new_user("no.roles", [], ["guangsha"]), 422),
            (_new_user("no.scope", ["security"], []), 422),
            (_new_user("both", ["security"], ["guangsha"]) | {"all_communities": True}, 422),
            (_new_user("bad role", ["security"], ["guangsha"]), 422),
            (_new_user("king", ["emperor"], ["guangsha"]), 422),
            (_new_user("bad.community", ["security"], ["Guang Sha"]), 422),
        ]
        for body, expected in cases:
            response = api.client.post(USERS, json=body, headers=admin)
            assert response.status_code == expected, (body, response.text)
        assert [u["username"] for u in api.client.get(USERS, headers=admin).json()] == [
            "root.admin",
            "taken",
        ]

    def test_roles_without_user_management_are_refused(self, api: Api) -> None:
        for role in (Role.SECURITY, Role.OPERATOR, Role.PRIVACY_OFFICER):
            api.seed_user(f"user.{role}", [role], ["guangsha"])
            headers = api.headers_for(f"user.{role}")
            body = _new_user(f"made.by.{role}", ["admin"], ["guangsha"])
            refused = api.client.post(USERS, json=body, headers=headers)
            assert refused.status_code == 403, role
            assert refused.json() == {"detail": "missing permission: user:manage"}
            assert api.client.get(USERS, headers=headers).status_code == 403
        assert api.client.post(USERS, json=_new_user("x", ["admin"], ["a"])).status_code == 401

    def test_a_community_admin_manages_only_users_of_their_communities(
        self, api: Api, admin: dict[str, str]
    ) -> None:
        api.seed_user("gs.admin", [Role.ADMIN], ["guangsha"])
        local = api.seed_user("gs.guard", [Role.SECURITY], ["guangsha"])
        other = api.seed_user("gbg.guard", [Role.SECURITY], ["guanbeigou"])
        both = api.seed_user("roaming.guard", [Role.SECURITY], ["guangsha", "guanbeigou"])
        gs_admin = api.headers_for("gs.admin")

        listed = api.client.get(USERS, headers=gs_admin).json()
        assert [u["username"] for u in listed] == ["gs.admin", "gs.guard"]
        assert api.client.get(f"{USERS}/{local}", headers=gs_admin).status_code == 200
        for hidden in (other, both):  # out of scope answers as if absent
            assert api.client.get(f"{USERS}/{hidden}", headers=gs_admin).status_code == 404
            patch = api.client.patch(f"{USERS}/{hidden}", json={"enabled": False}, headers=gs_admin)
            assert patch.status_code == 404

        elsewhere = _new_user("gbg.new", ["security"], ["guanbeigou"])
        assert api.client.post(USERS, json=elsewhere, headers=gs_admin).status_code == 403
        platform = _new_user("gs.super", ["admin"], []) | {"all_communities": True}
        assert api.client.post(USERS, json=platform, headers=gs_admin).status_code == 403
        moved = {"communities": ["guanbeigou"]}
        assert api.client.patch(f"{USERS}/{local}", json=moved, headers=gs_admin).status_code == 403
        assert api.client.get(f"{USERS}/{other}", headers=admin).status_code == 200

    def test_disabling_a_user_ends_their_sessions_at_once(
        self, api: Api, admin: dict[str, str]
    ) -> None:
        user_id = api.seed_user("leaving", [Role.OPERATOR], ["guangsha"])
        tokens = api.login("leaving")
        disabled = api.client.patch(f"{USERS}/{user_id}", json={"enabled": False}, headers=admin)
        assert disabled.status_code == 200
        assert disabled.json()["enabled"] is False
        assert api.client.get(ME, headers=bearer(tokens["access_token"])).status_code == 401
        refresh = api.client.post(
            "/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
        )
        assert refresh.status_code == 401
        assert _records(api, user_id)[-2][0:2] == ("user.disable", "root.admin")

    def test_a_password_reset_ends_sessions_and_lifts_a_lockout(
        self, api: Api, admin: dict[str, str]
    ) -> None:
        user_id = api.seed_user("forgetful", [Role.SECURITY], ["guangsha"])
        old_headers = api.headers_for("forgetful")
        for _ in range(5):
            api.client.post(
                "/api/v1/auth/token", data={"username": "forgetful", "password": "guess"}
            )
        assert api.client.get(f"{USERS}/{user_id}", headers=admin).json()["locked_until"]
        reset = api.client.patch(
            f"{USERS}/{user_id}", json={"password": NEW_PASSWORD}, headers=admin
        )
        assert reset.status_code == 200
        assert reset.json()["locked_until"] is None
        assert api.client.get(ME, headers=old_headers).status_code == 401
        assert api.client.get(ME, headers=api.headers_for("forgetful", NEW_PASSWORD)).is_success
        actions = [action for action, _, _ in _records(api, user_id)]
        assert "user.password_reset" in actions
        assert all("correct horse" not in str(detail) for _, _, detail in _records(api, user_id))

    def test_role_and_community_changes_apply_to_the_next_request(
        self, api: Api, admin: dict[str, str]
    ) -> None:
        user_id = api.seed_user("promoted", [Role.SECURITY], ["guangsha"])
        headers = api.headers_for("promoted")
        change = {"roles": ["operator"], "communities": ["guangsha", "guanbeigou"]}
        assert api.client.patch(f"{USERS}/{user_id}", json=change, headers=admin).is_success
        me = api.client.get(ME, headers=headers).json()
        assert (me["roles"], me["communities"]) == (["operator"], ["guanbeigou", "guangsha"])
        assert "device:command" in me["permissions"]
        (update,) = [r for r in _records(api, user_id) if r[0] == "user.update"]
        assert update[2] == {
            "before": {
                "roles": ["security"],
                "communities": ["guangsha"],
                "all_communities": False,
            },
            "after": {
                "roles": ["operator"],
                "communities": ["guanbeigou", "guangsha"],
                "all_communities": False,
            },
        }

    def test_admins_cannot_lock_themselves_out(self, api: Api, admin: dict[str, str]) -> None:
        me = api.client.get(ME, headers=admin).json()["user_id"]
        assert (
            api.client.patch(f"{USERS}/{me}", json={"enabled": False}, headers=admin).status_code
            == 409
        )
        demote = {"roles": ["security"]}
        assert api.client.patch(f"{USERS}/{me}", json=demote, headers=admin).status_code == 409
        assert api.client.get(ME, headers=admin).json()["roles"] == ["admin"]
