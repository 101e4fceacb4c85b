import hashlib

import msgpack
import pytest

from shipper.errors import AuthError, RemoteProtocolError
from shipper.forward.handshake import ClientHandshake, ServerHandshake

NONCE = bytes(range(16))
AUTH_SALT = b"\xaa" * 16
KEY_SALT = "0123456789abcdef0123456789abcdef"


def sha512_hex(*parts: bytes) -> str:
    return hashlib.sha512(b"".join(parts)).hexdigest()


def unpack(data: bytes):
    return msgpack.unpackb(data, raw=False)


def server(users=None) -> ServerHandshake:
    return ServerHandshake("sekrit", "collector", NONCE, AUTH_SALT, users)


def client(key="sekrit", username="", password="") -> ClientHandshake:
    return ClientHandshake(key, "web-1", KEY_SALT, username, password)


def test_helo_carries_the_nonce_no_auth_salt_and_keepalive():
    assert unpack(server().helo()) == ["HELO", {"nonce": NONCE, "auth": b"", "keepalive": True}]


def test_helo_carries_an_auth_salt_when_users_are_required():
    assert unpack(server({"ann": "pw"}).helo())[1]["auth"] == AUTH_SALT


def test_ping_proves_the_key_with_sha512_of_salt_hostname_nonce_key():
    ping = unpack(client().ping(unpack(server().helo())))
    expected = sha512_hex(KEY_SALT.encode(), b"web-1", NONCE, b"sekrit")
    assert ping == ["PING", "web-1", KEY_SALT, expected, "", ""]


def test_ping_proves_the_password_when_the_server_asks_for_users():
    helo = unpack(server({"ann": "pw"}).helo())
    ping = unpack(client(username="ann", password="pw").ping(helo))
    assert ping[4:] == ["ann", sha512_hex(AUTH_SALT, b"ann", b"pw")]


def test_pong_proves_the_server_knows_the_key_with_its_own_hostname():
    shake = server()
    pong, error = shake.answer(unpack(client().ping(unpack(shake.helo()))))
    expected = sha512_hex(KEY_SALT.encode(), b"collector", NONCE, b"sekrit")
    assert error is None
    assert unpack(pong) == ["PONG", True, "", "collector", expected]


def handshake(server_side: ServerHandshake, client_side: ClientHandshake) -> AuthError | None:
    pong, error = server_side.answer(unpack(client_side.ping(unpack(server_side.helo()))))
    if error is None:
        client_side.check_pong(unpack(pong))
    return error


def test_client_and_server_agree_on_the_same_key():
    assert handshake(server(), client()) is None


def test_client_and_server_agree_with_a_valid_user():
    assert handshake(server({"ann": "pw"}), client(username="ann", password="pw")) is None


def test_wrong_shared_key_is_refused_with_a_reason_in_pong():
    shake = server()
    pong, error = shake.answer(unpack(client(key="guess").ping(unpack(shake.helo()))))
    assert unpack(pong)[:3] == ["PONG", False, "shared key mismatch"]
    assert isinstance(error, AuthError)


@pytest.mark.parametrize("username,password", [("ann", "wrong"), ("bob", "pw"), ("", "")])
def test_wrong_user_or_password_is_refused(username, password):
    error = handshake(server({"ann": "pw"}), client(username=username, password=password))
    assert "username/password mismatch" in str(error)


def test_client_reports_the_servers_refusal_reason():
    with pytest.raises(AuthError, match="refused the handshake: shared key mismatch"):
        client().check_pong(["PONG", False, "shared key mismatch", "", ""])


def test_client_refuses_a_server_that_does_not_know_the_key():
    shake = client()
    shake.ping(unpack(server().helo()))
    with pytest.raises(AuthError, match="does not know the shared key"):
        shake.check_pong(["PONG", True, "", "collector", "0" * 128])


def test_a_nonce_sent_as_str_by_older_servers_is_accepted():
    text_server = ServerHandshake("sekrit", "collector", NONCE, AUTH_SALT)
    helo = unpack(text_server.helo())
    helo[1]["nonce"] = NONCE.decode("latin-1")
    ping = unpack(client().ping(helo))
    assert ping[3] == sha512_hex(KEY_SALT.encode(), b"web-1", NONCE.decode("latin-1").encode(), b"sekrit")


def test_a_message_that_is_not_helo_is_a_protocol_error():
    with pytest.raises(RemoteProtocolError, match="HELO"):
        client().ping(["PONG", True])


def test_server_answers_a_malformed_ping_with_a_failed_pong():
    pong, error = server().answer(["PING", "too", "short"])
    assert unpack(pong)[:2] == ["PONG", False] and error is not None


@pytest.mark.parametrize("ping", [
    ["PING", "web-1", 7, "0" * 128, "", ""],
    ["PING", "web-1", "salt", "é" * 128, "", ""],
    ["PING", None, "salt", "0" * 128, "", ""],
])
def test_a_ping_with_fields_of_the_wrong_type_gets_a_failed_pong_not_a_crash(ping):
    pong, error = server().answer(ping)
    assert unpack(pong)[:2] == ["PONG", False] and isinstance(error, AuthError)


def test_a_helo_with_a_nonce_of_the_wrong_type_is_a_protocol_error():
    with pytest.raises(RemoteProtocolError, match="must be a string"):
        client().ping(["HELO", {"nonce": 7}])
