"""The agent's side of lease fencing: the highest lease generation seen per load balancer.

A request carrying wire.FENCE_HEADER ("<load balancer id> <generation>") is served only if
its generation is at least the highest one this agent has seen for that load balancer, and
raises it otherwise; reads count too, so the moment a new lease holder first reaches this
amphora, the old holder's writes are refused. Requests without the header (a controller
that reconciles without leases, certificate rotation, the agent's own tools) pass. The
record is a small JSON file in the base directory, written whole before the request runs,
so it survives an agent restart; at most wire.MAX_FENCES load balancers are remembered (an
amphora serves one; spares are reassigned), the lowest generations forgotten first.

Beside it, a journal of the changes this agent accepted (fence-journal.json: every request
other than GET and HEAD that succeeded, with its fence or null, its method, path and time),
the last wire.MAX_JOURNAL of them, oldest first: what lets an operator or a test check
afterwards that each change came from the lease holder of its moment.
"""
import json
import os
import threading
import time

from lbaas.agent import files, wire

FILE = "fences.json"
JOURNAL = "fence-journal.json"


class Fenced(Exception):
    """A request from a lease holder that has been superseded."""


class Fences:
    """The generations seen per load balancer, kept in <base_dir>/fences.json."""

    def __init__(self, base_dir):
        self.path = os.path.join(base_dir, FILE)
        self.journal_path = os.path.join(base_dir, JOURNAL)
        self._lock = threading.Lock()
        self._seen = self._load()
        self._journal = self._load_journal()

    def _load(self):
        try:
            with open(self.path) as f:
                data = json.load(f)
        except (OSError, ValueError):
            return {}
        return {k: v for k, v in data.items() if isinstance(k, str) and isinstance(v, int)} \
            if isinstance(data, dict) else {}

    def _load_journal(self):
        try:
            with open(self.journal_path) as f:
                data = json.load(f)
        except (OSError, ValueError):
            return []
        return [e for e in data if isinstance(e, dict)][-wire.MAX_JOURNAL:] \
            if isinstance(data, list) else []

    def admit(self, header):
        """Serve a request with this FENCE_HEADER value? Raises Fenced when its generation
        is below the highest seen (ValueError when the header is malformed)."""
        lb_id, generation = wire.parse_fence(header)
        with self._lock:
            seen = self._seen.get(lb_id, 0)
            if generation < seen:
                raise Fenced(f"load balancer {lb_id}: lease generation {generation} is older "
                             f"than generation {seen}, which has reached this amphora")
            if generation > seen:
                seen = dict(self._seen, **{lb_id: generation})
                while len(seen) > wire.MAX_FENCES:
                    seen.pop(min((v, k) for k, v in seen.items() if k != lb_id)[1])
                os.makedirs(os.path.dirname(self.path), exist_ok=True)
                files.write_atomic(self.path, json.dumps(seen).encode())
                self._seen = seen

    def record(self, header, method, path, status):
        """Journal a change this agent accepted: the request's FENCE_HEADER value (None
        without one), method, path and answer status, at the time now (epoch seconds)."""
        fence = None
        if header is not None:
            lb_id, generation = wire.parse_fence(header)
            fence = {"loadbalancer_id": lb_id, "generation": generation}
        entry = {"at": time.time(), "method": method, "path": path[:200], "status": status,
                 "fence": fence}
        with self._lock:
            journal = (self._journal + [entry])[-wire.MAX_JOURNAL:]
            os.makedirs(os.path.dirname(self.journal_path), exist_ok=True)
            files.write_atomic(self.journal_path, json.dumps(journal).encode())
            self._journal = journal

    def journal(self):
        """The changes accepted, oldest first (at most wire.MAX_JOURNAL)."""
        with self._lock:
            return list(self._journal)

    def snapshot(self):
        """{load balancer id: highest generation seen}."""
        with self._lock:
            return dict(self._seen)
