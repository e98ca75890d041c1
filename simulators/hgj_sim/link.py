"""Where the broker is and how a device waits before trying it again."""

import random
from dataclasses import dataclass
from typing import Literal

MqttProtocol = Literal["5", "3.1.1"]


@dataclass(frozen=True, slots=True)
class BrokerAddress:
    host: str = "127.0.0.1"
    port: int = 1883
    protocol: MqttProtocol = "5"
    """MQTT 5 everywhere except the embedded stand-in broker of `make run`, which speaks 3.1.1."""


@dataclass(frozen=True, slots=True)
class Backoff:
    """Reconnect delays doubling from ``initial_s`` up to ``maximum_s``.

    Each delay is drawn between half and all of its nominal value so that hundreds of devices
    dropped by one broker restart do not all reconnect in the same instant.
    """

    initial_s: float = 1.0
    maximum_s: float = 60.0

    def delay_s(self, failures: int, rng: random.Random) -> float:
        nominal = min(self.maximum_s, self.initial_s * 2 ** min(max(failures, 1) - 1, 30))
        return rng.uniform(nominal / 2, nominal)
