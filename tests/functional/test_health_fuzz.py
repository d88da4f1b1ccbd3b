"""Thousands of signed, malformed heartbeats at a running health manager (a HeartbeatServer on
a real UDP socket, a HealthManager and a FailoverScanner on a real SQLite database), while
three healthy amphorae keep sending real heartbeats: none may be failed over or stopped, and
a real heartbeat sent afterwards is processed.

The datagrams come from a seeded generator; the seed is printed, and LBAAS_FUZZ_SEED=<seed>
replays the same run.
"""
import hashlib
import hmac
import json
import os
import random
import socket
import threading
import time
import zlib

import pytest

from lbaas.agent import wire
from lbaas.core import models
from lbaas.drivers.amphora.store import heartbeats
from lbaas.core.controller import Core
from lbaas.drivers.amphora.health import HealthManager, HeartbeatServer
from lbaas.drivers.amphora.health.failover import FailoverScanner
from tests.conftest import database_url, make_conf
from tests.functional.test_health_server import operating_status, seed

pytestmark = pytest.mark.functional

KEY = "fuzz-key"
DATAGRAMS = 3000
BATCH = 100            # sent, then waited for: the socket buffer never overflows
HEARTBEAT_EVERY = 0.2  # seconds between two real heartbeats of each amphora


def signed(payload, key=KEY):
    """payload + its lower-case hex HMAC: what an agent holding the key sends."""
    return payload + hmac.new(key.encode(), payload, hashlib.sha256).hexdigest().encode()


def pack(text, key=KEY):
    return signed(zlib.compress(text.encode("utf-8", "surrogatepass"), 1), key)


ZLIB_BOMB = zlib.compress(b" " * (wire.MAX_JSON + 1), 9)


class Fuzzer:
    """Signed datagrams of every malformed kind, around the real amphorae and listeners."""

    def __init__(self, rng, amphorae, listeners):
        self.rng, self.amphorae, self.listeners = rng, amphorae, listeners
        self.seq = 10 ** 6
        self.raws = {}   # placeholder -> JSON text json.dumps cannot write (see raw, dumps)
        self.kinds = [getattr(self, name) for name in sorted(dir(self))
                      if name.startswith("kind_")]

    def valid(self):
        """A well-formed message of a real amphora (what mutations start from)."""
        self.seq += 1
        index = self.rng.randrange(len(self.amphorae))
        listener = self.listeners[index]
        return wire.make_message(self.amphorae[index], self.seq, listeners={listener: {
            "status": "OPEN", "stats": {"tx": 1, "rx": 1, "conns": 1, "totconns": 1,
                                        "ereq": 0}}},
            pools={f"{models.new_id()}:{listener}": {"status": "UP", "members": {
                models.new_id(): "UP"}}})

    def raw(self, text):
        """A placeholder dumps replaces with text (a 5000-digit number, NaN, nesting...)."""
        token = f"@@raw{len(self.raws)}@@"
        self.raws[token] = text
        return token

    def dumps(self, value):
        """JSON text of value, placeholders replaced."""
        text = json.dumps(value, ensure_ascii=self.rng.random() < 0.5)
        for token, raw in self.raws.items():
            text = text.replace(f'"{token}"', raw)
        self.raws.clear()
        return text

    def number(self):
        """Raw JSON number text, often far past any bound."""
        rng = self.rng
        return rng.choice([
            str(rng.randint(-10, 10)), "9" * rng.choice((19, 20, 400, 4300, 5000)),
            "-" + "9" * rng.choice((19, 400)), "1e400", "-1e400", "NaN", "Infinity",
            "-Infinity", str(2 ** 63), str(2 ** 64), "1." + "0" * 500, "0.000001",
            repr(rng.random() * 10 ** rng.randint(0, 300))])

    def text(self):
        rng = self.rng
        alphabet = "ab:-[]{}\"\\\n\r\t\x00\x7f\u2028é🙂"
        return "".join(rng.choice(alphabet) for _ in range(rng.choice((0, 1, 5, 40, 300))))

    def value(self, depth=0):
        """Any JSON value, up to 12 levels deep (deeper than wire.MAX_DEPTH at times)."""
        rng = self.rng
        kind = rng.randrange(8 if depth < 12 else 6)
        if kind == 0:
            return self.raw(self.number())
        if kind == 1:
            return self.text()
        if kind == 2:
            return rng.choice([True, False, None])
        if kind == 3:
            return rng.choice(self.amphorae + self.listeners)
        if kind in (4, 5):
            return rng.randint(-2 ** 70, 2 ** 70)
        if kind == 6:
            return [self.value(depth + 1) for _ in range(rng.randrange(4))]
        keys = ["id", "seq", "ver", "t", "listeners", "pools", "status", "stats", "members",
                "tx", "conns"] + self.listeners
        return {rng.choice(keys + [self.text()]): self.value(depth + 1)
                for _ in range(rng.randrange(5))}

    def _set(self, message, value):
        """Put value at a random place of a valid message."""
        rng = self.rng
        (listener,) = message["listeners"]
        (pool,) = message["pools"]
        target = rng.choice([
            (message, rng.choice(["id", "seq", "ver", "t", "listeners", "pools"])),
            (message["listeners"], listener),
            (message["listeners"][listener], rng.choice(["status", "stats"])),
            (message["listeners"][listener]["stats"], rng.choice(wire.STAT_KEYS)),
            (message["pools"], pool), (message["pools"][pool], rng.choice(["status", "members"])),
            (message["pools"][pool]["members"], rng.choice(list(message["pools"][pool]
                                                                ["members"])))])
        target[0][target[1]] = value
        return message

    # the kinds, one chosen at random per datagram -------------------------------------
    def kind_random_shape(self):
        return pack(self.dumps(self.value()))

    def kind_wrong_value(self):
        return pack(self.dumps(self._set(self.valid(), self.value(depth=6))))

    def kind_huge_number(self):
        return pack(self.dumps(self._set(self.valid(), self.raw(self.number()))))

    def kind_missing_keys(self):
        message = self.valid()
        holders = [message, *message["listeners"].values(), *message["pools"].values()]
        for _ in range(self.rng.randint(1, 4)):
            holder = self.rng.choice(holders)
            if holder:
                del holder[self.rng.choice(list(holder))]
        return pack(self.dumps(message))

    def kind_deep_nesting(self):
        depth = self.rng.choice((wire.MAX_DEPTH, wire.MAX_DEPTH + 1, 1000, 100_000))
        open_, close = self.rng.choice((("[", "]"), ('{"a":', "}")))
        inner = open_ * depth + "1" + close * depth
        return pack(self.dumps(self._set(self.valid(), self.raw(inner))))

    def kind_not_json(self):
        rng = self.rng
        return signed(rng.choice([
            rng.randbytes(rng.randrange(1, 300)),                    # not zlib
            zlib.compress(rng.randbytes(rng.randrange(1, 300))),     # not UTF-8
            zlib.compress(self.text().encode("utf-8", "surrogatepass")),
            zlib.compress(b'{"id": "a"}')[:-3],                      # cut short
            zlib.compress(b'{"id": "a", "seq": 1, "ver": 3}') + b"more",
            ZLIB_BOMB,
        ]))

    def kind_forged_or_replayed(self):
        datagram = pack(self.dumps(self.valid()), key=self.rng.choice((KEY, "not-the-key")))
        variant = self.rng.randrange(3)
        if variant == 0:     # the digest as raw bytes: the old replay bypass
            return [datagram, datagram[:-64] + bytes.fromhex(datagram[-64:].decode())]
        if variant == 1:     # the same datagram twice
            return [datagram, datagram]
        return [datagram[:-64] + datagram[-64:].upper()]

    def kind_stale(self):
        message = self.valid()
        message["t"] = time.time() + self.rng.choice((-1, 1)) * self.rng.choice((61, 10 ** 9))
        return pack(self.dumps(message))

    def datagrams(self):
        """One fuzz case: a list of datagrams."""
        produced = self.rng.choice(self.kinds)()
        return produced if isinstance(produced, list) else [produced]


class Heart(threading.Thread):
    """Real heartbeats of every amphora, every HEARTBEAT_EVERY seconds, until stopped."""

    def __init__(self, address, objects):
        super().__init__(name="test-heart", daemon=True)
        self.address, self.objects = address, objects
        self.seq, self.sent, self.halt = 0, 0, threading.Event()

    def beat(self):
        self.seq += 1
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            for _, listener_id, amp_id in self.objects:
                sock.sendto(wire.encode(wire.make_message(amp_id, self.seq, listeners={
                    listener_id: {"status": "OPEN", "stats": {"tx": 1, "rx": 1, "conns": 0,
                                                              "totconns": 1, "ereq": 0}}}),
                    KEY), self.address)
                self.sent += 1

    def run(self):
        while not self.halt.wait(HEARTBEAT_EVERY):
            self.beat()


@pytest.fixture
def core(request):
    core = Core(make_conf(database_url("sqlite", request, "fuzz"), **{
        "health_manager.heartbeat_key": KEY, "health_manager.heartbeat_interval": 1,
        "health_manager.heartbeat_timeout": 1, "health_manager.health_check_interval": 1}))
    yield core
    core.close()


def test_signed_malformed_heartbeats_never_stop_the_health_manager(core):
    fuzz_seed = int(os.environ.get("LBAAS_FUZZ_SEED") or random.SystemRandom().randrange(2 ** 32))
    print(f"\nheartbeat fuzz seed {fuzz_seed} (LBAAS_FUZZ_SEED={fuzz_seed} replays it)")
    objects = [seed(core.db) for _ in range(3)]
    for _, _, amp_id in objects:
        heartbeats.Heartbeats(core.context).watch(amp_id)   # judged from now, as the worker does
    failovers = []
    server = HeartbeatServer(core.conf, HealthManager(core.context), bind_ip="127.0.0.1",
                             bind_port=0).start()
    scanner = FailoverScanner(core.context, lambda lb, amp: failovers.append(amp)).start()
    heart = Heart(server.address, objects)
    heart.beat()
    heart.start()
    fuzzer = Fuzzer(random.Random(fuzz_seed), [o[2] for o in objects], [o[1] for o in objects])
    start, sent = time.monotonic(), 0
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            while sent < DATAGRAMS:
                for _ in range(BATCH):
                    for datagram in fuzzer.datagrams():
                        sock.sendto(datagram, server.address)
                        sent += 1
                handled = sent + heart.sent
                assert server.wait(lambda c, n=handled: c["rejected"] + c["accepted"] >= n, 30), \
                    (fuzz_seed, server.stats())
        fuzzed = time.monotonic() - start
        # long enough for a receiver that stopped early to be noticed by the scanner
        time.sleep(max(0.0, 3.5 - fuzzed))
    finally:
        heart.halt.set()
        heart.join(5)
        scanner.stop()
    try:
        total = sent + heart.sent
        assert server.wait(lambda c: c["rejected"] + c["accepted"] == total, 10), \
            (fuzz_seed, total, server.stats())
        stats = server.stats()
        print(f"{sent} fuzz datagrams in {fuzzed:.2f} s; {stats}")
        assert stats["rejected"]["error"] == 0 and not stats["counters"].get("restarts"), \
            (fuzz_seed, stats)
        assert not stats["counters"].get("failed"), (fuzz_seed, stats)
        assert sum(stats["rejected"].values()) > 0.9 * sent, (fuzz_seed, stats)
        assert failovers == [], fuzz_seed
        with core.db.read() as session:
            assert {session.get(models.Amphora, o[2]).status for o in objects} \
                == {"ALLOCATED"}, fuzz_seed
        # and a real heartbeat is still processed
        _, listener_id, amp_id = objects[0]
        processed = server.counters["processed"]
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.sendto(wire.encode(wire.make_message(amp_id, 10 ** 9, listeners={
                listener_id: {"status": "OPEN"}}), KEY), server.address)
        assert server.wait(lambda c: c["processed"] == processed + 1, 10), \
            (fuzz_seed, server.stats())
        assert heartbeats.Heartbeats(core.context).health(amp_id).seq == 10 ** 9
        assert operating_status(core.db, models.Listener, listener_id) == "ONLINE"
    finally:
        server.stop()
