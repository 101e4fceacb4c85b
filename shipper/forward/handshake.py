"""The shared-key handshake of Forward protocol v1 (Fluentd's ``<security>``), both sides.

    server → HELO  ["HELO", {"nonce": n, "auth": salt or "", "keepalive": bool}]
    client → PING  ["PING", hostname, key_salt, hex(sha512(key_salt+hostname+n+key)),
                    username or "", hex(sha512(salt+username+password)) or ""]
    server → PONG  ["PONG", ok, reason, hostname, hex(sha512(key_salt+hostname+n+key))]

Sans-I/O: messages in (already framed and decoded), bytes out. Randomness (nonce, salts) is
passed in so tests can use fixed vectors.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from typing import Any

from ..errors import AuthError, RemoteProtocolError
from .protocol import encode


def _digest(*parts: bytes | str) -> str:
    sha = hashlib.sha512()
    for part in parts:
        sha.update(_bytes(part))
    return sha.hexdigest()


def _bytes(value: Any) -> bytes:
    """A handshake field as bytes; a field of any other type breaks the protocol."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8", "surrogateescape")
    raise RemoteProtocolError(f"a handshake field must be a string, got {type(value).__name__}")


def _text(value: Any) -> str:
    return _bytes(value).decode("utf-8", "surrogateescape")


def _same_digest(received: Any, expected: str) -> bool:
    return hmac.compare_digest(_bytes(received), expected.encode("ascii"))


def _expect(message: Any, name: str, length: int) -> list[Any]:
    if type(message) is not list or len(message) != length or message[0] != name:
        shown = repr(message)[:80]
        raise RemoteProtocolError(f"expected a {name} message of {length} items, got {shown}")
    return message


class ServerHandshake:
    """The receiving side: says HELO, checks the PING, answers PONG."""

    def __init__(
        self,
        shared_key: str,
        hostname: str,
        nonce: bytes,
        auth_salt: bytes,
        users: Mapping[str, str] | None = None,
    ) -> None:
        self._key = shared_key
        self._hostname = hostname
        self._nonce = nonce
        self._salt = auth_salt if users else b""
        self._users = dict(users or {})

    def helo(self, keepalive: bool = True) -> bytes:
        return encode(["HELO", {"nonce": self._nonce, "auth": self._salt, "keepalive": keepalive}])

    def answer(self, message: Any) -> tuple[bytes, AuthError | None]:
        """The PONG to send for ``message``, and the failure to report once it is sent."""
        try:
            key_salt = self._check(_expect(message, "PING", 6))
        except (AuthError, RemoteProtocolError) as exc:
            return self.refuse(str(exc))
        proof = _digest(key_salt, self._hostname, self._nonce, self._key)
        return encode(["PONG", True, "", self._hostname, proof]), None

    def refuse(self, reason: str) -> tuple[bytes, AuthError]:
        """A failed PONG carrying ``reason``, and the error to report once it is sent."""
        return encode(["PONG", False, reason, "", ""]), AuthError(reason)

    def _check(self, ping: list[Any]) -> bytes | str:
        _, hostname, key_salt, key_digest, username, password_digest = ping
        expected = _digest(key_salt, _text(hostname), self._nonce, self._key)
        if not _same_digest(key_digest, expected):
            raise AuthError("shared key mismatch")
        if self._users and not self._password_ok(_text(username), password_digest):
            raise AuthError(f"username/password mismatch for user {_text(username)!r}")
        return key_salt

    def _password_ok(self, username: str, digest: Any) -> bool:
        password = self._users.get(username)
        if password is None:
            return False
        return _same_digest(digest, _digest(self._salt, username, password))


class ClientHandshake:
    """The sending side: answers HELO with PING, then checks the server's proof in PONG."""

    def __init__(
        self, shared_key: str, hostname: str, key_salt: str, username: str = "", password: str = ""
    ) -> None:
        self._key = shared_key
        self._hostname = hostname
        self._salt = key_salt
        self._username = username
        self._password = password
        self._nonce: bytes | str = b""
        self.keepalive = True

    def ping(self, helo: Any) -> bytes:
        options = _expect(helo, "HELO", 2)[1] or {}
        if type(options) is not dict:
            raise RemoteProtocolError(f"HELO options must be a map, got {options!r:.60}")
        self._nonce = _bytes(options.get("nonce") or b"")
        self.keepalive = bool(options.get("keepalive", True))
        auth_salt = _bytes(options.get("auth") or b"")
        key_digest = _digest(self._salt, self._hostname, self._nonce, self._key)
        user, password_digest = "", ""
        if auth_salt:
            user = self._username
            password_digest = _digest(auth_salt, self._username, self._password)
        return encode(["PING", self._hostname, self._salt, key_digest, user, password_digest])

    def check_pong(self, pong: Any) -> None:
        _, ok, reason, hostname, proof = _expect(pong, "PONG", 5)
        if not ok:
            raise AuthError(f"the server refused the handshake: {_text(reason) or 'no reason given'}")
        expected = _digest(self._salt, _text(hostname), self._nonce, self._key)
        if not _same_digest(proof, expected):
            raise AuthError("the server does not know the shared key (its PONG digest is wrong)")
