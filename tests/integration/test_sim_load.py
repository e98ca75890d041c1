"""Load mode against the real broker: gateway style and one connection per device, every
message contract-valid and acknowledged, the gateway's ACL holding it to its community, and the
command line's summary."""

import json
from collections import defaultdict
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hgj_contracts import match_topic
from hgj_devstack.accounts import admin_account, device_account, gateway_account
from hgj_sim.cli import app
from hgj_sim.load.engine import LoadEngine, LoadPlan, credentials_from
from hgj_sim.load.fleet import gateway_ids, load_fleet
from tests.helpers import MosquittoFactory, MqttTestClient, wait_until
from tests.sim_support import contract_violations

pytestmark = pytest.mark.integration

COMMUNITY = "load"


def _plan(root: str, port: int, **changes: object) -> LoadPlan:
    base: dict[str, object] = {
        "host": "127.0.0.1",
        "port": port,
        "root": root,
        "community": COMMUNITY,
        "devices": 50,
        "rate": 0.0,
        "messages": 1000,
        "connections": 2,
    }
    return LoadPlan(**(base | changes))  # type: ignore[arg-type]


@pytest.mark.parametrize("per_device", [False, True], ids=["gateways", "per-device"])
def test_every_message_is_valid_acknowledged_and_in_order(
    mosquitto_factory: MosquittoFactory, topic_root: str, per_device: bool
) -> None:
    admin = admin_account(topic_root)
    gateways = [gateway_account(topic_root, COMMUNITY, g) for g in gateway_ids("ld", 2)]
    devices = [
        device_account(topic_root, COMMUNITY, d.id)
        for d in load_fleet(topic_root, COMMUNITY, "ld", 20)
    ]
    broker = mosquitto_factory([admin, *gateways, *devices])
    passwords = {a.username: a.password for a in [*gateways, *devices]}
    plan = _plan(
        topic_root,
        broker.port,
        devices=20 if per_device else 50,
        connections=None if per_device else 2,
        rate=2000.0 if per_device else 0.0,
        messages=400 if per_device else 1000,
    )
    with MqttTestClient.connected(broker, admin) as watcher:
        watcher.subscribe(f"{topic_root}/{COMMUNITY}/#")
        engine = LoadEngine(plan, credentials_from(passwords, COMMUNITY))
        engine.connect()
        seen: list[int] = []
        summary = engine.run(lambda c: seen.append(c.sent))
        engine.close()
        assert plan.messages is not None
        wait_until(
            lambda: sum(not m.topic.endswith("/status") for m in watcher.messages) == plan.messages,
            message=f"{plan.messages} readings and face events delivered",
        )
        messages = watcher.messages
    assert (summary.counters.sent, summary.counters.acked, summary.counters.errors) == (
        plan.messages,
        plan.messages,
        0,
    )
    assert seen[-1] == plan.messages  # the progress callback saw the end
    assert contract_violations(messages) == []
    seqs: dict[str, list[int]] = defaultdict(list)
    for m in messages:
        if not m.topic.endswith("/status"):
            match = match_topic(m.topic)
            payload = match.channel.decode(m.payload, match.params)
            seqs[match.params["device"]].append(payload.seq)
    assert any("/event/face" in m.topic for m in messages)
    assert len(seqs) == plan.devices
    assert all(s == list(range(1, len(s) + 1)) for s in seqs.values())
    statuses = {m.topic.split("/")[3] for m in messages if m.topic.endswith("/status")}
    assert statuses == (
        {d.id for d in load_fleet(topic_root, COMMUNITY, "ld", 20)}
        if per_device
        else {"ld-gw-01", "ld-gw-02"}
    )


def test_a_gateway_cannot_publish_for_another_community(
    mosquitto_factory: MosquittoFactory, topic_root: str
) -> None:
    gateway = gateway_account(topic_root, COMMUNITY, "ld-gw-01")
    broker = mosquitto_factory([gateway])
    plan = _plan(topic_root, broker.port, community="guangsha", messages=50, connections=1)
    passwords = {gateway.username: gateway.password}
    engine = LoadEngine(plan, credentials_from(passwords, COMMUNITY, username=gateway.username))
    engine.connect()
    summary = engine.run()
    engine.close()
    # MQTT 5: the broker answers each denied publish with PUBACK "not authorised".
    assert (summary.counters.acked, summary.counters.errors) == (0, 50)


def test_the_command_line_prints_a_summary(
    mosquitto_factory: MosquittoFactory, topic_root: str, tmp_path: Path
) -> None:
    admin = admin_account(topic_root)
    broker = mosquitto_factory([admin])
    credentials = tmp_path / "creds.json"
    credentials.write_text(json.dumps({admin.username: admin.password}), encoding="utf-8")
    args = ["load", "--devices", "30", "--rate", "3000", "--messages", "300", "--connections", "3"]
    args += ["--username", "admin", "--credentials", str(credentials), "--root", topic_root]
    args += ["--port", str(broker.port)]
    table = CliRunner().invoke(app, args, env={"COLUMNS": "200"})
    assert table.exit_code == 0, table.output
    assert "acknowledged" in table.output
    assert "3 gateways" in table.output
    figures = CliRunner().invoke(app, [*args, "--json"])
    assert figures.exit_code == 0, figures.output
    summary = json.loads(figures.output.strip().splitlines()[-1])
    assert (summary["sent"], summary["acked"], summary["errors"]) == (300, 300, 0)
    assert summary["rate"] > 0
