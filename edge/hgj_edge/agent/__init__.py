"""The edge agent runtime: one MQTT session per agent, every outgoing message through the
outbox, remote commands through a dispatch table and a driver, and the gate agent built on it.

``python -m hgj_edge run --config agent.yaml`` runs one agent.
"""
