"""The shipped broker and InfluxDB config templates render completely, with the settings the
design depends on; and the small socket helpers behave."""

import socket
from pathlib import Path

import pytest

from hgj_devstack.influx import InfluxDB, quote_identifier
from hgj_devstack.mosquitto_config import (
    DEFAULT_TEMPLATE,
    BrokerPaths,
    dynsec_plugin,
    render_config,
)
from hgj_devstack.mqtt_probe import _remaining_length, connect_packet
from hgj_devstack.ports import LOOPBACK, free_port, wait_for_port


def settings(text: str) -> dict[str, list[str]]:
    """Directive -> values, ignoring comments (Mosquitto allows repeated directives)."""
    found: dict[str, list[str]] = {}
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.strip().partition(" ")
            found.setdefault(key, []).append(value)
    return found


def test_mosquitto_template_fills_every_placeholder(tmp_path: Path) -> None:
    paths = BrokerPaths(tmp_path)
    text = render_config(DEFAULT_TEMPLATE.read_text(), paths, 18830, "127.0.0.1", "nobody")
    assert "$" not in text
    conf = settings(text)
    assert conf["listener"] == ["18830 127.0.0.1"]
    assert conf["allow_anonymous"] == ["false"]
    assert "password_file" not in conf
    assert "acl_file" not in conf
    assert conf["plugin"] == [str(dynsec_plugin())]
    assert conf["plugin_opt_config_file"] == [str(paths.dynsec_file)]
    assert conf["persistence_location"] == [f"{paths.data_dir}/"]
    assert conf["persistence_file"] == [paths.persistence_file.name]
    assert conf["log_dest"] == [f"file {paths.log_file}"]


def test_mosquitto_template_sizes_queues_and_windows() -> None:
    conf = settings(DEFAULT_TEMPLATE.read_text())
    assert int(conf["max_queued_messages"][0]) >= 1_000_000
    assert int(conf["max_queued_bytes"][0]) >= 1024**3
    assert int(conf["max_inflight_messages"][0]) > 5_000
    assert int(conf["max_packet_size"][0]) > 256 * 1024
    assert conf["persistence"] == ["true"]
    assert conf["autosave_interval"] == ["1"]


def test_influxdb_template_fills_every_placeholder(tmp_path: Path) -> None:
    server = InfluxDB(tmp_path, http_port=18086)
    text = server._render_config()
    assert "$" not in text
    assert f'bind-address = "{LOOPBACK}:18086"' in text
    assert 'bind-address = "127.0.0.1:8088"' not in text  # two servers would collide
    assert "reporting-disabled = true" in text


@pytest.mark.parametrize("bad", ['x"; DROP DATABASE y', "a b", "1abc", "", "a" * 65])
def test_identifiers_outside_the_allow_list_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="not an allowed identifier"):
        quote_identifier(bad)


def test_identifier_is_quoted() -> None:
    assert quote_identifier("t_0a1b") == '"t_0a1b"'


def test_free_port_can_be_bound_and_waited_for() -> None:
    port = free_port()
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind((LOOPBACK, port))
        server.listen()
        wait_for_port(LOOPBACK, port, timeout=5)


def test_wait_for_port_gives_up() -> None:
    with pytest.raises(TimeoutError, match="nothing accepted"):
        wait_for_port(LOOPBACK, free_port(), timeout=0.2)


def test_connect_packet_encoding() -> None:
    assert _remaining_length(0) == b"\x00"
    assert _remaining_length(127) == b"\x7f"
    assert _remaining_length(128) == b"\x80\x01"
    assert _remaining_length(16_384) == b"\x80\x80\x01"
    packet = connect_packet("c", "u", "p", keepalive=10)
    assert packet == (
        b"\x10\x13" + b"\x00\x04MQTT\x04\xc2\x00\x0a" + b"\x00\x01c" + b"\x00\x01u" + b"\x00\x01p"
    )
