"""The commands REST API on the state database: who may send and see commands, the registry
checks, idempotency, interlock refusals and the audit trail. No broker here (the runtime is
built offline, so commands stay queued); tests/integration/test_api_commands.py drives the
same endpoints against Mosquitto and a device process."""

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from hgj_api.security.permissions import Role
from hgj_statedb.models import AuditLogRow, DeviceRow
from tests.api_support import Api, api_settings, start_api
from tests.statedb_fixtures import signal

COMMANDS = "/api/v1/commands"
GS, GBG = "guangsha", "guanbeigou"
GATE, PUMP, LIGHT, OLD = "gs-gate-n", "gs-b06-pump", "gs-light-1", "gs-gate-old"
GBG_GATE = "gbg-gate-n"


def _body(device: str = GATE, action: str = "open_gate", **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "community": GS,
        "device": device,
        "action": action,
        "parameters": {"hold_open_s": 5.0} if action == "open_gate" else {},
        "reason": "delivery van at the north gate",
    }
    body.update(extra)
    return body


def _audit_actions(api: Api) -> list[tuple[str, str | None, str]]:
    with api.services.database.read_session() as session:
        rows = session.scalars(
            select(AuditLogRow).where(AuditLogRow.action.like("command.%")).order_by(AuditLogRow.id)
        )
        return [(row.action, row.community, row.outcome) for row in rows]


class Staff:
    def __init__(self, api: Api) -> None:
        for name, roles, communities in [
            ("gs.op", [Role.OPERATOR], [GS]),
            ("gs.guard", [Role.SECURITY], [GS]),
            ("gbg.op", [Role.OPERATOR], [GBG]),
            ("hq.admin", [Role.ADMIN], []),
            ("hq.boss", [Role.ADMIN, Role.OPERATOR], []),
        ]:
            api.seed_user(name, roles, communities)
        self.headers = {name: api.headers_for(name) for name in ("gs.op", "gs.guard", "gbg.op")}
        self.headers |= {name: api.headers_for(name) for name in ("hq.admin", "hq.boss")}

    def __getitem__(self, name: str) -> dict[str, str]:
        return self.headers[name]


class CommandCases:
    @pytest.fixture
    def api(self, state_db_url: str) -> Iterator[Api]:
        yield from start_api(api_settings(state_db_url), offline_commands=True)

    @pytest.fixture
    def staff(self, api: Api) -> Staff:
        now = api.clock()
        with api.services.database.write_session() as session, session.begin():
            for community, device, device_type, capabilities, enabled in [
                (GS, GATE, "gate", ["open_gate", "set_switch", "ping"], True),
                (GS, PUMP, "water_pump", ["set_switch", "reboot"], True),
                (GS, LIGHT, "street_light", [], True),
                (GS, OLD, "gate", ["open_gate"], False),
                (GBG, GBG_GATE, "gate", ["open_gate"], True),
            ]:
                session.add(
                    DeviceRow(
                        community=community,
                        device=device,
                        device_type=device_type,
                        capabilities=capabilities,
                        enabled=enabled,
                        created_at=now,
                        updated_at=now,
                    )
                )
        return Staff(api)

    def _post(
        self, api: Api, headers: dict[str, str], body: dict[str, Any], key: str | None = None
    ) -> Any:
        if key is not None:
            headers = headers | {"Idempotency-Key": key}
        return api.client.post(COMMANDS, json=body, headers=headers)

    def test_an_operator_sends_a_command_and_it_is_stored_queued_and_audited(
        self, api: Api, staff: Staff
    ) -> None:
        response = self._post(api, staff["gs.op"], _body())
        assert response.status_code == 201, response.text
        command = response.json()
        assert command["state"] == "queued"  # no broker here: nothing sends it
        assert (command["community"], command["device"], command["action"]) == (
            GS,
            GATE,
            "open_gate",
        )
        assert command["parameters"] == {"hold_open_s": 5.0}
        assert command["reason"] == "delivery van at the north gate"
        detail = api.client.get(f"{COMMANDS}/{command['id']}", headers=staff["gs.op"])
        assert detail.status_code == 200
        (created,) = detail.json()["timeline"]
        assert (created["from_state"], created["to_state"], created["cause"]) == (
            None,
            "queued",
            "created",
        )
        assert _audit_actions(api) == [("command.create", GS, "success")]
        with api.services.database.read_session() as session:
            record = session.scalars(
                select(AuditLogRow).where(AuditLogRow.action == "command.create")
            ).one()
            assert record.actor_username == "gs.op"
            assert record.target_id == command["id"]
            assert record.seq is not None  # sealed into the hash chain

    def test_who_may_send_and_who_may_only_look(self, api: Api, staff: Staff) -> None:
        sent = self._post(api, staff["gs.op"], _body()).json()
        assert self._post(api, staff["gs.guard"], _body()).status_code == 403
        assert self._post(api, staff["hq.admin"], _body()).status_code == 403
        assert self._post(api, staff["hq.boss"], _body()).status_code == 201
        no_token = api.client.post(COMMANDS, json=_body())
        assert no_token.status_code == 401
        for viewer in ("gs.guard", "hq.admin"):
            listed = api.client.get(COMMANDS, headers=staff[viewer])
            assert listed.status_code == 200
            assert sent["id"] in [c["id"] for c in listed.json()["items"]]
            assert (
                api.client.get(f"{COMMANDS}/{sent['id']}", headers=staff[viewer]).status_code == 200
            )

    def test_devices_outside_scope_or_unknown_are_not_found(self, api: Api, staff: Staff) -> None:
        assert self._post(api, staff["gbg.op"], _body()).status_code == 404
        assert (
            self._post(api, staff["gs.op"], _body(community=GBG, device=GBG_GATE)).status_code
            == 404
        )
        assert self._post(api, staff["gs.op"], _body(device="gs-no-such")).status_code == 404
        # and nothing was stored or audited for them
        assert api.client.get(COMMANDS, headers=staff["hq.boss"]).json()["items"] == []
        assert _audit_actions(api) == []

    def test_disabled_devices_and_unsupported_actions_are_refused(
        self, api: Api, staff: Staff
    ) -> None:
        disabled = self._post(api, staff["gs.op"], _body(device=OLD))
        assert disabled.status_code == 409
        assert "disabled" in disabled.json()["detail"]
        unsupported = self._post(api, staff["gs.op"], _body(device=PUMP))
        assert unsupported.status_code == 422
        assert "open_gate" in unsupported.json()["detail"]
        # A device that lists no capabilities takes any action of the contract.
        assert (
            self._post(api, staff["gs.op"], _body(device=LIGHT, action="ping")).status_code == 201
        )
        bad_params = self._post(
            api, staff["gs.op"], _body(action="set_switch", parameters={"colour": "red"})
        )
        assert bad_params.status_code == 422
        no_reason = _body()
        del no_reason["reason"]
        assert self._post(api, staff["gs.op"], no_reason).status_code == 422

    def test_idempotent_repeat_and_conflicting_key(self, api: Api, staff: Staff) -> None:
        first = self._post(api, staff["gs.op"], _body(), key="k-1")
        assert first.status_code == 201
        again = self._post(api, staff["gs.op"], _body(), key="k-1")
        assert again.status_code == 200
        assert again.json()["id"] == first.json()["id"]
        other = self._post(api, staff["gs.op"], _body(reason="something else"), key="k-1")
        assert other.status_code == 409
        assert "Idempotency-Key" in other.json()["detail"]
        listed = api.client.get(COMMANDS, headers=staff["gs.op"]).json()["items"]
        assert [c["id"] for c in listed] == [first.json()["id"]]
        assert [a for a, _, _ in _audit_actions(api)] == ["command.create"]

    def test_an_interlock_refuses_switching_off_a_pump_during_a_fire(
        self, api: Api, staff: Staff
    ) -> None:
        off = _body(device=PUMP, action="set_switch", parameters={"on": False})
        assert self._post(api, staff["gs.op"], off, key="before").json()["state"] == "queued"
        change = api.services.alerts.apply(signal("raise", -5, community=GS, rule="smoke"))
        assert change is not None
        refused = self._post(api, staff["gs.op"], off)
        assert refused.status_code == 201
        command = refused.json()
        assert command["state"] == "refused"
        assert command["error_code"] == "interlock_fire_pump"
        assert change.alert.alert_id in command["error"]
        # Switching it on, or a fire in another community, is not refused.
        on = _body(device=PUMP, action="set_switch", parameters={"on": True})
        assert self._post(api, staff["gs.op"], on).json()["state"] == "queued"
        assert _audit_actions(api)[1] == ("command.refused", GS, "denied")

    def test_lists_are_scoped_filtered_and_paged(self, api: Api, staff: Staff) -> None:
        ids = []
        for _ in range(3):
            ids.append(self._post(api, staff["gs.op"], _body()).json()["id"])
            api.clock.advance(seconds=1)
        ids.append(self._post(api, staff["gs.op"], _body(device=LIGHT, action="ping")).json()["id"])
        gbg = self._post(api, staff["gbg.op"], _body(community=GBG, device=GBG_GATE)).json()

        def listed(name: str, **params: Any) -> dict[str, Any]:
            response = api.client.get(COMMANDS, params=params, headers=staff[name])
            assert response.status_code == 200, response.text
            page: dict[str, Any] = response.json()
            return page

        assert [c["id"] for c in listed("gs.op")["items"]] == ids[::-1]
        assert [c["id"] for c in listed("gs.op", device=LIGHT)["items"]] == [ids[3]]
        assert listed("gs.op", community=GBG)["items"] == []
        assert [c["id"] for c in listed("hq.admin", community=GBG)["items"]] == [gbg["id"]]
        assert listed("gs.op", state="succeeded")["items"] == []
        assert len(listed("gs.op", state="queued")["items"]) == 4
        first = listed("gs.op", limit=3)
        assert first["next_offset"] == 3
        rest = listed("gs.op", limit=3, offset=3)
        assert [c["id"] for c in first["items"] + rest["items"]] == ids[::-1]
        assert rest["next_offset"] is None
        assert api.client.get(f"{COMMANDS}/{gbg['id']}", headers=staff["gs.op"]).status_code == 404
        assert api.client.get(f"{COMMANDS}/c-nothing", headers=staff["gs.op"]).status_code == 404


class NoBrokerCases:
    def test_without_a_broker_commands_answer_503(self, api: Api) -> None:
        api.seed_user("gs.op", [Role.OPERATOR], [GS])
        response = api.client.post(COMMANDS, json=_body(), headers=api.headers_for("gs.op"))
        assert response.status_code == 503
        assert "HGJ_API_MQTT_HOST" in response.json()["detail"]
        assert api.client.get(COMMANDS, headers=api.headers_for("gs.op")).status_code == 200
