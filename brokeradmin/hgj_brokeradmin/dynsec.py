"""Accounts in the terms of Mosquitto's dynamic-security plugin: its config file, written
before the broker first starts, and the commands that change it at runtime.

One role per account, named after the account, holds that account's ACLs: revoking a device
deletes exactly its client and its role, and nothing shared changes.
"""

import base64
import hashlib
import os
from collections.abc import Iterable
from typing import Any, Final

from hgj_brokeradmin.acl import AclRule, MqttAccount

JsonObject = dict[str, Any]

PASSWORD_ITERATIONS: Final = 101
"""PBKDF2-SHA512 rounds, the plugin's own default in Mosquitto 2.0. Broker passwords are
random 192-bit secrets (acl.new_password), not words a person chose, so stretching them buys
nothing, while every device login pays for it on the broker's single thread."""
SALT_BYTES: Final = 12
HASH_BYTES: Final = 64

DEFAULT_ACCESS: Final[JsonObject] = {
    # Deny what no role allows; delivery of what an account may subscribe to is implied.
    "publishClientSend": False,
    "publishClientReceive": True,
    "subscribe": False,
    "unsubscribe": True,
}


def hash_password(password: str, iterations: int = PASSWORD_ITERATIONS) -> JsonObject:
    """The ``password``/``salt``/``iterations`` fields of a client, as the plugin hashes them."""
    salt = os.urandom(SALT_BYTES)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode("utf-8"), salt, iterations, HASH_BYTES)
    return {
        "password": base64.b64encode(digest).decode("ascii"),
        "salt": base64.b64encode(salt).decode("ascii"),
        "iterations": iterations,
    }


def rule_acls(rule: AclRule) -> list[JsonObject]:
    """The plugin's ACL entries for one rule.

    Reading means subscribing (delivery is allowed by default). Unlike an acl_file, the plugin
    checks a shared subscription against its full filter, ``$share/GROUP/...``, so a read rule
    also allows that form for any group: workers name their own group. Delivery is allowed by
    default, but not for ``$`` topics (the plugin's own answers), so it is allowed explicitly.
    """
    acls: list[JsonObject] = []
    if rule.access in ("read", "readwrite"):
        acls.append(_acl("subscribePattern", rule.topic))
        acls.append(_acl("publishClientReceive", rule.topic))
        if not rule.topic.startswith("$"):
            acls.append(_acl("subscribePattern", f"$share/+/{rule.topic}"))
    if rule.access in ("write", "readwrite"):
        acls.append(_acl("publishClientSend", rule.topic))
    return acls


def role_entry(account: MqttAccount) -> JsonObject:
    return {
        "rolename": account.username,
        "acls": [acl for rule in account.rules for acl in rule_acls(rule)],
    }


def client_entry(account: MqttAccount) -> JsonObject:
    return {
        "username": account.username,
        "roles": [{"rolename": account.username}],
        **hash_password(account.password),
    }


def render_config(accounts: Iterable[MqttAccount]) -> JsonObject:
    """The plugin's config file (``plugin_opt_config_file``) for these accounts."""
    unique = checked(accounts)
    return {
        "clients": [client_entry(a) for a in unique],
        "roles": [role_entry(a) for a in unique],
        "defaultACLAccess": dict(DEFAULT_ACCESS),
    }


def merge_config(existing: JsonObject | None, accounts: Iterable[MqttAccount]) -> JsonObject:
    """``existing`` (a config the broker may have changed) with these accounts put in,
    replacing any of the same name; every other client and role is kept as it is."""
    fresh = render_config(accounts)
    if existing is None:
        return fresh
    names = {c["username"] for c in fresh["clients"]}
    return {
        **existing,
        "clients": [
            *(c for c in existing.get("clients", []) if c.get("username") not in names),
            *fresh["clients"],
        ],
        "roles": [
            *(r for r in existing.get("roles", []) if r.get("rolename") not in names),
            *fresh["roles"],
        ],
        "defaultACLAccess": existing.get("defaultACLAccess", fresh["defaultACLAccess"]),
    }


def add_account_commands(account: MqttAccount) -> list[JsonObject]:
    checked([account])
    return [
        {"command": "createRole", **role_entry(account)},
        {
            "command": "createClient",
            "username": account.username,
            "password": account.password,
            "roles": [{"rolename": account.username}],
        },
    ]


def remove_account_commands(username: str) -> list[JsonObject]:
    """Deleting a client also disconnects it at once: a revoked device is cut off, not merely
    refused at its next login."""
    return [
        {"command": "deleteClient", "username": username},
        {"command": "deleteRole", "rolename": username},
    ]


def set_enabled_command(username: str, enabled: bool) -> JsonObject:
    return {"command": "enableClient" if enabled else "disableClient", "username": username}


def set_password_command(username: str, password: str) -> JsonObject:
    return {"command": "setClientPassword", "username": username, "password": password}


def checked(accounts: Iterable[MqttAccount]) -> list[MqttAccount]:
    """The accounts in order; a username given twice is a bug (the broker keeps only one)."""
    seen: set[str] = set()
    result = []
    for account in accounts:
        name = account.username
        if not name or any(c in name for c in ": \t\r\n/+#"):
            raise ValueError(f"username {name!r} is not a valid broker account name")
        if name in seen:
            raise ValueError(f"account {name!r} given twice")
        seen.add(name)
        result.append(account)
    return result


def _acl(acltype: str, topic: str) -> JsonObject:
    return {"acltype": acltype, "topic": topic, "allow": True}
