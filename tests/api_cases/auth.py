"""Signing in, token expiry, refresh rotation and reuse detection, lockout, sign-out."""

from typing import Any

from sqlalchemy import select

from hgj_api.routers.auth import LOGIN_FAILED
from hgj_api.security.permissions import Role
from hgj_statedb.models import AuditLogRow, RefreshTokenRow
from tests.api_support import PASSWORD, Api, bearer

TOKEN = "/api/v1/auth/token"
REFRESH = "/api/v1/auth/refresh"
ME = "/api/v1/auth/me"


def _audit(api: Api, action: str) -> list[AuditLogRow]:
    with api.services.database.read_session() as session:
        return list(
            session.scalars(
                select(AuditLogRow).where(AuditLogRow.action == action).order_by(AuditLogRow.id)
            )
        )


def _refresh(api: Api, token: str) -> Any:
    return api.client.post(REFRESH, json={"refresh_token": token})


class AuthCases:
    def test_login_gives_tokens_and_me_names_the_user(self, api: Api) -> None:
        user_id = api.seed_user("zhang.wei", [Role.SECURITY], ["guangsha"])
        tokens = api.login("Zhang.Wei ")  # usernames compare without case or blanks
        assert tokens["token_type"] == "bearer"
        assert tokens["expires_in"] == 15 * 60
        assert tokens["refresh_expires_in"] == 12 * 3600
        me = api.client.get(ME, headers=bearer(tokens["access_token"]))
        assert me.status_code == 200
        assert me.json() == {
            "user_id": user_id,
            "username": "zhang.wei",
            "roles": ["security"],
            "communities": ["guangsha"],
            "all_communities": False,
            "permissions": [
                "alert:ack",
                "alert:assign",
                "alert:note",
                "alert:resolve",
                "alert:view",
                "device:view",
                "snapshot:view",
                "telemetry:view",
            ],
        }

    def test_without_a_valid_token_the_answer_is_401(self, api: Api) -> None:
        missing = api.client.get(ME)
        assert missing.status_code == 401
        assert missing.headers["www-authenticate"] == "Bearer"
        forged = api.client.get(ME, headers=bearer("not.a.jwt"))
        assert forged.status_code == 401
        assert forged.headers["www-authenticate"] == 'Bearer error="invalid_token"'

    def test_a_failed_login_does_not_say_whether_the_user_exists(self, api: Api) -> None:
        api.seed_user("li.na", [Role.SECURITY], ["guangsha"])
        wrong = api.client.post(TOKEN, data={"username": "li.na", "password": "nope"})
        nobody = api.client.post(TOKEN, data={"username": "nobody", "password": "nope"})
        assert wrong.status_code == nobody.status_code == 401
        assert wrong.json() == nobody.json() == {"detail": LOGIN_FAILED}
        reasons = [(r.actor_username, r.outcome, r.detail) for r in _audit(api, "auth.login")]
        assert reasons == [
            ("li.na", "failure", {"reason": "bad_password"}),
            ("nobody", "failure", {"reason": "unknown_user"}),
        ]

    def test_access_tokens_expire_after_fifteen_minutes(self, api: Api) -> None:
        api.seed_user("wang.fang", [Role.OPERATOR], ["guanbeigou"])
        headers = api.headers_for("wang.fang")
        api.clock.advance(minutes=14, seconds=59)
        assert api.client.get(ME, headers=headers).status_code == 200
        api.clock.advance(seconds=1)
        expired = api.client.get(ME, headers=headers)
        assert expired.status_code == 401
        assert expired.json() == {"detail": "access token expired"}

    def test_refresh_rotates_and_a_reused_token_revokes_the_family(self, api: Api) -> None:
        api.seed_user("chen.jie", [Role.SECURITY], ["guangsha"])
        first = api.login("chen.jie")
        api.clock.advance(minutes=20)  # the access token has expired: refresh is the way on
        second = _refresh(api, first["refresh_token"])
        assert second.status_code == 200
        pair = second.json()
        assert pair["refresh_token"] != first["refresh_token"]
        assert api.client.get(ME, headers=bearer(pair["access_token"])).status_code == 200
        third = _refresh(api, pair["refresh_token"]).json()

        # Someone replays the first token: refused, and the live token dies with it.
        assert _refresh(api, first["refresh_token"]).status_code == 401
        assert _refresh(api, third["refresh_token"]).status_code == 401
        with api.services.database.read_session() as session:
            rows = session.scalars(select(RefreshTokenRow)).all()
        assert len(rows) == 3
        assert {row.revoked_reason for row in rows} == {"reuse"}
        (reuse,) = _audit(api, "auth.refresh_reuse")
        assert (reuse.actor_username, reuse.outcome) == ("chen.jie", "denied")
        # A new login starts a new family that works.
        assert _refresh(api, api.login("chen.jie")["refresh_token"]).status_code == 200

    def test_a_forged_secret_for_a_real_jti_revokes_nothing(self, api: Api) -> None:
        api.seed_user("chen.jie", [Role.SECURITY], ["guangsha"])
        token = api.login("chen.jie")["refresh_token"]
        jti = token.split(".")[0]
        assert _refresh(api, f"{jti}.forged-secret").status_code == 401
        assert _refresh(api, "no-dot-here").status_code == 401
        assert _refresh(api, token).status_code == 200

    def test_refresh_tokens_expire(self, api: Api) -> None:
        api.seed_user("zhao.lei", [Role.SECURITY], ["guangsha"])
        token = api.login("zhao.lei")["refresh_token"]
        api.clock.advance(hours=12)
        assert _refresh(api, token).status_code == 401
        (failure,) = _audit(api, "auth.refresh")
        assert (failure.outcome, failure.detail["reason"]) == ("failure", "expired")

    def test_five_failures_lock_the_account_for_fifteen_minutes(self, api: Api) -> None:
        api.seed_user("sun.li", [Role.SECURITY], ["guangsha"])
        for _ in range(5):
            bad = api.client.post(TOKEN, data={"username": "sun.li", "password": "guess"})
            assert bad.status_code == 401
        locked = api.client.post(TOKEN, data={"username": "sun.li", "password": PASSWORD})
        assert locked.status_code == 401
        assert locked.json() == {"detail": LOGIN_FAILED}  # like any other failure
        (lockout,) = _audit(api, "auth.lockout")
        assert lockout.detail["failures"] == 5
        assert [r.detail["reason"] for r in _audit(api, "auth.login")][-1] == "locked"

        api.clock.advance(minutes=14, seconds=59)
        assert (
            api.client.post(TOKEN, data={"username": "sun.li", "password": PASSWORD}).status_code
            == 401
        )
        api.clock.advance(seconds=1)
        assert api.login("sun.li")["access_token"]

    def test_a_success_resets_the_failure_count(self, api: Api) -> None:
        api.seed_user("zhou.yu", [Role.SECURITY], ["guangsha"])
        for _ in range(2):
            for _ in range(4):
                api.client.post(TOKEN, data={"username": "zhou.yu", "password": "guess"})
            api.login("zhou.yu")  # 4 failures, then success: never 5 in a row
        assert _audit(api, "auth.lockout") == []

    def test_failures_of_unknown_users_lock_nothing_and_look_the_same(self, api: Api) -> None:
        api.seed_user("sun.li", [Role.SECURITY], ["guangsha"])
        answers = set()
        for name in ("sun.li", "ghost"):
            for _ in range(6):
                response = api.client.post(TOKEN, data={"username": name, "password": "x"})
                answers.add((response.status_code, response.text))
        assert answers == {(401, response.text)}
        assert [r.actor_username for r in _audit(api, "auth.lockout")] == ["sun.li"]

    def test_disabled_users_cannot_sign_in(self, api: Api) -> None:
        api.seed_user("old.guard", [Role.SECURITY], ["guangsha"], enabled=False)
        response = api.client.post(TOKEN, data={"username": "old.guard", "password": PASSWORD})
        assert response.json() == {"detail": LOGIN_FAILED}
        assert _audit(api, "auth.login")[-1].detail == {"reason": "disabled"}

    def test_logout_revokes_the_refresh_token(self, api: Api) -> None:
        api.seed_user("he.ping", [Role.SECURITY], ["guangsha"])
        token = api.login("he.ping")["refresh_token"]
        assert (
            api.client.post("/api/v1/auth/logout", json={"refresh_token": token}).status_code == 204
        )
        assert _refresh(api, token).status_code == 401
        assert [r.actor_username for r in _audit(api, "auth.logout")] == ["he.ping"]

    def test_login_records_request_id_and_client_address(self, api: Api) -> None:
        api.seed_user("he.ping", [Role.SECURITY], ["guangsha"])
        response = api.client.post(
            TOKEN,
            data={"username": "he.ping", "password": PASSWORD},
            headers={"X-Request-ID": "req-42"},
        )
        assert response.headers["x-request-id"] == "req-42"
        (record,) = _audit(api, "auth.login")
        assert (record.outcome, record.actor_username) == ("success", "he.ping")
        assert (record.request_id, record.client_ip) == ("req-42", "testclient")
        assert record.target_type == "user"
