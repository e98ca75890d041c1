"""A device that only says it is there, run as its own process so a test can kill it
(``python -m tests.status_device HOST PORT USERNAME ROOT COMMUNITY DEVICE``, the password on
stdin): its last will (offline, connection_lost) is composed at connect with the online
status's ``ts`` and the next ``seq``, as the contract asks; it prints ``online`` once its
retained online status is acknowledged, then waits to be killed."""

import sys
import threading

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from hgj_contracts import DEVICE_STATUS, DeviceStatus, utc_now


def main(host: str, port: str, username: str, root: str, community: str, device: str) -> None:
    topic = DEVICE_STATUS.topic(root=root, community=community, device=device)
    now = utc_now()
    online = DeviceStatus(ts=now, seq=1, state="online", reason="startup")
    will = DeviceStatus(ts=now, seq=2, state="offline", reason="connection_lost")
    client = mqtt.Client(
        callback_api_version=CallbackAPIVersion.VERSION2,
        client_id=f"dev-{community}-{device}",
        protocol=mqtt.MQTTv5,
    )
    client.username_pw_set(username, sys.stdin.readline().strip())
    client.will_set(topic, DEVICE_STATUS.encode(will), qos=1, retain=True)
    client.connect(host, int(port), keepalive=5)
    client.loop_start()
    info = client.publish(topic, DEVICE_STATUS.encode(online), qos=1, retain=True)
    info.wait_for_publish(timeout=10)
    print("online", flush=True)
    threading.Event().wait()  # until killed


if __name__ == "__main__":
    main(*sys.argv[1:7])
