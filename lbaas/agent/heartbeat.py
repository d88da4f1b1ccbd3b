"""Heartbeats from the amphora (spec amphora.md §4): HAProxy stats -> signed UDP datagrams.

Every `interval` seconds the sender reads `show info` and `show stat` from the stats socket
of each load balancer whose HAProxy runs, builds one version-3 message (wire.make_message)
and sends wire.encode(message, key) to every controller of its list, so that each health
manager sees every heartbeat and one that is down costs nothing (they count each heartbeat's
counters once between them).

Listeners are the FRONTEND rows named by a UUID (the listener id); pools are the BACKEND
rows named "<pool id>:<listener id>", with their servers (member ids) as members. Byte,
session and error counters are deltas since the previous heartbeat; a counter that went down,
or a HAProxy whose worker pid changed (a reload or restart resets HAProxy's counters),
counts from zero. The previous counters, worker pids and seq survive agent restarts in an
optional JSON state file. Errors reading one load balancer never stop the thread.
"""
import csv
import ipaddress
import json
import logging
import re
import socket
import threading

from lbaas.agent import files, wire

LOG = logging.getLogger(__name__)
UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
DELTA_FIELDS = {"tx": "bout", "rx": "bin", "totconns": "stot", "ereq": "ereq"}


def _int(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def parse_stat(text):
    """(listeners, pools) from a `show stat` CSV answer.

    listeners: {listener id: {"status": row status, "conns": scur,
                              "counters": {"tx", "rx", "totconns", "ereq"} absolute}}
    pools: {"<pool id>:<listener id>": {"status": "UP"|"DOWN", "members": {id: status}}}
    """
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines or not lines[0].startswith("#"):
        raise ValueError("not a `show stat` CSV answer (no header line)")
    lines[0] = lines[0].lstrip("# ")
    listeners, pools, members = {}, {}, {}
    for row in csv.DictReader(lines):
        pxname, svname, status = row.get("pxname") or "", row.get("svname") or "", \
            row.get("status") or ""
        if svname == "FRONTEND":
            if UUID.fullmatch(pxname):
                listeners[pxname] = {
                    "status": status, "conns": _int(row.get("scur")),
                    "counters": {k: _int(row.get(f)) for k, f in DELTA_FIELDS.items()}}
        elif ":" not in pxname:
            continue
        elif svname == "BACKEND":
            pools[pxname] = {"status": "UP" if status.startswith("UP") else "DOWN",
                             "members": members.setdefault(pxname, {})}
        elif row.get("type") == "2":    # a server
            members.setdefault(pxname, {})[svname] = status
    return listeners, pools


def parse_info(text):
    """The `show info` answer as a dict of strings ("Pid", "Uptime_sec", ...)."""
    info = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            info[key.strip()] = value.strip()
    return info


def deltas(current, previous):
    """Counter deltas: current - previous, or current itself when the counter went down."""
    out = {}
    for name, value in current.items():
        before = (previous or {}).get(name, 0)
        out[name] = value - before if value >= before else value
    return out


def parse_controller(text):
    """("ip", port) of "ip:port" or "[ipv6]:port" (ValueError if malformed)."""
    host, sep, port = text.strip().rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"controller {text!r} is not ip:port")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
        if ipaddress.ip_address(host).version != 6:
            raise ValueError(f"controller {text!r}: only IPv6 goes in brackets")
    elif ipaddress.ip_address(host).version != 4:
        raise ValueError(f"controller {text!r}: put an IPv6 address in brackets")
    return host, int(port)


class HeartbeatSender(threading.Thread):
    """A daemon thread sending one heartbeat per interval until stop() is called."""

    def __init__(self, manager, amphora_id, key, controllers, interval=10.0, state_path=None):
        """manager: the HAProxyManager; controllers: ["ip:port", "[ipv6]:port", ...]."""
        super().__init__(name="heartbeat", daemon=True)
        if not controllers:
            raise ValueError("no controller to send heartbeats to")
        self.manager, self.amphora_id, self.key = manager, amphora_id, key
        self.controllers = [parse_controller(c) for c in controllers]
        self.interval, self.state_path = float(interval), state_path
        self.seq = 0
        self._previous = {}     # lb id -> {"pid": worker pid, "listeners": {id: counters}}
        self._carry = {}        # listener id -> counter deltas read before a reload or stop
        self._reading = threading.Lock()   # one reader of counters and baselines at a time
        self._last = None
        self._stopped = threading.Event()
        self._lock = threading.Lock()
        self._sockets = {}
        self._load()

    # -- state -------------------------------------------------------------------------
    def _load(self):
        if not self.state_path:
            return
        try:
            with open(self.state_path) as f:
                state = json.load(f)
            self.seq, self._previous = int(state["seq"]), dict(state["previous"])
        except FileNotFoundError:
            pass
        except (OSError, ValueError, KeyError, TypeError) as exc:
            LOG.warning("ignoring unreadable heartbeat state %s: %s", self.state_path, exc)

    def _save(self):
        if not self.state_path:
            return
        data = json.dumps({"seq": self.seq, "previous": self._previous}).encode()
        try:
            files.write_atomic(self.state_path, data)
        except OSError as exc:
            LOG.warning("cannot save heartbeat state %s: %s", self.state_path, exc)

    # -- collection --------------------------------------------------------------------
    def _read_lb(self, lb_id):
        """(worker pid, listeners, pools) of one running load balancer, or None if stopped."""
        if self.manager.pid(lb_id) is None:
            return None
        info = parse_info(self.manager.stats_command(lb_id, "show info"))
        listeners, pools = parse_stat(self.manager.stats_command(lb_id, "show stat"))
        return info.get("Pid"), listeners, pools

    def checkpoint(self, lb_id):
        """Bank the counters of a load balancer's current worker before it is replaced.

        A reload or stop starts a new worker whose counters begin at zero; what the old one
        counted since the last heartbeat would otherwise be lost. Called by the API just
        before it reloads or stops HAProxy; the banked deltas ride on the next heartbeat.
        """
        try:
            read = self._read_lb(lb_id)
        except Exception as exc:   # noqa: BLE001 - the reload must go on regardless
            LOG.warning("heartbeat: cannot bank the counters of %s: %s", lb_id, exc)
            return
        if read is None:
            return
        pid, lb_listeners, _ = read
        with self._lock:
            before = self._previous.get(lb_id, {})
            base = before.get("listeners", {}) if before.get("pid") == pid else {}
            for lid, row in lb_listeners.items():
                banked = self._carry.setdefault(lid, {})
                for name, value in deltas(row["counters"], base.get(lid)).items():
                    banked[name] = banked.get(name, 0) + value
            self._previous[lb_id] = {"pid": pid, "listeners": {
                lid: row["counters"] for lid, row in lb_listeners.items()}}

    def collect(self):
        """Read every load balancer and build the next message (advances counters and seq)."""
        with self._reading:
            return self._collect()

    def _collect(self):
        listeners, pools, previous = {}, {}, {}
        for lb_id in self.manager.lb_ids():
            try:
                read = self._read_lb(lb_id)
            except Exception as exc:   # noqa: BLE001 - one broken LB must not stop heartbeats
                LOG.warning("heartbeat: cannot read the stats of %s: %s", lb_id, exc)
                if lb_id in self._previous:
                    previous[lb_id] = self._previous[lb_id]   # keep the baseline for next time
                continue
            if read is None:
                continue
            pid, lb_listeners, lb_pools = read
            before = self._previous.get(lb_id, {})
            base = before.get("listeners", {}) if before.get("pid") == pid else {}
            for lid, row in lb_listeners.items():
                stats = deltas(row["counters"], base.get(lid))
                stats["conns"] = row["conns"]
                listeners[lid] = {"status": row["status"], "stats": stats}
            pools.update(lb_pools)
            previous[lb_id] = {"pid": pid, "listeners": {lid: row["counters"]
                                                         for lid, row in lb_listeners.items()}}
        with self._lock:
            for lid, banked in self._carry.items():
                if lid in listeners:
                    stats = listeners[lid]["stats"]
                    for name, value in banked.items():
                        stats[name] = stats.get(name, 0) + value
            self._carry = {lid: b for lid, b in self._carry.items() if lid not in listeners}
            message = wire.make_message(self.amphora_id, self.seq, listeners, pools)
            self.seq += 1
            self._previous = previous
            self._last = message
        self._save()
        return message

    def snapshot(self):
        """The last message built (a dict), or None before the first heartbeat."""
        with self._lock:
            return self._last

    # -- sending -----------------------------------------------------------------------
    def _socket(self, family):
        if family not in self._sockets:
            self._sockets[family] = socket.socket(family, socket.SOCK_DGRAM)
        return self._sockets[family]

    def send_once(self):
        """Collect, sign and send one heartbeat to every controller; -> the message."""
        message = self.collect()
        try:
            datagram = wire.encode(message, self.key)
        except wire.HeartbeatError as exc:
            LOG.warning("heartbeat %s not sent: %s", message.get("seq"), exc)
            return message
        for host, port in self.controllers:
            family = socket.AF_INET6 if ":" in host else socket.AF_INET
            try:
                self._socket(family).sendto(datagram, (host, port))
            except OSError as exc:
                LOG.warning("heartbeat to %s:%s failed: %s", host, port, exc)
        return message

    def run(self):
        while not self._stopped.is_set():
            try:
                self.send_once()
            except Exception:   # noqa: BLE001 - the thread must survive anything
                LOG.exception("heartbeat failed")
            self._stopped.wait(self.interval)
        for sock in self._sockets.values():
            sock.close()

    def stop(self, timeout=None):
        """Ask the thread to end and wait for it (up to timeout seconds)."""
        self._stopped.set()
        if self.is_alive():
            self.join(timeout)
