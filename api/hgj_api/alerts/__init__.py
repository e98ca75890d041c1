"""Alerts for people: scoped queries (``query``), idempotent audited actions (``actions``), and
the announcer that puts the changes made here on MQTT and the live stream (``announcer``)."""
