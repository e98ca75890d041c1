"""Edge agents that run on community hardware (sensor gateways, gate controllers, cameras).

So far the part every agent sends through: the store-and-forward outbox (``outbox``, a SQLite
file per agent) and its MQTT publisher (``publisher``), which together deliver each message at
least once even when the broker is killed between two persistence snapshots; the agent runtime
(``agent``: config, one MQTT session, status and last will, commands through drivers) and the
gate/access-control agent on it. This package declares the edge's own dependencies (no
FastAPI, no database server drivers).
"""
