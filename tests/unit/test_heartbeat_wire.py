"""Heartbeat wire format shared by the amphora agent and the health manager."""
import ast
import hashlib
import hmac
import json
import pathlib
import socket
import sys
import zlib

import pytest

from lbaas.agent import wire

KEY = "insecure-heartbeat-key"
NOW = 1_800_000_000.0
LISTENERS = {"l1": {"status": "OPEN",
                    "stats": {"tx": 10, "rx": 20, "conns": 1, "totconns": 5, "ereq": 0}}}
POOLS = {"p1:l1": {"status": "UP", "members": {"m1": "UP", "m2": "DOWN", "m3": "no check"}}}


def _message(**overrides):
    return dict(wire.make_message("amp-1", 7, LISTENERS, POOLS, now=NOW), **overrides)


def _signed(payload, key=KEY):
    return payload + hmac.new(key.encode(), payload, hashlib.sha256).hexdigest().encode()


def test_message_has_version_3_schema():
    assert _message() == {"id": "amp-1", "seq": 7, "ver": 3, "t": NOW,
                          "listeners": LISTENERS, "pools": POOLS}


def test_datagram_is_zlib_json_plus_lowercase_hex_hmac():
    datagram = wire.encode(_message(), KEY)
    payload, digest = datagram[:-64], datagram[-64:]
    assert digest == hmac.new(KEY.encode(), payload, hashlib.sha256).hexdigest().encode()
    assert json.loads(zlib.decompress(payload)) == _message()


def test_round_trip_over_udp_loopback():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as receiver, \
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
        receiver.bind(("127.0.0.1", 0))
        receiver.settimeout(10)
        sender.sendto(wire.encode(_message(), KEY), receiver.getsockname())
        datagram, _ = receiver.recvfrom(wire.MAX_DATAGRAM)
    assert wire.decode(datagram, KEY, max_age=60, now=NOW + 5) == _message()


def test_bytes_key_equals_str_key():
    assert wire.decode(wire.encode(_message(), KEY.encode()), KEY) == _message()


def test_legacy_raw_digest_is_accepted():
    payload = zlib.compress(json.dumps(_message()).encode(), 9)
    datagram = payload + hmac.new(KEY.encode(), payload, hashlib.sha256).digest()
    assert wire.decode(datagram, KEY) == _message()


def test_wrong_key_is_rejected():
    with pytest.raises(wire.InvalidSignature):
        wire.decode(wire.encode(_message(), KEY), "another-key")


def test_tampered_payload_is_rejected():
    datagram = bytearray(wire.encode(_message(), KEY))
    datagram[3] ^= 1
    with pytest.raises(wire.InvalidSignature):
        wire.decode(bytes(datagram), KEY)


def test_truncated_digest_is_rejected():
    with pytest.raises(wire.InvalidSignature):
        wire.decode(wire.encode(_message(), KEY)[:-1], KEY)


def test_too_short_datagram_is_rejected():
    with pytest.raises(wire.TruncatedHeartbeat):
        wire.decode(b"x" * 32, KEY)


def test_oversized_datagram_is_rejected():
    with pytest.raises(wire.OversizedHeartbeat):
        wire.decode(b"x" * (wire.MAX_DATAGRAM + 1), KEY)


def test_encode_refuses_a_message_larger_than_a_datagram():
    members = {f"{i:032x}": hashlib.sha256(str(i).encode()).hexdigest() for i in range(3000)}
    with pytest.raises(wire.OversizedHeartbeat):
        wire.encode(_message(pools={"p": {"status": "UP", "members": members}}), KEY)


def test_zlib_bomb_is_rejected():
    with pytest.raises(wire.OversizedHeartbeat):
        wire.decode(_signed(zlib.compress(b" " * (wire.MAX_JSON + 1), 9)), KEY)


@pytest.mark.parametrize("payload", [b"not zlib", zlib.compress(b"{not json"),
                                     zlib.compress(b"[]"), zlib.compress(b'{"seq": 1, "ver": 3}'),
                                     zlib.compress(b'{"id": "a", "seq": "1", "ver": 3}'),
                                     zlib.compress(b'{"id": "a", "seq": 1, "ver": 3, "t": "x"}'),
                                     zlib.compress(b'{"id": "a", "seq": 1, "ver": 3, "t": NaN}'),
                                     zlib.compress(b'{"id": "a", "seq": 1, "ver": 3, '
                                                   b'"listeners": {"l": {"stats": {}}}}'),
                                     zlib.compress(b'{"id": "a", "seq": 1, "ver": 3, "listeners":'
                                                   b' {"l": {"status": "OPEN", "stats": '
                                                   b'{"tx": "1"}}}}'),
                                     zlib.compress(b'{"id": "a", "seq": 1, "ver": 3, "pools":'
                                                   b' {"p": {"status": "UP", "members": '
                                                   b'{"m": 1}}}}'),
                                     zlib.compress(b'{"id": "a", "seq": 1, "ver": 3}') + b"junk"],
                         ids=["zlib", "json", "array", "no-id", "seq-type", "t-type", "t-nan",
                              "listener-status", "stat-type", "member-status", "trailing"])
def test_malformed_signed_payload_is_rejected(payload):
    with pytest.raises(wire.MalformedHeartbeat):
        wire.decode(_signed(payload), KEY)


def test_octavia_message_without_timestamp_is_accepted_without_window():
    message = _message()
    del message["t"]
    assert wire.decode(wire.encode(message, KEY), KEY) == message


def test_message_without_timestamp_is_rejected_with_window():
    message = _message()
    del message["t"]
    with pytest.raises(wire.StaleHeartbeat):
        wire.decode(wire.encode(message, KEY), KEY, max_age=60, now=NOW)


@pytest.mark.parametrize("skew", [-61, 61])
def test_message_outside_window_is_rejected(skew):
    with pytest.raises(wire.StaleHeartbeat):
        wire.decode(wire.encode(_message(), KEY), KEY, max_age=60, now=NOW + skew)


def test_replay_within_window_is_rejected_once_accepted():
    guard, datagram = wire.ReplayGuard(60), wire.encode(_message(), KEY)
    guard.check(datagram, now=100)
    guard.check(wire.encode(_message(seq=8), KEY), now=100)
    with pytest.raises(wire.StaleHeartbeat):
        guard.check(datagram, now=150)


def test_replay_guard_forgets_after_twice_the_window():
    guard, datagram = wire.ReplayGuard(60), wire.encode(_message(), KEY)
    guard.check(datagram, now=100)
    guard.check(datagram, now=221)
    assert len(guard._seen) == 1


def test_empty_key_is_refused():
    with pytest.raises(ValueError):
        wire.encode(_message(), "")


def test_wire_imports_only_the_standard_library():
    tree = ast.parse(pathlib.Path(wire.__file__).read_text())
    imported = {alias.name.split(".")[0] for node in ast.walk(tree)
                if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree)
                 if isinstance(node, ast.ImportFrom)}
    assert imported and imported <= set(sys.stdlib_module_names)


def test_health_manager_options_use_octavia_names_and_lbaas_defaults():
    from lbaas import conf as lbaas_conf
    conf = lbaas_conf.make_conf()
    hm = conf.health_manager
    # Octavia's names; lbaas's defaults notice a dead amphora in seconds (upstream: 10 s, 60 s)
    assert (hm.bind_ip, hm.bind_port, hm.heartbeat_interval, hm.heartbeat_timeout,
            hm.health_check_interval) == ("127.0.0.1", 5555, 1, 3, 1)
    assert hm.heartbeat_key is None
    assert conf._groups["health_manager"]._opts["heartbeat_key"]["opt"].secret
