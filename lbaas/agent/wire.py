"""Heartbeat wire format, the one module the amphora agent and the controller share.

Standard library only: the agent imports it without the controller's dependencies.

Datagram (Octavia-compatible, spec amphora.md §4)::

    payload  = zlib.compress(json_utf8(message), 9)
    datagram = payload + hex(HMAC-SHA256(key=heartbeat_key utf-8, msg=payload))  # 64 ASCII bytes

decode() also accepts Octavia's legacy form whose digest is the raw 32 bytes.

Message (version 3; counters are deltas since the previous heartbeat, "conns" absolute)::

    {"id": <amphora id>, "seq": <int >= 0, +1 per message>, "ver": 3, "t": <unix time, float>,
     "listeners": {<listener id>: {"status": "OPEN"|"FULL",
                                   "stats": {"tx": int, "rx": int, "conns": int,
                                             "totconns": int, "ereq": int}}},
     "pools": {<pool id>[":" <listener id>]: {"status": "UP"|"DOWN",
                                              "members": {<member id>: <haproxy status>}}}}

"t" is lbaas's addition (Octavia amphorae do not send it; extra keys are ignored there).
Replay protection: decode(max_age=W) rejects a message whose "t" is more than W seconds
from the receiver's clock (either way, so clock skew counts too), and ReplayGuard(W)
rejects a datagram already accepted within the window. Together a captured packet is
accepted at most once. Messages without "t" pass only when max_age is None.
Member status values are haproxy's own strings ("UP", "DOWN", "DRAIN", "MAINT",
"no check", "UP 1/3", ...), so decode checks types, not status vocabularies.
"""
import collections
import hashlib
import hmac
import json
import math
import time
import zlib

VERSION = 3
MAX_DATAGRAM = 65535            # one UDP datagram
MAX_JSON = 8 * 1024 * 1024      # decompressed limit (guards against zlib bombs)
HEX_DIGEST_LEN = 64
RAW_DIGEST_LEN = 32
STAT_KEYS = ("tx", "rx", "conns", "totconns", "ereq")


class HeartbeatError(ValueError):
    """A datagram that is not a valid heartbeat; the receiver drops it."""


class TruncatedHeartbeat(HeartbeatError):
    """Too short to hold a payload and a digest."""


class OversizedHeartbeat(HeartbeatError):
    """Larger than one datagram, or decompresses past MAX_JSON."""


class InvalidSignature(HeartbeatError):
    """HMAC mismatch: wrong key, or a damaged or forged packet."""


class MalformedHeartbeat(HeartbeatError):
    """Signed correctly but not zlib/JSON of the heartbeat schema."""


class StaleHeartbeat(HeartbeatError):
    """Outside the replay window, or already accepted once (a replay)."""


def _key(key):
    if isinstance(key, str):
        key = key.encode("utf-8")
    if not key:
        raise ValueError("heartbeat_key is empty")
    return key


def _digest(key, payload):
    return hmac.new(_key(key), payload, hashlib.sha256)


def make_message(amphora_id, seq, listeners=None, pools=None, now=None):
    """A version-3 heartbeat message dict (see the module docstring for the schema)."""
    return {"id": str(amphora_id), "seq": int(seq), "ver": VERSION,
            "t": time.time() if now is None else float(now),
            "listeners": listeners or {}, "pools": pools or {}}


def encode(message, key):
    """Sign and pack a message dict into one datagram (bytes)."""
    text = json.dumps(message, separators=(",", ":"), allow_nan=False)
    payload = zlib.compress(text.encode("utf-8"), 9)
    datagram = payload + _digest(key, payload).hexdigest().encode("ascii")
    if len(datagram) > MAX_DATAGRAM:
        raise OversizedHeartbeat(f"heartbeat is {len(datagram)} bytes, limit {MAX_DATAGRAM}")
    return datagram


def _verify(datagram, key):
    """The signed payload of a datagram, or InvalidSignature."""
    payload, digest = datagram[:-HEX_DIGEST_LEN], datagram[-HEX_DIGEST_LEN:]
    expected = _digest(key, payload)
    if payload and hmac.compare_digest(expected.hexdigest().encode("ascii"), digest):
        return payload
    payload, digest = datagram[:-RAW_DIGEST_LEN], datagram[-RAW_DIGEST_LEN:]
    if payload and hmac.compare_digest(_digest(key, payload).digest(), digest):
        return payload
    raise InvalidSignature("heartbeat signature does not match (wrong key or damaged packet)")


def _inflate(payload):
    try:
        inflater = zlib.decompressobj()
        text = inflater.decompress(payload, MAX_JSON)
    except zlib.error as exc:
        raise MalformedHeartbeat(f"heartbeat payload is not zlib data: {exc}") from None
    if inflater.unconsumed_tail:
        raise OversizedHeartbeat(f"heartbeat decompresses past {MAX_JSON} bytes")
    if not inflater.eof or inflater.unused_data:
        raise MalformedHeartbeat("heartbeat payload is not one complete zlib stream")
    try:
        return json.loads(text.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise MalformedHeartbeat(f"heartbeat payload is not JSON: {exc}") from None


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _check(message):
    """Raise MalformedHeartbeat unless message has the documented shape (types only)."""
    def bad(why):
        raise MalformedHeartbeat(f"heartbeat {why}")
    if not isinstance(message, dict):
        bad("is not a JSON object")
    if not isinstance(message.get("id"), str) or not message["id"]:
        bad("has no amphora id")
    for field in ("seq", "ver"):
        if not _is_int(message.get(field)) or message[field] < 0:
            bad(f"field {field!r} is not a non-negative integer")
    if "t" in message and (not isinstance(message["t"], (int, float))
                           or isinstance(message["t"], bool) or not math.isfinite(message["t"])):
        bad("field 't' is not a finite number")
    listeners, pools = message.get("listeners", {}), message.get("pools", {})
    if not isinstance(listeners, dict) or not isinstance(pools, dict):
        bad("listeners/pools are not objects")
    for lid, listener in listeners.items():
        if not isinstance(listener, dict) or not isinstance(listener.get("status"), str):
            bad(f"listener {lid} has no status")
        stats = listener.get("stats", {})
        if not isinstance(stats, dict) or not all(_is_int(v) for v in stats.values()):
            bad(f"listener {lid} stats are not integers")
    for pid, pool in pools.items():
        if not isinstance(pool, dict) or not isinstance(pool.get("status"), str):
            bad(f"pool {pid} has no status")
        members = pool.get("members", {})
        if not isinstance(members, dict) or not all(isinstance(v, str)
                                                    for v in members.values()):
            bad(f"pool {pid} members are not id->status strings")


def decode(datagram, key, max_age=None, now=None):
    """Verify and unpack one datagram into its message dict; raise a HeartbeatError if bad.

    max_age (seconds): also reject a message whose "t" is missing or further than max_age
    from now (now defaults to time.time()).
    """
    if len(datagram) > MAX_DATAGRAM:
        raise OversizedHeartbeat(f"datagram is {len(datagram)} bytes, limit {MAX_DATAGRAM}")
    if len(datagram) <= RAW_DIGEST_LEN:
        raise TruncatedHeartbeat(f"datagram of {len(datagram)} bytes is too short")
    message = _inflate(_verify(bytes(datagram), key))
    _check(message)
    if max_age is not None:
        if "t" not in message:
            raise StaleHeartbeat("heartbeat has no timestamp and a replay window is set")
        age = (time.time() if now is None else now) - message["t"]
        if abs(age) > max_age:
            raise StaleHeartbeat(f"heartbeat is {age:.1f} s old, window is {max_age} s")
    return message


class ReplayGuard:
    """Accept each signed datagram once; pair with decode(max_age=window) on the same window."""

    def __init__(self, window):
        """Remember accepted datagrams for 2 x window seconds (a "t" may be window ahead)."""
        self.keep = 2 * window
        self._seen = collections.OrderedDict()    # fingerprint -> expiry, in expiry order

    def check(self, datagram, now=None):
        """Raise StaleHeartbeat if this datagram was already accepted, else record it."""
        now = time.monotonic() if now is None else now
        while self._seen and next(iter(self._seen.values())) <= now:
            self._seen.popitem(last=False)
        fingerprint = hashlib.sha256(bytes(datagram)).digest()
        if fingerprint in self._seen:
            raise StaleHeartbeat("heartbeat already received (replay)")
        self._seen[fingerprint] = now + self.keep
