"""The local stack: starts Mosquitto, InfluxDB (or embedded fallbacks), ingest and simulators
for `make run`, and gives tests the same real services as fixtures."""
