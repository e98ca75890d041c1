"""Load mode: many devices at a given rate, over one connection each or a few gateways.

``fleet`` names the devices, ``payloads`` encodes their telemetry fast, ``engine`` publishes it
over multiplexed paho clients in one thread, ``report`` shows progress and the summary.
"""
