"""An embedded MQTT broker (amqtt, pure Python) for machines without Mosquitto.

Only `make run` uses it, and only when the mosquitto binary is missing: it speaks MQTT 3.1.1
(not 5), allows anonymous loopback clients and keeps sessions in memory, so it has none of
the shipped broker's authentication, ACLs or crash-safe persistence. Tests always use the
real Mosquitto. Run as ``python -m hgj_devstack.embedded_broker PORT``.
"""

import asyncio
import logging
import signal
import sys

from amqtt.broker import Broker


async def serve(port: int) -> None:
    config = {
        "listeners": {"default": {"type": "tcp", "bind": f"127.0.0.1:{port}"}},
        "plugins": {
            "amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True},
        },
    }
    broker = Broker(config)
    await broker.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await broker.shutdown()


def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(serve(int(sys.argv[1])))


if __name__ == "__main__":
    main()
