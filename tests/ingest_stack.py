"""A running slice for ingest tests: a real broker with device accounts, and ingest in-process."""

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from pydantic import SecretStr

from hgj_devstack.accounts import MqttAccount, admin_account, device_account, service_account
from hgj_devstack.influx import InfluxDB
from hgj_devstack.mosquitto import Mosquitto
from hgj_ingest.service import IngestService
from hgj_ingest.settings import IngestSettings
from hgj_sim.inventory import SimDevice
from hgj_sim.model import load_community
from tests.helpers import MosquittoFactory

INSTANCE = "ingest-t"


@dataclass
class Slice:
    root: str
    broker: Mosquitto
    admin: MqttAccount
    devices: dict[str, tuple[SimDevice, MqttAccount]]
    settings: IngestSettings

    def ingest(self) -> IngestService:
        service = IngestService(self.settings)
        service.start()
        assert service.wait_ready(10), "ingest did not connect"
        return service


def pick_devices(community: str, device_type: str, count: int) -> list[SimDevice]:
    devices = [d for d in load_community(community).devices if d.device_type == device_type]
    return devices[:count]


@contextmanager
def ingest_slice(
    factory: MosquittoFactory,
    influx: InfluxDB,
    db: str,
    root: str,
    devices: list[SimDevice],
    community: str = "guangsha",
    batch_size: int = 200,
) -> Iterator[Slice]:
    admin = admin_account(root)
    service = service_account(root, INSTANCE)
    device_accounts = {d.id: (d, device_account(root, community, d.id)) for d in devices}
    broker = factory([admin, service, *(a for _, a in device_accounts.values())])
    state_dir = Path(tempfile.mkdtemp(prefix="hgj-state-"))
    settings = IngestSettings(
        state_db_url=f"sqlite:///{state_dir / 'state.sqlite'}",
        root=root,
        instance=INSTANCE,
        mqtt_host=broker.host,
        mqtt_port=broker.port,
        mqtt_password=SecretStr(service.password),
        influx_url=influx.url,
        influx_db=db,
        batch_size=batch_size,
        flush_interval_s=0.1,
        status_interval_s=0.5,
    )
    try:
        yield Slice(root, broker, admin, device_accounts, settings)
    finally:
        shutil.rmtree(state_dir, ignore_errors=True)
