"""Reading the audit log: who may, what they see (scope), filters and pages."""

from datetime import timedelta
from typing import Any

from hgj_api.audit import Actor
from hgj_api.security.permissions import Role
from tests.api_support import Api
from tests.statedb_fixtures import T0

AUDIT = "/api/v1/audit"


def _seed_records(api: Api) -> None:
    """Three community records an hour apart, after whatever the test did already (the clock
    is put back, so that tokens stay valid)."""
    now = api.clock.now
    with api.services.database.write_session() as session, session.begin():
        for hours, community in enumerate(["guangsha", "guanbeigou", "guangsha"]):
            api.clock.now = T0 + timedelta(hours=hours + 1)
            api.services.audit.record(
                session,
                "alert.ack",
                actor=Actor("u-guard", "guard"),
                target=("alert", f"a-{hours}"),
                community=community,
            )
    api.clock.now = now


def _actions(page: dict[str, Any]) -> list[tuple[str, str | None]]:
    return [(item["action"], item["community"]) for item in page["items"]]


class AuditReadCases:
    def test_who_may_read_the_audit_log(self, api: Api) -> None:
        allowed = {Role.ADMIN: 200, Role.PRIVACY_OFFICER: 200}
        for role in Role:
            api.seed_user(f"r.{role}", [role])
            response = api.client.get(AUDIT, headers=api.headers_for(f"r.{role}"))
            assert response.status_code == allowed.get(role, 403), role
        assert api.client.get(AUDIT).status_code == 401

    def test_platform_readers_see_everything_newest_first(self, api: Api) -> None:
        api.seed_user("po", [Role.PRIVACY_OFFICER])
        headers = api.headers_for("po")
        _seed_records(api)
        page = api.client.get(AUDIT, headers=headers).json()
        assert _actions(page) == [
            ("alert.ack", "guangsha"),
            ("alert.ack", "guanbeigou"),
            ("alert.ack", "guangsha"),
            ("auth.login", None),
        ]
        assert page["next_before_id"] is None
        login = page["items"][-1]
        assert (login["actor_username"], login["outcome"]) == ("po", "success")

    def test_community_readers_see_their_communities_only(self, api: Api) -> None:
        api.seed_user("gbg.po", [Role.PRIVACY_OFFICER], ["guanbeigou"])
        headers = api.headers_for("gbg.po")
        _seed_records(api)
        page = api.client.get(AUDIT, headers=headers).json()
        assert _actions(page) == [("alert.ack", "guanbeigou")]  # not even its own login
        other = api.client.get(AUDIT, params={"community": "guangsha"}, headers=headers).json()
        assert other["items"] == []

    def test_filters_and_pages(self, api: Api) -> None:
        api.seed_user("po", [Role.PRIVACY_OFFICER])
        headers = api.headers_for("po")
        _seed_records(api)
        by_community = api.client.get(AUDIT, params={"community": "guangsha"}, headers=headers)
        assert _actions(by_community.json()) == [("alert.ack", "guangsha")] * 2
        by_actor = api.client.get(AUDIT, params={"actor": "PO"}, headers=headers).json()
        assert _actions(by_actor) == [("auth.login", None)]
        window = {
            "since": (T0 + timedelta(hours=2)).isoformat(),
            "until": (T0 + timedelta(hours=3)).isoformat(),
        }
        in_window = api.client.get(AUDIT, params=window, headers=headers).json()
        assert [i["target_id"] for i in in_window["items"]] == ["a-1"]
        naive = api.client.get(AUDIT, params={"since": "2026-11-27T08:00:00"}, headers=headers)
        assert naive.status_code == 422

        first = api.client.get(AUDIT, params={"limit": 3}, headers=headers).json()
        assert [i["target_id"] for i in first["items"]] == ["a-2", "a-1", "a-0"]
        assert first["next_before_id"] == first["items"][-1]["id"]
        rest = api.client.get(
            AUDIT, params={"limit": 3, "before_id": first["next_before_id"]}, headers=headers
        ).json()
        assert _actions(rest) == [("auth.login", None)]
        assert rest["next_before_id"] is None
