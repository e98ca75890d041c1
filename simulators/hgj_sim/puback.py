"""The broker's verdict on a publish, which aiomqtt does not pass on.

aiomqtt resolves ``publish()`` on any PUBACK and drops its reason code. An MQTT 5 Mosquitto
answers a publish its ACL denies with PUBACK "Not authorized" (0x87) and discards the message,
so without the code a device with a wrong ACL or topic root would count every lost reading as
sent. (MQTT 3.1.1 has no reason codes; there a denial stays invisible to the publisher.)
"""

from typing import Any, cast

import aiomqtt
import paho.mqtt.client as mqtt
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode


class PubackWatch:
    """Remembers the reason code of the latest PUBACK a client received.

    A simulated device awaits each publish before starting the next, so "the latest" is the
    answer to the publish just awaited.
    """

    def __init__(self, client: aiomqtt.Client) -> None:
        # Reaches into aiomqtt's paho client (private, stable through aiomqtt 2.x, which the
        # package pins) to chain a callback in front of aiomqtt's own.
        paho: mqtt.Client = client._client
        self._forward = cast(mqtt.CallbackOnPublish_v2, paho.on_publish)
        self.last: ReasonCode | None = None
        paho.on_publish = self._on_publish

    def _on_publish(
        self,
        client: mqtt.Client,
        userdata: Any,  # noqa: ANN401 - paho's callback signature
        mid: int,
        reason_code: ReasonCode,
        properties: Properties,
    ) -> None:
        self.last = reason_code
        self._forward(client, userdata, mid, reason_code, properties)

    def refused(self) -> ReasonCode | None:
        """The failure code of the latest PUBACK, or None when it was accepted."""
        return self.last if self.last is not None and self.last.is_failure else None
