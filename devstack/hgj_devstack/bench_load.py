"""Background telemetry for the alert-latency bench: a paced publisher in its own process.

`python -m hgj_devstack.bench_load HOST PORT USERNAME ROOT RATE DEVICES` (password on the
first line of stdin) publishes contract-valid telemetry from DEVICES simulated devices at
RATE messages per second until stdin reaches end of file, then prints one JSON line:
``{"sent": n, "acked": n, "seconds": s}``. It runs in a process of its own so that building
and publishing 5,000 messages a second does not compete for the GIL with the thread that
timestamps alert arrivals, which would add the load generator's cost to the figure.
"""

import json
import sys
import threading
import time

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from hgj_contracts import TELEMETRY, Reading, Telemetry, utc_now

# Paho's network thread wakes at most every this many seconds to send what was queued; the
# pacing loop sleeps as long between slices, so the rate stays steady at millisecond scale.
SLICE_S = 0.002
# Behind schedule by more than this (a stalled broker, a starved core), the publisher drops
# the missed slots instead of bursting: the background should be steady, and the achieved
# rate it reports says how far it fell short.
MAX_CATCH_UP_S = 0.25


def publish_load(
    client: mqtt.Client, root: str, rate: float, devices: int, stop: threading.Event
) -> tuple[int, float]:
    """Publish until ``stop`` is set; the number sent and the seconds it took."""
    topics = [
        TELEMETRY.topic(
            root=root, community="guangsha" if d % 2 else "guanbeigou", device=f"load-{d:04d}"
        )
        for d in range(devices)
    ]
    seqs = [0] * devices
    sent = 0
    started = time.perf_counter()
    while not stop.is_set():
        due = int((time.perf_counter() - started) * rate)
        if due - sent > rate * MAX_CATCH_UP_S:
            sent = due - int(rate * MAX_CATCH_UP_S)
        while sent < due:
            device = sent % devices
            seqs[device] += 1
            payload = Telemetry(
                ts=utc_now(),
                seq=seqs[device],
                metrics={
                    "temperature": Reading(value=20.0 + (sent % 50) / 10, unit="Cel"),
                    "humidity": Reading(value=40.0 + device % 20, unit="%RH"),
                },
            )
            info = client.publish(topics[device], TELEMETRY.encode(payload), qos=TELEMETRY.qos)
            if info.rc != mqtt.MQTT_ERR_SUCCESS:
                raise RuntimeError(f"telemetry publish failed: {mqtt.error_string(info.rc)}")
            sent += 1
        time.sleep(SLICE_S)
    return sent, time.perf_counter() - started


def main() -> None:
    host, port, username, root, rate, devices = sys.argv[1:7]
    password = sys.stdin.readline().strip()
    acked = 0

    def on_publish(*_: object) -> None:
        nonlocal acked  # only paho's network thread writes it
        acked += 1

    client = mqtt.Client(
        callback_api_version=CallbackAPIVersion.VERSION2,
        client_id="bench-alerts-load",
        protocol=mqtt.MQTTv5,
    )
    client.username_pw_set(username, password)
    client.max_inflight_messages_set(100)  # the window the throughput bench uses too
    client.on_publish = on_publish
    client.connect(host, int(port))
    client.loop_start()
    stop = threading.Event()

    def stop_at_end_of_input() -> None:
        sys.stdin.read()
        stop.set()

    threading.Thread(target=stop_at_end_of_input, daemon=True).start()
    sent, seconds = publish_load(client, root, float(rate), int(devices), stop)
    acked_in_time = acked  # acknowledged while the load ran: the achieved rate counts these
    client.disconnect()
    client.loop_stop()
    print(json.dumps({"sent": sent, "acked": acked_in_time, "seconds": seconds}), flush=True)


if __name__ == "__main__":
    main()
