"""A paho client set up for at-least-once consumption.

DESIGN.md's measurements decide every setting here: a fixed client id with clean_start False
and a session expiry (or a restarted ingest loses what was queued for it), manual acks sent
only after the write (or a crash loses what was buffered), and a Receive Maximum large enough
for whole batches to be in flight at once.
"""

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from hgj_contracts import SERVICE_STATUS, ServiceStatus, utc_now
from hgj_ingest.settings import IngestSettings

SERVICE_NAME = "ingest"


def status_payload(settings: IngestSettings, state: str, counters: dict[str, int] | None) -> bytes:
    status = ServiceStatus(
        ts=utc_now(),
        state="online" if state == "online" else "offline",
        instance=settings.instance,
        version="0.1.0",
        counters=counters,
    )
    return SERVICE_STATUS.encode(status)


def status_topic(settings: IngestSettings) -> str:
    return SERVICE_STATUS.topic(root=settings.root, service=settings.instance)


def make_client(settings: IngestSettings) -> mqtt.Client:
    v5 = settings.mqtt_protocol == "5"
    client = mqtt.Client(
        callback_api_version=CallbackAPIVersion.VERSION2,
        client_id=settings.instance,
        protocol=mqtt.MQTTv5 if v5 else mqtt.MQTTv311,
        clean_session=None if v5 else False,
        manual_ack=True,
    )
    if settings.mqtt_password is not None:
        username = settings.mqtt_username or f"svc.{settings.instance}"
        client.username_pw_set(username, settings.mqtt_password.get_secret_value())
    elif settings.mqtt_username is not None:
        client.username_pw_set(settings.mqtt_username)
    client.will_set(
        status_topic(settings),
        status_payload(settings, "offline", None),
        qos=SERVICE_STATUS.qos,
        retain=SERVICE_STATUS.retain,
    )
    client.reconnect_delay_set(min_delay=1, max_delay=30)
    return client


def connect_properties(settings: IngestSettings) -> Properties | None:
    if settings.mqtt_protocol != "5":
        return None
    props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    props.SessionExpiryInterval = settings.session_expiry_s
    props.ReceiveMaximum = settings.receive_maximum
    return props
