#!/bin/sh
# Container entrypoint of the broker (eclipse-mosquitto image): render the shipped template,
# seed the dynamic-security file on the first start only (afterwards the broker owns it: the
# API adds and revokes devices at runtime and the plugin saves every change), then run.
set -eu
apk add --no-cache gettext >/dev/null
mkdir -p "$MOSQUITTO_CONFIG_DIR"
if [ ! -f "$MOSQUITTO_CONFIG_DIR/dynamic-security.json" ]; then
  if [ ! -f /seed/dynamic-security.json ]; then
    echo "no broker accounts: run 'python -m hgj_devstack broker-accounts' first" >&2
    exit 1
  fi
  cp /seed/dynamic-security.json "$MOSQUITTO_CONFIG_DIR/"
fi
chown -R "$MOSQUITTO_USER" "$MOSQUITTO_CONFIG_DIR" "$MOSQUITTO_DATA_DIR" "$(dirname "$MOSQUITTO_LOG_FILE")"
chmod 0700 "$MOSQUITTO_CONFIG_DIR"
envsubst < /etc/hgj/mosquitto.conf.template > /mosquitto/mosquitto.conf
exec mosquitto -c /mosquitto/mosquitto.conf
