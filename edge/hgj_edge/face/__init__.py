"""The camera agent's face-recognition core: detection and encoding (``detect``), the gallery of
enrolled templates and its vectorised matching (``gallery``), the encrypted gallery file
(``vault``), the decision over several frames (``tracker``) and the contract's face events
(``events``). Capture, threads and MQTT live in the camera agent, not here."""
