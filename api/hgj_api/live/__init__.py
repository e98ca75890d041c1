"""The live stream: alert changes, device status and command progress pushed to the console
over a WebSocket, fed from MQTT by every API replica (see ``hgj_api.live.service``)."""
