"""The community scoping helpers against real queries: what a scoped user's filter keeps."""

import pytest
from fastapi import HTTPException
from sqlalchemy import select

from hgj_api.principal import Principal
from hgj_api.scope import in_scope_or_404, scoped
from hgj_api.security.permissions import Role
from hgj_statedb.device_registry import DeviceRegistry
from hgj_statedb.models import DeviceRow
from tests.api_support import Api

GUARD_GS = Principal("u-1", "gs", frozenset({Role.SECURITY}), frozenset({"guangsha"}))
PLATFORM = Principal("u-2", "hq", frozenset({Role.ADMIN}), all_communities=True)
NOBODY = Principal("u-3", "none", frozenset({Role.SECURITY}))


class ScopeQueryCases:
    @pytest.fixture
    def devices(self, api: Api) -> Api:
        registry = DeviceRegistry(api.services.database.engine)
        for community, device in [
            ("guangsha", "gs-b01-th"),
            ("guangsha", "gs-b02-th"),
            ("guanbeigou", "gbg-gate-n"),
        ]:
            registry.register(community, device)
        return api

    def _visible(
        self, api: Api, principal: Principal, requested: list[str] | None = None
    ) -> list[str]:
        statement = scoped(
            select(DeviceRow.device), principal, DeviceRow.community, requested
        ).order_by(DeviceRow.device)
        with api.services.database.read_session() as session:
            return list(session.scalars(statement))

    def test_scoped_queries_keep_the_users_communities(self, devices: Api) -> None:
        assert self._visible(devices, GUARD_GS) == ["gs-b01-th", "gs-b02-th"]
        assert self._visible(devices, PLATFORM) == ["gbg-gate-n", "gs-b01-th", "gs-b02-th"]
        assert self._visible(devices, NOBODY) == []

    def test_a_requested_community_narrows_and_never_widens(self, devices: Api) -> None:
        assert self._visible(devices, PLATFORM, ["guanbeigou"]) == ["gbg-gate-n"]
        assert self._visible(devices, GUARD_GS, ["guanbeigou"]) == []
        assert self._visible(devices, GUARD_GS, ["guangsha", "guanbeigou"]) == [
            "gs-b01-th",
            "gs-b02-th",
        ]

    def test_objects_outside_the_scope_are_not_found(self, devices: Api) -> None:
        with devices.services.database.read_session() as session:
            mine = session.get(DeviceRow, ("guangsha", "gs-b01-th"))
            theirs = session.get(DeviceRow, ("guanbeigou", "gbg-gate-n"))
            missing = session.get(DeviceRow, ("guangsha", "gs-b99-th"))
        assert in_scope_or_404(mine, GUARD_GS, what="device") is mine
        assert in_scope_or_404(theirs, PLATFORM, what="device") is theirs
        for obj in (theirs, missing):
            with pytest.raises(HTTPException) as raised:
                in_scope_or_404(obj, GUARD_GS, what="device")
            assert (raised.value.status_code, raised.value.detail) == (404, "device not found")
