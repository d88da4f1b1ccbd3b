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


def test_raw_digest_is_refused():
    payload = zlib.compress(json.dumps(_message()).encode(), 9)
    datagram = payload + hmac.new(KEY.encode(), payload, hashlib.sha256).digest()
    with pytest.raises(wire.InvalidSignature):
        wire.decode(datagram, KEY)


def test_upper_case_hex_digest_is_refused():
    datagram = wire.encode(_message(), KEY)
    with pytest.raises(wire.InvalidSignature):
        wire.decode(datagram[:-64] + datagram[-64:].upper(), KEY)


def test_heartbeat_re_sent_with_a_raw_digest_is_not_accepted_again():
    """The replay bypass: one captured heartbeat, its hex digest rewritten as raw bytes."""
    guard = wire.ReplayGuard(60)
    accepted = 0
    for seq in range(16):
        datagram = wire.encode(_message(seq=seq), KEY)
        wire.decode(datagram, KEY, max_age=60, now=NOW)
        guard.check(datagram, now=100)
        raw = datagram[:-64] + bytes.fromhex(datagram[-64:].decode())
        try:
            wire.decode(raw, KEY, max_age=60, now=NOW)
            guard.check(raw, now=100)
            accepted += 1
        except wire.HeartbeatError:
            pass
    assert accepted == 0


def test_replay_guard_fingerprints_the_signed_payload():
    guard, datagram = wire.ReplayGuard(60), wire.encode(_message(), KEY)
    guard.check(datagram, now=100)
    with pytest.raises(wire.ReplayedHeartbeat):   # same payload, any other digest bytes
        guard.check(wire.signed_payload(datagram) + b"0" * 64, now=100)


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


def _json(text):
    return _signed(zlib.compress(text.encode(), 9))


def _with(**fields):
    return json.dumps(dict(_message(), **fields))


@pytest.mark.parametrize("text", [
    _with(x=0).replace('"x": 0', '"x": ' + "[" * 100_000 + "]" * 100_000),  # RecursionError
    _with(listeners={"l": {"status": "OPEN", "stats": {"x": [[[[[[[[1]]]]]]]]}}}),
    "[" * (wire.MAX_DEPTH + 1) + "]" * (wire.MAX_DEPTH + 1),
    _with(x=0).replace('"x": 0', '"x": ' + "[" * 50),       # unbalanced
], ids=["deep-100000", "deep-9-inside-the-schema", "deep-9", "unbalanced"])
def test_nesting_deeper_than_the_limit_is_malformed(text):
    with pytest.raises(wire.MalformedHeartbeat):
        wire.decode(_json(text), KEY)


def test_brackets_inside_strings_do_not_count_as_nesting():
    message = _message(pools={"p1:l1": {"status": "UP", "members": {
        "m1": "[[[[[[[[[[{{{{{{{{{{", "m2": ']]]]]\\"]]]]]]]'}}})
    assert wire.decode(wire.encode(message, KEY), KEY) == message


def test_nesting_up_to_the_limit_is_accepted():
    nested = 1
    for _ in range(wire.MAX_DEPTH - 1):
        nested = [nested]
    assert wire.decode(_json(_with(extra=nested)), KEY)["extra"] == nested


@pytest.mark.parametrize("fields", [
    {"t": 10 ** 400}, {"t": -(10 ** 400)}, {"t": 1e400}, {"t": True}, {"t": [1]},
    {"seq": 10 ** 400}, {"seq": 2 ** 63}, {"seq": -1}, {"ver": 10 ** 30},
    {"id": "a" * (wire.MAX_ID + 1)}, {"id": ""}, {"id": 7},
    {"listeners": {"l1": {"status": "OPEN", "stats": {"tx": 2 ** 63}}}},
    {"listeners": {"l1": {"status": "OPEN", "stats": {"conns": -5}}}},
    {"listeners": {"l1": {"status": "x" * (wire.MAX_STATUS + 1)}}},
    {"listeners": {"l" * (wire.MAX_ID + 1): {"status": "OPEN"}}},
    {"pools": {"p": {"status": "UP", "members": {"m": "x" * (wire.MAX_STATUS + 1)}}}},
    {"pools": {"p": {"status": None}}},
], ids=["t-400-digits", "t-negative-400-digits", "t-inf", "t-bool", "t-list",
        "seq-400-digits", "seq-2**63", "seq-negative", "ver-huge", "id-long", "id-empty",
        "id-int", "counter-2**63", "counter-negative", "listener-status-long", "listener-id-long",
        "member-status-long", "pool-status-null"])
def test_values_past_their_bounds_are_malformed(fields):
    text = json.dumps(dict(_message(), **fields), allow_nan=True)
    with pytest.raises(wire.MalformedHeartbeat):
        wire.decode(_json(text), KEY, max_age=60, now=NOW)


def test_counters_up_to_the_largest_bigint_are_accepted():
    stats = {"tx": wire.MAX_INT, "rx": 0, "conns": 0, "totconns": 0, "ereq": 0}
    message = _message(listeners={"l1": {"status": "OPEN", "stats": stats}})
    assert wire.decode(wire.encode(message, KEY), KEY) == message


def test_integer_timestamp_is_read_as_a_float():
    message = wire.decode(_json(_with(t=int(NOW))), KEY, max_age=60, now=NOW)
    assert message["t"] == NOW and isinstance(message["t"], float)


@pytest.mark.parametrize("exc, cause", [
    (wire.InvalidSignature, "forged"), (wire.MalformedHeartbeat, "malformed"),
    (wire.StaleHeartbeat, "stale"), (wire.ReplayedHeartbeat, "replayed"),
    (wire.TruncatedHeartbeat, "truncated"), (wire.OversizedHeartbeat, "oversized")])
def test_every_rejection_names_one_cause(exc, cause):
    assert exc.cause == cause and issubclass(exc, wire.HeartbeatError)


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
    with pytest.raises(wire.ReplayedHeartbeat) as caught:
        guard.check(datagram, now=150)
    assert caught.value.cause == "replayed"


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
