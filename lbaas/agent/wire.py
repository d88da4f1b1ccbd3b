"""Heartbeat wire format, the one module the amphora agent and the controller share.

Standard library only: the agent imports it without the controller's dependencies.

Datagram (Octavia-compatible, spec amphora.md §4)::

    payload  = zlib.compress(json_utf8(message), 9)
    datagram = payload + hex(HMAC-SHA256(key=heartbeat_key utf-8, msg=payload))  # 64 ASCII bytes

The digest is lower-case hex only. Octavia's receiver also takes a raw 32-byte digest (its
legacy form); lbaas does not: one payload would then have two valid datagrams, and a
captured heartbeat re-sent in the other encoding would pass a guard that remembers
datagrams. ReplayGuard fingerprints the signed payload anyway.

Message (version 3; counters are deltas since the previous heartbeat, "conns" absolute)::

    {"id": <amphora id>, "seq": <int >= 0, +1 per message>, "ver": 3, "t": <unix time, float>,
     "listeners": {<listener id>: {"status": "OPEN"|"FULL",
                                   "stats": {"tx": int, "rx": int, "conns": int,
                                             "totconns": int, "ereq": int}}},
     "pools": {<pool id>[":" <listener id>]: {"status": "UP"|"DOWN",
                                              "members": {<member id>: <haproxy status>}}}}

"t" is lbaas's addition (Octavia amphorae do not send it; extra keys are ignored there).
Limits (a datagram signed with the key is still untrusted input; past any of these decode
raises a HeartbeatError, never another exception): MAX_DATAGRAM bytes on the wire and
MAX_JSON bytes decompressed (OversizedHeartbeat); MAX_DEPTH levels of nested
objects/arrays (the schema uses 4), integers within 0..MAX_INT (seq, ver, counters), "t" a
finite float, ids and statuses strings of at most MAX_ID and MAX_STATUS characters
(MalformedHeartbeat).

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
MAX_JSON = 512 * 1024           # decompressed limit (zlib bombs); a full datagram holds ~140 KiB
MAX_DEPTH = 8                   # nested objects/arrays (RecursionError in json otherwise)
MAX_INT = 2 ** 63 - 1           # seq, ver, counters: what a database BIGINT holds
MAX_ID = 128                    # amphora, listener, pool ("<pool>:<listener>"), member ids
MAX_STATUS = 64                 # a listener, pool or member status string
HEX_DIGEST_LEN = 64
STAT_KEYS = ("tx", "rx", "conns", "totconns", "ereq")
# bytes.translate arguments: objects count as arrays, and only brackets are kept
_AS_ARRAYS = bytes.maketrans(b"{}", b"[]")
_NOT_BRACKETS = bytes(range(256)).translate(None, b"[]{}")


class HeartbeatError(ValueError):
    """A datagram that is not a valid heartbeat; the receiver drops it, counted by `cause`."""

    cause = "malformed"


class TruncatedHeartbeat(HeartbeatError):
    """Too short to hold a payload and a digest."""

    cause = "truncated"


class OversizedHeartbeat(HeartbeatError):
    """Larger than one datagram, or decompresses past MAX_JSON."""

    cause = "oversized"


class InvalidSignature(HeartbeatError):
    """HMAC mismatch: wrong key, or a damaged or forged packet."""

    cause = "forged"


class MalformedHeartbeat(HeartbeatError):
    """Signed correctly but not zlib/JSON of the heartbeat schema, or past a limit."""

    cause = "malformed"


class StaleHeartbeat(HeartbeatError):
    """Outside the replay window (or without a timestamp while a window is set)."""

    cause = "stale"


class ReplayedHeartbeat(StaleHeartbeat):
    """Already accepted once within the replay window."""

    cause = "replayed"


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


def signed_payload(datagram):
    """The part of a datagram its digest signs (what decode verifies)."""
    return bytes(datagram[:-HEX_DIGEST_LEN])


def _verify(datagram, key):
    """The signed payload of a datagram, or InvalidSignature."""
    payload, digest = signed_payload(datagram), datagram[-HEX_DIGEST_LEN:]
    if payload and hmac.compare_digest(_digest(key, payload).hexdigest().encode("ascii"),
                                       digest):
        return payload
    raise InvalidSignature("heartbeat signature does not match (wrong key, damaged packet, "
                           "or a digest not in lower-case hex)")


def _too_deep(text):
    """Whether JSON text nests arrays/objects deeper than MAX_DEPTH (or leaves one open).

    In linear time at C speed (a signed payload may inflate to MAX_JSON): escaped
    backslashes and quotes go, so every quote left delimits a string, and what strings
    hold goes; of the rest only the brackets stay, objects written as arrays. Each pass
    then removes the innermost pairs; what is left after MAX_DEPTH passes is deeper.
    """
    unescaped = text.replace("\\\\", "").replace('\\"', "")
    outside = "".join(unescaped.split('"')[::2])
    skeleton = outside.encode("utf-8", "surrogatepass").translate(_AS_ARRAYS, _NOT_BRACKETS)
    if b"[" * (MAX_DEPTH + 1) in skeleton:
        return True
    for _ in range(MAX_DEPTH):
        shorter = skeleton.replace(b"[]", b"")
        if len(shorter) == len(skeleton):
            break
        skeleton = shorter
    return bool(skeleton)


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
        text = text.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedHeartbeat(f"heartbeat payload is not UTF-8: {exc}") from None
    if _too_deep(text):
        raise MalformedHeartbeat(f"heartbeat JSON nests deeper than {MAX_DEPTH} levels")
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise MalformedHeartbeat(f"heartbeat payload is not JSON: {exc}") from None


def _is_count(value):
    """An integer (not a bool) within 0..MAX_INT."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_INT


def _is_text(value, limit, empty=False):
    """A string of at most limit characters (non-empty unless empty=True)."""
    return isinstance(value, str) and (empty or bool(value)) and len(value) <= limit


def _timestamp(value):
    """A JSON number as a finite float, or None (400-digit integers overflow a float)."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return None
    try:
        value = float(value)
    except OverflowError:
        return None
    return value if math.isfinite(value) else None


def _check(message):
    """Raise MalformedHeartbeat unless message has the documented shape and bounds; the
    message with "t" as a float."""
    def bad(why):
        raise MalformedHeartbeat(f"heartbeat {why}")
    if not isinstance(message, dict):
        bad("is not a JSON object")
    if not _is_text(message.get("id"), MAX_ID):
        bad(f"has no amphora id (a string of 1 to {MAX_ID} characters)")
    for field in ("seq", "ver"):
        if not _is_count(message.get(field)):
            bad(f"field {field!r} is not an integer from 0 to {MAX_INT}")
    if "t" in message:
        t = _timestamp(message["t"])
        if t is None:
            bad("field 't' is not a finite number")
        message["t"] = t
    listeners, pools = message.get("listeners", {}), message.get("pools", {})
    if not isinstance(listeners, dict) or not isinstance(pools, dict):
        bad("listeners/pools are not objects")
    for lid, listener in listeners.items():
        if not _is_text(lid, MAX_ID) or not isinstance(listener, dict) \
                or not _is_text(listener.get("status"), MAX_STATUS, empty=True):
            bad("has a listener without an id or a status")
        stats = listener.get("stats", {})
        if not isinstance(stats, dict) or not all(_is_count(v) for v in stats.values()):
            bad(f"listener {lid} stats are not integers from 0 to {MAX_INT}")
    for pid, pool in pools.items():
        if not _is_text(pid, MAX_ID) or not isinstance(pool, dict) \
                or not _is_text(pool.get("status"), MAX_STATUS, empty=True):
            bad("has a pool without an id or a status")
        members = pool.get("members", {})
        if not isinstance(members, dict) or not all(
                _is_text(k, MAX_ID) and _is_text(v, MAX_STATUS, empty=True)
                for k, v in members.items()):
            bad(f"pool {pid} members are not id->status strings")
    return message


def decode(datagram, key, max_age=None, now=None):
    """Verify and unpack one datagram into its message dict; raise a HeartbeatError if bad.

    max_age (seconds): also reject a message whose "t" is missing or further than max_age
    from now (now defaults to time.time()).
    """
    if len(datagram) > MAX_DATAGRAM:
        raise OversizedHeartbeat(f"datagram is {len(datagram)} bytes, limit {MAX_DATAGRAM}")
    if len(datagram) <= HEX_DIGEST_LEN:
        raise TruncatedHeartbeat(f"datagram of {len(datagram)} bytes is too short")
    message = _check(_inflate(_verify(bytes(datagram), key)))
    if max_age is not None:
        if "t" not in message:
            raise StaleHeartbeat("heartbeat has no timestamp and a replay window is set")
        age = (time.time() if now is None else now) - message["t"]
        if not abs(age) <= max_age:
            raise StaleHeartbeat(f"heartbeat is {age:.1f} s old, window is {max_age} s")
    return message


class ReplayGuard:
    """Accept each signed datagram once; pair with decode(max_age=window) on the same window."""

    def __init__(self, window):
        """Remember accepted datagrams for 2 x window seconds (a "t" may be window ahead)."""
        self.keep = 2 * window
        self._seen = collections.OrderedDict()    # fingerprint -> expiry, in expiry order

    def check(self, datagram, now=None):
        """Raise ReplayedHeartbeat if this datagram's signed payload was already accepted,
        else record it (call after decode has verified it)."""
        now = time.monotonic() if now is None else now
        while self._seen and next(iter(self._seen.values())) <= now:
            self._seen.popitem(last=False)
        fingerprint = hashlib.sha256(signed_payload(datagram)).digest()
        if fingerprint in self._seen:
            raise ReplayedHeartbeat("heartbeat already received (replay)")
        self._seen[fingerprint] = now + self.keep


# -- fencing of agent requests -------------------------------------------------------------
# A controller that holds a load balancer's lease sends, with every request it makes to that
# load balancer's amphorae, the lease's generation (its fencing token). The agent remembers
# the highest generation it has seen per load balancer and refuses a lower one with 409, so
# a worker paused past its lease cannot change an amphora after its successor reached it.
FENCE_HEADER = "X-Lbaas-Fence"
MAX_FENCES = 64                 # load balancers an agent remembers a generation for
MAX_JOURNAL = 512               # changes an agent keeps in its journal (fence-journal.json)


def format_fence(loadbalancer_id, generation):
    """The FENCE_HEADER value for a lease: "<load balancer id> <generation>"."""
    return f"{loadbalancer_id} {int(generation)}"


def parse_fence(value):
    """(load balancer id, generation) of a FENCE_HEADER value; ValueError when malformed."""
    if not isinstance(value, str) or len(value) > MAX_ID + 21:
        raise ValueError("malformed fence header")
    lb_id, _, generation = value.partition(" ")
    if not lb_id or len(lb_id) > MAX_ID or not generation.isascii() \
            or not generation.isdigit() or not 0 < int(generation) <= MAX_INT:
        raise ValueError("malformed fence header")
    return lb_id, int(generation)
