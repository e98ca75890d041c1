"""A bare MQTT 3.1.1 CONNECT over a socket, to ask a broker "would you let this login in?".

The harness uses it to decide that a broker is ready (it accepts a real, authenticated MQTT
connection, not just a TCP connect) and that a reload has taken effect. It is synchronous and
thread-free on purpose: a paho client would start a network thread per probe.
"""

import socket
import struct

CONNACK_ACCEPTED = 0
CONNACK_NAMES = {
    0: "accepted",
    1: "unacceptable protocol version",
    2: "identifier rejected",
    3: "server unavailable",
    4: "bad user name or password",
    5: "not authorised",
}


def _utf8(text: str) -> bytes:
    data = text.encode("utf-8")
    return struct.pack("!H", len(data)) + data


def _remaining_length(length: int) -> bytes:
    out = bytearray()
    while True:
        length, digit = divmod(length, 128)
        out.append(digit | (0x80 if length else 0))
        if not length:
            return bytes(out)


def connect_packet(client_id: str, username: str, password: str, keepalive: int = 10) -> bytes:
    """CONNECT with clean session, user name and password (MQTT 3.1.1 section 3.1)."""
    flags = 0x80 | 0x40 | 0x02  # user name, password, clean session: leaves no state behind
    variable = _utf8("MQTT") + bytes([4, flags]) + struct.pack("!H", keepalive)
    payload = _utf8(client_id) + _utf8(username) + _utf8(password)
    body = variable + payload
    return b"\x10" + _remaining_length(len(body)) + body


def try_connect(
    host: str, port: int, username: str, password: str, client_id: str, timeout: float = 2.0
) -> int:
    """The CONNACK return code the broker answers for this login (0 means accepted).

    Raises OSError when no MQTT broker answers (refused, reset, closed before CONNACK).
    """
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(connect_packet(client_id, username, password))
        connack = _read_exactly(sock, 4)
        if connack[0] != 0x20 or connack[1] != 0x02:
            raise OSError(f"expected CONNACK, got {connack.hex()}")
        code = connack[3]
        if code == CONNACK_ACCEPTED:
            sock.sendall(b"\xe0\x00")  # DISCONNECT, so the broker logs a clean goodbye
        return code


def _read_exactly(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise OSError("connection closed before CONNACK")
        data += chunk
    return data
