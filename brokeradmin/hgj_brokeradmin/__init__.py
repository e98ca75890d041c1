"""Broker accounts: who may publish and subscribe what, and how Mosquitto is told.

ACL rules are derived from the contract registry (``acl``); Mosquitto's dynamic-security plugin
holds them, written as a config file before the broker starts (``dynsec``) and changed at
runtime over its ``$CONTROL`` topic (``control``), so that registering or disabling a device
takes effect at once, without a restart or a shared file.
"""

from hgj_brokeradmin.acl import (
    Access,
    AclRule,
    MqttAccount,
    admin_account,
    control_account,
    device_account,
    device_username,
    gateway_account,
    new_password,
    root_filter,
    service_account,
)

__all__ = [
    "Access",
    "AclRule",
    "MqttAccount",
    "admin_account",
    "control_account",
    "device_account",
    "device_username",
    "gateway_account",
    "new_password",
    "root_filter",
    "service_account",
]
