"""Edge agents that run on community hardware (sensor gateways, gate controllers, cameras).

The agent runtime (outbox, command handling) and the camera agent arrive with the edge issue;
this package declares the edge's own dependencies (no FastAPI, no database server drivers).
"""
