"""The place and device registry through the API: scoping, validation, audit, and device
credentials issued and revoked on the broker (a fake here; the real one in
tests/integration/test_api_device_credentials.py)."""

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from hgj_api.security.permissions import Role
from hgj_statedb.models import AuditLogRow
from tests.api_support import Api, FakeBrokerAccounts, api_settings, start_api

GS, GBG = "guangsha", "guanbeigou"


class RegistryCases:
    @pytest.fixture
    def broker(self) -> FakeBrokerAccounts:
        return FakeBrokerAccounts()

    @pytest.fixture
    def api(self, state_db_url: str, broker: FakeBrokerAccounts) -> Iterator[Api]:
        yield from start_api(api_settings(state_db_url), broker_accounts=broker)

    @pytest.fixture
    def hq(self, api: Api) -> dict[str, str]:
        """A platform-wide admin with Guangsha and Guanbeigou created."""
        api.seed_user("hq", [Role.ADMIN])
        headers = api.headers_for("hq")
        for community, name in ((GS, "广厦小区"), (GBG, "官北沟小区")):
            created = api.client.post(
                "/api/v1/communities", json={"id": community, "name": name}, headers=headers
            )
            assert created.status_code == 201, created.text
        return headers

    def _place(self, api: Api, headers: dict[str, str], path: str, body: dict[str, Any]) -> None:
        response = api.client.post(f"/api/v1/communities/{path}", json=body, headers=headers)
        assert response.status_code == 201, response.text

    def _device(self, api: Api, headers: dict[str, str], **body: Any) -> dict[str, Any]:
        payload = {"community": GS, "id": "gs-gate-north", "device_type": "gate", **body}
        response = api.client.post("/api/v1/devices", json=payload, headers=headers)
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        return created

    def _audit_actions(self, api: Api) -> list[str]:
        with api.services.database.read_session() as session:
            return list(session.scalars(select(AuditLogRow.action).order_by(AuditLogRow.id)))

    # places -------------------------------------------------------------------------------

    def test_places_build_a_community_tree(self, api: Api, hq: dict[str, str]) -> None:
        self._place(api, hq, f"{GS}/grids", {"id": "grid-1", "name": "一网格"})
        self._place(api, hq, f"{GS}/grids/grid-1/workers", {"name": "张敏", "phone": "139"})
        self._place(api, hq, f"{GS}/buildings", {"id": "b03", "name": "3号楼", "grid": "grid-1"})
        self._place(api, hq, f"{GS}/buildings/b03/units", {"id": "u2", "name": "2单元"})
        buildings = api.client.get(f"/api/v1/communities/{GS}/buildings", headers=hq).json()
        assert buildings == [
            {"community": GS, "id": "b03", "name": "3号楼", "grid": "grid-1", "floors": None}
        ]
        units = api.client.get(f"/api/v1/communities/{GS}/buildings/b03/units", headers=hq)
        assert [u["id"] for u in units.json()] == ["u2"]
        workers = api.client.get(f"/api/v1/communities/{GS}/grids/grid-1/workers", headers=hq)
        (worker,) = workers.json()
        assert worker["name"] == "张敏"
        assert worker["id"].startswith("gw-")
        assert {"community.create", "grid.create", "building.create", "unit.create"} <= set(
            self._audit_actions(api)
        )

    def test_duplicates_and_unknown_parents_are_refused(self, api: Api, hq: dict[str, str]) -> None:
        again = api.client.post("/api/v1/communities", json={"id": GS, "name": "x"}, headers=hq)
        assert again.status_code == 409
        no_grid = api.client.post(
            f"/api/v1/communities/{GS}/buildings",
            json={"id": "b01", "name": "1号楼", "grid": "nowhere"},
            headers=hq,
        )
        assert no_grid.status_code == 404
        no_community = api.client.post(
            "/api/v1/communities/atlantis/grids", json={"id": "g", "name": "g"}, headers=hq
        )
        assert no_community.status_code == 404

    def test_a_community_admin_sees_only_theirs_and_cannot_create_communities(
        self, api: Api, hq: dict[str, str]
    ) -> None:
        api.seed_user("gs-admin", [Role.ADMIN], [GS])
        headers = api.headers_for("gs-admin")
        listed = api.client.get("/api/v1/communities", headers=headers).json()
        assert [c["id"] for c in listed] == [GS]
        assert api.client.get(f"/api/v1/communities/{GBG}", headers=headers).status_code == 404
        grid = api.client.post(
            f"/api/v1/communities/{GBG}/grids", json={"id": "g1", "name": "g"}, headers=headers
        )
        assert grid.status_code == 404
        new = api.client.post(
            "/api/v1/communities", json={"id": "newtown", "name": "新城"}, headers=headers
        )
        assert new.status_code == 403

    # devices ------------------------------------------------------------------------------

    def test_registering_a_device_issues_credentials_once(
        self, api: Api, hq: dict[str, str], broker: FakeBrokerAccounts
    ) -> None:
        created = self._device(api, hq, capabilities=["open_gate", "ping"], location="北门")
        credentials = created["credentials"]
        assert credentials["username"] == f"{GS}.gs-gate-north"
        assert broker.accounts[credentials["username"]].password == credentials["password"]
        assert f"hgj/{GS}/dev/gs-gate-north/telemetry" in credentials["publish"]
        assert f"hgj/{GS}/dev/gs-gate-north/cmd/+" in credentials["subscribe"]
        shown = api.client.get(f"/api/v1/devices/{GS}/gs-gate-north", headers=hq).json()
        assert shown["has_credentials"] is True
        assert shown["capabilities"] == ["open_gate", "ping"]
        assert credentials["password"] not in str(shown)
        with api.services.database.read_session() as session:
            details = list(session.scalars(select(AuditLogRow.detail)))
        assert credentials["password"] not in str(details)
        assert "device.credentials" in self._audit_actions(api)

    def test_a_device_can_be_registered_without_credentials(
        self, api: Api, hq: dict[str, str], broker: FakeBrokerAccounts
    ) -> None:
        created = self._device(api, hq, issue_credentials=False)
        assert created["credentials"] is None
        assert created["device"]["has_credentials"] is False
        assert broker.accounts == {}

    def test_bad_devices_are_refused(self, api: Api, hq: dict[str, str]) -> None:
        bad_action = api.client.post(
            "/api/v1/devices",
            json={"community": GS, "id": "d1", "capabilities": ["launch_rocket"]},
            headers=hq,
        )
        assert bad_action.status_code == 422
        no_building = api.client.post(
            "/api/v1/devices", json={"community": GS, "id": "d1", "building": "b99"}, headers=hq
        )
        assert no_building.status_code == 404
        self._device(api, hq)
        twice = api.client.post(
            "/api/v1/devices", json={"community": GS, "id": "gs-gate-north"}, headers=hq
        )
        assert twice.status_code == 409

    def test_a_broker_that_is_down_leaves_nothing_registered(
        self, api: Api, hq: dict[str, str], broker: FakeBrokerAccounts
    ) -> None:
        broker.fail = True
        failed = api.client.post(
            "/api/v1/devices", json={"community": GS, "id": "gs-gate-north"}, headers=hq
        )
        assert failed.status_code == 503
        assert api.client.get(f"/api/v1/devices/{GS}/gs-gate-north", headers=hq).status_code == 404
        broker.fail = False
        self._device(api, hq)

    def test_disable_revokes_and_enable_issues_new_credentials(
        self, api: Api, hq: dict[str, str], broker: FakeBrokerAccounts
    ) -> None:
        first = self._device(api, hq)["credentials"]
        path = f"/api/v1/devices/{GS}/gs-gate-north"
        disabled = api.client.post(f"{path}/disable", headers=hq)
        assert disabled.json()["enabled"] is False
        assert disabled.json()["has_credentials"] is False
        assert broker.accounts == {}
        assert api.client.post(f"{path}/disable", headers=hq).status_code == 200  # idempotent
        assert api.client.post(f"{path}/credentials", headers=hq).status_code == 409
        enabled = api.client.post(f"{path}/enable", headers=hq).json()
        assert enabled["device"]["enabled"] is True
        assert enabled["credentials"]["password"] != first["password"]
        assert broker.accounts[first["username"]].password == enabled["credentials"]["password"]
        rotated = api.client.post(f"{path}/credentials", headers=hq).json()
        assert broker.accounts[first["username"]].password == rotated["password"]

    def test_guards_read_their_community_and_change_nothing(
        self, api: Api, hq: dict[str, str]
    ) -> None:
        self._device(api, hq)
        self._device(api, hq, community=GBG, id="gbg-gate-south")
        api.seed_user("guard-gs", [Role.SECURITY], [GS])
        guard = api.headers_for("guard-gs")
        listed = api.client.get("/api/v1/devices", headers=guard).json()
        assert [d["device"] for d in listed] == ["gs-gate-north"]
        other = api.client.get(f"/api/v1/devices/{GBG}/gbg-gate-south", headers=guard)
        assert other.status_code == 404
        create = api.client.post(
            "/api/v1/devices", json={"community": GS, "id": "x1"}, headers=guard
        )
        assert create.status_code == 403
        disable = api.client.post(f"/api/v1/devices/{GS}/gs-gate-north/disable", headers=guard)
        assert disable.status_code == 403

    def test_filters_narrow_the_device_list(self, api: Api, hq: dict[str, str]) -> None:
        self._device(api, hq)
        self._device(api, hq, id="gs-b01-smoke-f01", device_type="smoke_detector")
        smoke = api.client.get(
            "/api/v1/devices", params={"device_type": "smoke_detector"}, headers=hq
        ).json()
        assert [d["device"] for d in smoke] == ["gs-b01-smoke-f01"]
        in_gbg = api.client.get("/api/v1/devices", params={"community": GBG}, headers=hq).json()
        assert in_gbg == []

    def test_updates_change_descriptions_and_are_audited(
        self, api: Api, hq: dict[str, str]
    ) -> None:
        self._device(api, hq)
        self._place(api, hq, f"{GS}/buildings", {"id": "b01", "name": "1号楼"})
        changed = api.client.patch(
            f"/api/v1/devices/{GS}/gs-gate-north",
            json={"building": "b01", "report_interval_s": 30},
            headers=hq,
        )
        assert changed.status_code == 200, changed.text
        assert changed.json()["building"] == "b01"
        assert changed.json()["report_interval_s"] == 30
        assert "device.update" in self._audit_actions(api)
