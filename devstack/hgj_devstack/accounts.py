"""MQTT accounts for the local stack and the tests: the broker-account package's, re-exported
so that the harness has one place to import them from."""

from hgj_brokeradmin.acl import (
    ADMIN_USERNAME,
    SERVICE_PREFIX,
    Access,
    AclRule,
    MqttAccount,
    admin_account,
    api_account,
    control_account,
    device_account,
    gateway_account,
    new_password,
    root_filter,
    service_account,
)

__all__ = [
    "ADMIN_USERNAME",
    "SERVICE_PREFIX",
    "Access",
    "AclRule",
    "MqttAccount",
    "admin_account",
    "api_account",
    "control_account",
    "device_account",
    "gateway_account",
    "new_password",
    "root_filter",
    "service_account",
]
