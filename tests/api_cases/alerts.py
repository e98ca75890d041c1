"""Alerts through the API: who may, what they see (scope), filters and stable pages, the
timeline, idempotent and audited actions whose changes are kept for announcing, the summary."""

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from hgj_api.security.permissions import Role
from hgj_contracts import Severity
from hgj_statedb.models import AuditLogRow
from tests.api_support import Api
from tests.statedb_fixtures import T0, at, signal

ALERTS = "/api/v1/alerts"
GS, GBG = "guangsha", "guanbeigou"


def _raise(
    api: Api,
    seconds: float = -60,
    *,
    community: str = GS,
    device: str | None = "gs-b01-smoke",
    rule: str = "smoke",
    severity: Severity = "critical",
) -> str:
    change = api.services.alerts.apply(
        signal("raise", seconds, community=community, device=device, rule=rule, severity=severity)
    )
    assert change is not None
    return change.alert.alert_id


def _ids(page: dict[str, Any]) -> list[str]:
    return [item["alert_id"] for item in page["items"]]


def _newest_first(*alert_ids: str) -> list[str]:
    """The list order: by id, descending. Ids are ULIDs, in creation order to the
    millisecond (alerts created within one millisecond keep a fixed, random order)."""
    return sorted(alert_ids, reverse=True)


def _audit(api: Api, action: str) -> list[AuditLogRow]:
    with api.services.database.read_session() as session:
        return list(
            session.scalars(
                select(AuditLogRow).where(AuditLogRow.action == action).order_by(AuditLogRow.id)
            )
        )


class Staff:
    """Headers of the people the cases act as."""

    def __init__(self, api: Api) -> None:
        self.ids = {
            "gs.guard": api.seed_user("gs.guard", [Role.SECURITY], [GS]),
            "gs.guard2": api.seed_user("gs.guard2", [Role.SECURITY], [GS]),
            "gs.op": api.seed_user("gs.op", [Role.OPERATOR], [GS]),
            "gbg.guard": api.seed_user("gbg.guard", [Role.SECURITY], [GBG]),
            "hq.guard": api.seed_user("hq.guard", [Role.SECURITY]),
            "hq.admin": api.seed_user("hq.admin", [Role.ADMIN]),
            "hq.po": api.seed_user("hq.po", [Role.PRIVACY_OFFICER]),
        }
        self.headers = {name: api.headers_for(name) for name in self.ids}

    def __getitem__(self, name: str) -> dict[str, str]:
        return self.headers[name]


class AlertCases:
    @pytest.fixture
    def staff(self, api: Api) -> Staff:
        return Staff(api)

    def test_who_may_see_and_handle_alerts(self, api: Api, staff: Staff) -> None:
        alert_id = _raise(api)
        expected = {"gs.guard": 200, "gs.op": 200, "hq.guard": 200, "hq.admin": 403, "hq.po": 403}
        for name, code in expected.items():
            assert api.client.get(ALERTS, headers=staff[name]).status_code == code, name
        for action, body in [("ack", None), ("assign", {"assignee": None}), ("resolve", None)]:
            for name in ("hq.admin", "hq.po"):
                url = f"{ALERTS}/{alert_id}/{action}"
                assert api.client.post(url, json=body, headers=staff[name]).status_code == 403
        note = api.client.post(
            f"{ALERTS}/{alert_id}/notes", json={"text": "x"}, headers=staff["hq.admin"]
        )
        assert note.status_code == 403
        assert api.client.get(ALERTS).status_code == 401
        assert api.client.post(f"{ALERTS}/{alert_id}/ack").status_code == 401
        assert _audit(api, "alert.ack") == []

    def test_lists_are_scoped_and_filtered(self, api: Api, staff: Staff) -> None:
        smoke = _raise(api, -50)
        leak = _raise(api, -40, device="gs-b02-leak", rule="water_leak", severity="major")
        wide = _raise(api, -30, device=None, rule="ebike_count", severity="minor")
        theirs = _raise(api, -20, community=GBG, device="gbg-b01-smoke")
        api.services.alerts.apply(
            signal("clear", -10, device="gs-b02-leak", rule="water_leak", severity="major")
        )
        api.services.alerts.acknowledge(smoke, staff.ids["gs.guard"], at(-5))

        def listed(name: str, **params: Any) -> list[str]:
            response = api.client.get(ALERTS, params=params, headers=staff[name])
            assert response.status_code == 200, response.text
            return _ids(response.json())

        assert listed("gs.guard") == _newest_first(wide, leak, smoke)  # never theirs
        assert listed("gbg.guard") == [theirs]
        everything = _newest_first(theirs, wide, leak, smoke)
        assert listed("hq.guard") == everything
        assert listed("gs.guard", community=GBG) == []  # asking for theirs widens nothing
        assert listed("hq.guard", community=[GS, GBG]) == everything
        assert listed("hq.guard", community=GBG) == [theirs]
        assert listed("gs.guard", device="gs-b02-leak") == [leak]
        assert listed("gs.guard", rule="ebike_count") == [wide]
        assert listed("gs.guard", severity=["critical", "minor"]) == _newest_first(wide, smoke)
        assert listed("gs.guard", state="cleared") == [leak]
        assert listed("gs.guard", state="active", acknowledged=False) == [wide]
        assert listed("gs.guard", acknowledged=True) == [smoke]
        window = {"since": at(-45).isoformat(), "until": at(-30).isoformat()}
        assert listed("gs.guard", **window) == [leak]
        item = api.client.get(ALERTS, params={"rule": "ebike_count"}, headers=staff["gs.guard"])
        assert item.json()["items"][0]["device"] is None  # a community-wide alert
        for bad in ({"since": "2026-11-27T08:00:00"}, {"cursor": "../x"}, {"limit": 0}):
            assert api.client.get(ALERTS, params=bad, headers=staff["gs.guard"]).status_code == 422

    def test_pages_neither_skip_nor_repeat_while_alerts_change(
        self, api: Api, staff: Staff
    ) -> None:
        created = [_raise(api, -100 + i, device=f"gs-b0{i}-smoke") for i in range(5)]
        headers = staff["gs.guard"]
        first = api.client.get(ALERTS, params={"limit": 2}, headers=headers).json()
        assert _ids(first) == _newest_first(*created)[:2]
        # Between pages: a new alert, and a late repeat that moves an alert's raised_at back
        # (a list ordered by raised_at would show that alert twice or not at all).
        _raise(api, -1, device="gs-b09-smoke")
        api.services.alerts.apply(signal("raise", -500, device="gs-b02-smoke"))
        seen = _ids(first)
        cursor = first["next_cursor"]
        while cursor is not None:
            page = api.client.get(
                ALERTS, params={"limit": 2, "cursor": cursor}, headers=headers
            ).json()
            seen += _ids(page)
            cursor = page["next_cursor"]
        assert seen == _newest_first(*created)

    def test_detail_has_the_timeline_and_others_alerts_are_not_found(
        self, api: Api, staff: Staff
    ) -> None:
        mine = _raise(api)
        theirs = _raise(api, community=GBG, device="gbg-b01-smoke")
        api.services.alerts.apply(signal("raise", -30))
        detail = api.client.get(f"{ALERTS}/{mine}", headers=staff["gs.guard"])
        assert detail.status_code == 200
        body = detail.json()
        assert (body["alert"]["alert_id"], body["alert"]["count"]) == (mine, 2)
        assert [e["kind"] for e in body["timeline"]] == ["raised", "repeated"]
        missing = api.client.get(f"{ALERTS}/a-nonexistent", headers=staff["gs.guard"])
        hidden = api.client.get(f"{ALERTS}/{theirs}", headers=staff["gs.guard"])
        assert (hidden.status_code, hidden.json()) == (missing.status_code, missing.json())
        assert hidden.status_code == 404
        for action in ("ack", "resolve"):
            refused = api.client.post(f"{ALERTS}/{theirs}/{action}", headers=staff["gs.guard"])
            assert refused.status_code == 404
        note = api.client.post(
            f"{ALERTS}/{theirs}/notes", json={"text": "x"}, headers=staff["gs.guard"]
        )
        assert note.status_code == 404
        assert api.services.alerts.timeline(theirs)[-1].kind == "raised"  # untouched

    def test_acknowledge_once_audited_and_kept_for_announcing(self, api: Api, staff: Staff) -> None:
        alert_id = _raise(api)
        url = f"{ALERTS}/{alert_id}/ack"
        first = api.client.post(url, json={"note": "收到，前往现场"}, headers=staff["gs.guard"])
        assert first.status_code == 200, first.text
        acked = first.json()
        assert (acked["acknowledged"], acked["acknowledged_by"]) == (True, staff.ids["gs.guard"])
        assert acked["acknowledged_at"] == T0.isoformat().replace("+00:00", "Z")
        again = api.client.post(url, headers=staff["gs.guard2"])  # a second guard, later
        assert (again.status_code, again.json()) == (200, acked)
        timeline = api.services.alerts.timeline(alert_id)
        assert [(e.kind, e.actor, e.note) for e in timeline] == [
            ("raised", None, None),
            ("acknowledged", staff.ids["gs.guard"], "收到，前往现场"),
        ]
        (record,) = _audit(api, "alert.ack")
        assert (record.actor_username, record.target_type, record.target_id) == (
            "gs.guard",
            "alert",
            alert_id,
        )
        assert (record.community, record.outcome, record.detail) == (
            GS,
            "success",
            {"note": "收到，前往现场"},
        )
        # No broker here: the change waits in the outbox for the sweep, with its number.
        pending = {e.event_id: e.payload for e in api.services.alerts.undelivered("mqtt")}
        ack_event = timeline[1].event_id
        assert pending[ack_event].change == "acknowledged"
        assert pending[ack_event].event_id == ack_event
        assert pending[ack_event].acknowledged_by == staff.ids["gs.guard"]

    def test_assign_to_someone_who_handles_alerts_here(self, api: Api, staff: Staff) -> None:
        alert_id = _raise(api)
        url = f"{ALERTS}/{alert_id}/assign"
        headers = staff["gs.guard"]
        to_guard2 = {"assignee": staff.ids["gs.guard2"]}
        first = api.client.post(url, json=to_guard2, headers=headers)
        assert (first.status_code, first.json()["assignee"]) == (200, staff.ids["gs.guard2"])
        assert api.client.post(url, json=to_guard2, headers=headers).json() == first.json()
        for nobody in ("gbg.guard", "hq.admin", "u-nonexistent"):
            who = staff.ids.get(nobody, nobody)
            refused = api.client.post(url, json={"assignee": who}, headers=headers)
            assert refused.status_code == 422, nobody
        to_hq = api.client.post(url, json={"assignee": staff.ids["hq.guard"]}, headers=headers)
        assert to_hq.json()["assignee"] == staff.ids["hq.guard"]  # platform-wide sees it
        unassigned = api.client.post(url, json={"assignee": None}, headers=headers)
        assert unassigned.json()["assignee"] is None
        assert [r.detail for r in _audit(api, "alert.assign")] == [
            {"assignee": staff.ids["gs.guard2"]},
            {"assignee": staff.ids["hq.guard"]},
            {"assignee": None},
        ]
        kinds = [e.kind for e in api.services.alerts.timeline(alert_id)]
        assert kinds == ["raised", "assigned", "assigned", "assigned"]

    def test_notes_append_and_a_retried_key_notes_once(self, api: Api, staff: Staff) -> None:
        alert_id = _raise(api)
        url = f"{ALERTS}/{alert_id}/notes"

        def note(name: str, text: str, key: str | None = None) -> int:
            headers = staff[name] | ({"Idempotency-Key": key} if key else {})
            return api.client.post(url, json={"text": text}, headers=headers).status_code

        assert note("gs.guard", "到达现场") == 200
        assert note("gs.guard", "到达现场") == 200  # no key: a second note, on purpose
        assert note("gs.guard", "未见明火", key="k-1") == 200
        assert note("gs.guard", "未见明火", key="k-1") == 200  # a retry: nothing new
        assert note("gs.guard2", "已通知物业", key="k-1") == 200  # another user's key
        assert note("gs.guard", "", key="k-2") == 422
        notes = [
            (e.actor, e.note) for e in api.services.alerts.timeline(alert_id) if e.kind == "noted"
        ]
        assert notes == [
            (staff.ids["gs.guard"], "到达现场"),
            (staff.ids["gs.guard"], "到达现场"),
            (staff.ids["gs.guard"], "未见明火"),
            (staff.ids["gs.guard2"], "已通知物业"),
        ]
        assert len(_audit(api, "alert.note")) == 4

    def test_resolve_clears_once(self, api: Api, staff: Staff) -> None:
        alert_id = _raise(api)
        url = f"{ALERTS}/{alert_id}/resolve"
        first = api.client.post(url, json={"note": "误报"}, headers=staff["gs.op"])
        assert first.status_code == 200
        assert (first.json()["state"], first.json()["cleared_at"]) == (
            "cleared",
            T0.isoformat().replace("+00:00", "Z"),
        )
        assert api.client.post(url, headers=staff["gs.guard"]).json() == first.json()
        (record,) = _audit(api, "alert.resolve")
        assert (record.actor_username, record.community, record.detail) == (
            "gs.op",
            GS,
            {"note": "误报"},
        )
        # A raise up to the resolution is stale: it does not reopen the alert.
        assert api.services.alerts.apply(signal("raise", -1)) is None

    def test_summary_counts_open_alerts_and_todays_acknowledgements(
        self, api: Api, staff: Staff
    ) -> None:
        # T0 is 16:00 in Asia/Shanghai: "today" began at 16:00 UTC the day before.
        day_start = T0 - timedelta(hours=16)
        fast = _raise(api, -120, device="gs-b01-smoke")
        slow = _raise(api, -600, device="gs-b02-smoke", severity="major")
        yesterday = _raise(api, -(17 * 3600), device="gs-b03-smoke", severity="major")
        _raise(api, -30, device="gs-b04-smoke", severity="minor")
        _raise(api, -30, community=GBG, device="gbg-b01-smoke")
        guard = staff.ids["gs.guard"]
        api.services.alerts.acknowledge(fast, guard, T0)  # after 120 s
        api.services.alerts.acknowledge(slow, guard, T0)  # after 600 s
        api.services.alerts.acknowledge(yesterday, guard, day_start - timedelta(minutes=1))

        response = api.client.get(f"{ALERTS}/summary", headers=staff["gs.guard"])
        assert response.status_code == 200, response.text
        summary = response.json()
        assert summary["communities"] == [GS]
        assert summary["open_by_severity"] == {
            "critical": 1,
            "major": 2,
            "minor": 1,
            "warning": 0,
            "info": 0,
        }
        assert (summary["open_total"], summary["open_unacknowledged"]) == (4, 1)
        assert summary["today"] == {
            "since": day_start.isoformat().replace("+00:00", "Z"),
            "acknowledged": 2,
            "mean_time_to_ack_s": 360.0,
        }
        everyone = api.client.get(f"{ALERTS}/summary", headers=staff["hq.guard"]).json()
        assert (everyone["communities"], everyone["open_total"]) == (None, 5)
        theirs = api.client.get(
            f"{ALERTS}/summary", params={"community": GBG}, headers=staff["gs.guard"]
        ).json()
        assert (theirs["communities"], theirs["open_total"]) == ([], 0)
        assert theirs["today"]["mean_time_to_ack_s"] is None
