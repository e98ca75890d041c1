"""The API's paho clients (the live stream's feed, the command dispatcher, the presence
consumer) are made here, so that every one speaks MQTT 5, logs in, uses TLS and backs off on
reconnect the same way."""

import ssl

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

Login = tuple[str, str | None]
"""(username, password or None), as ``ApiSettings.mqtt_login`` gives it."""


def new_client(
    client_id: str,
    *,
    login: Login | None,
    tls: bool,
    ca_file: str | None,
    manual_ack: bool = False,
) -> mqtt.Client:
    """A paho MQTT 5 client, not yet connected, with no callbacks set."""
    client = mqtt.Client(
        callback_api_version=CallbackAPIVersion.VERSION2,
        client_id=client_id,
        protocol=mqtt.MQTTv5,
        manual_ack=manual_ack,
    )
    if login is not None:
        client.username_pw_set(*login)
    if tls:
        client.tls_set_context(ssl.create_default_context(cafile=ca_file))
    client.reconnect_delay_set(min_delay=1, max_delay=30)
    return client
