"""The raw pipe: a bare paho subscriber that batches line protocol into InfluxDB.

It is the baseline `make bench` measures ingest against, in the same run on the same broker
and database: no validation, no contract, no manual acks, just the cost of moving bytes.
"""

import json
import threading
from datetime import datetime
from urllib.parse import urlencode

import paho.mqtt.client as mqtt
import urllib3
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties


class RawPipe:
    def __init__(
        self,
        *,
        host: str,
        port: int,
        username: str,
        password: str,
        client_id: str,
        topic_filter: str,
        influx_url: str,
        db: str,
        batch_size: int = 5000,
        flush_interval_s: float = 0.5,
    ) -> None:
        self._host, self._port, self._filter = host, port, topic_filter
        self._write_url = f"{influx_url}/write?" + urlencode({"db": db, "precision": "u"})
        self._batch_size, self._interval = batch_size, flush_interval_s
        self._lines: list[str] = []
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._subscribed = threading.Event()
        self.written = 0
        self._http = urllib3.PoolManager(maxsize=1)
        self._client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=mqtt.MQTTv5,
        )
        self._client.username_pw_set(username, password)
        self._client.on_connect = lambda c, *_: c.subscribe(self._filter, qos=1)
        self._client.on_subscribe = lambda *_: self._subscribed.set()
        self._client.on_message = self._on_message
        self._writer = threading.Thread(target=self._write_loop, daemon=True)

    def start(self) -> None:
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = 3600
        self._client.connect(self._host, self._port, clean_start=False, properties=props)
        self._client.loop_start()
        self._writer.start()

    def wait_subscribed(self, timeout: float) -> bool:
        return self._subscribed.wait(timeout)

    def stop(self) -> None:
        self._stop.set()
        with self._cond:
            self._cond.notify()
        self._writer.join()
        self._client.disconnect()
        self._client.loop_stop()
        self._http.clear()

    def _on_message(self, _c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        data = json.loads(msg.payload)
        _root, community, _dev, device, _leaf = msg.topic.split("/")
        fields = ",".join(f"{name}={m['value']}" for name, m in data["metrics"].items())
        ts = int(datetime.fromisoformat(data["ts"]).timestamp() * 1_000_000)
        line = f"telemetry,community={community},device={device} {fields},seq={data['seq']}i {ts}"
        with self._cond:
            self._lines.append(line)
            if len(self._lines) >= self._batch_size:
                self._cond.notify()

    def _write_loop(self) -> None:
        while not self._stop.is_set():
            with self._cond:
                if len(self._lines) < self._batch_size:
                    self._cond.wait(self._interval)
                batch, self._lines = self._lines, []
            if batch:
                response = self._http.request("POST", self._write_url, body="\n".join(batch))
                if response.status >= 300:
                    raise RuntimeError(f"raw pipe write failed: {response.status}")
                self.written += len(batch)
