"""The catalogue of telemetry metrics: each name has exactly one unit and is always a float.

Fixing the unit and the type per name in the contract is what keeps InfluxDB free of field-type
conflicts: a field that once arrived as an integer and later as a float (or a string) would be
rejected by InfluxDB for the rest of the shard. Booleans travel as 0.0/1.0.
Units follow SenML/UCUM spellings.
"""

from dataclasses import dataclass
from types import MappingProxyType


@dataclass(frozen=True, slots=True)
class MetricSpec:
    name: str
    unit: str
    description: str


_SPECS = (
    MetricSpec("temperature", "Cel", "air temperature, degrees Celsius"),
    MetricSpec("humidity", "%RH", "relative humidity"),
    MetricSpec("battery", "%", "battery charge"),
    MetricSpec("rssi", "dBm", "radio signal strength"),
    MetricSpec("smoke_density", "%/m", "smoke obscuration per metre"),
    MetricSpec("co", "ppm", "carbon monoxide"),
    MetricSpec("water_leak", "1", "1 when water is detected at the probe"),
    MetricSpec("water_level", "cm", "water level above the sump floor"),
    MetricSpec("door_open", "1", "1 when the door contact is open"),
    MetricSpec("current", "A", "electric current"),
    MetricSpec("voltage", "V", "electric voltage"),
    MetricSpec("power", "W", "electric power"),
    MetricSpec("energy", "kWh", "energy counter"),
    MetricSpec("pressure", "kPa", "water pressure"),
    MetricSpec("flow", "m3/h", "water flow"),
    MetricSpec("illuminance", "lx", "light level"),
    MetricSpec("switch_on", "1", "1 when a switched load (light, pump) is on"),
    MetricSpec("frame_rate", "Hz", "camera frames analysed per second"),
    MetricSpec("uptime", "s", "seconds since the agent started"),
    MetricSpec("outbox_depth", "1", "messages waiting in the edge outbox"),
)

METRICS: MappingProxyType[str, MetricSpec] = MappingProxyType({s.name: s for s in _SPECS})
