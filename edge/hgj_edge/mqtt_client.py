"""The paho client an edge agent publishes with.

DESIGN.md's measurements decide the settings: a fixed client id with Clean Start off and a
session expiry (paho 2.x starts every new client with Clean Start on, and the session is lost),
MQTT 5 for PUBACK reason codes (a denied publish looks like a success on 3.1.1), and paho's own
in-flight window equal to the publisher's so that paho never queues behind it.
"""

from dataclasses import dataclass

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from hgj_edge.settings import PublisherSettings


@dataclass(frozen=True, slots=True)
class Will:
    """The message the broker publishes when the agent vanishes (its status, offline)."""

    topic: str
    payload: bytes
    qos: int = 1
    retain: bool = True


def make_client(settings: PublisherSettings, will: Will | None = None) -> mqtt.Client:
    client = mqtt.Client(
        callback_api_version=CallbackAPIVersion.VERSION2,
        client_id=settings.client_id,
        protocol=mqtt.MQTTv5,
    )
    if settings.username is not None:
        password = settings.password.get_secret_value() if settings.password else None
        client.username_pw_set(settings.username, password)
    if settings.tls is not None:
        tls = settings.tls
        client.tls_set(
            ca_certs=str(tls.ca_file),
            certfile=str(tls.cert_file) if tls.cert_file else None,
            keyfile=str(tls.key_file) if tls.key_file else None,
        )
    if will is not None:
        client.will_set(will.topic, will.payload, qos=will.qos, retain=will.retain)
    client.max_inflight_messages_set(settings.inflight_window)
    client.reconnect_delay_set(settings.reconnect_min_s, settings.reconnect_max_s)
    return client


def connect_properties(settings: PublisherSettings) -> Properties:
    properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    properties.SessionExpiryInterval = settings.session_expiry_s
    return properties
