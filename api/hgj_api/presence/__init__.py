"""Device presence in the registry (``devices.online``, ``status_reason``, ``status_at``),
following the devices' status topics: ``store`` applies one status under an event-time guard,
``consumer`` feeds it from MQTT."""
