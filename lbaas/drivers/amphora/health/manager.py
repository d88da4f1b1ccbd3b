"""HealthManager: one decoded heartbeat in, amphora liveness, statistics and statuses out."""
import collections
import datetime
import logging
import time

from octavia_lib.api.drivers import exceptions as lib_exc

from lbaas.core import constants as c
from lbaas.drivers import rollup
from lbaas.drivers.amphora.store import Heartbeats
from lbaas.drivers.amphora.store.heartbeats import STOPPED, utcnow

LOG = logging.getLogger(__name__)
ZOMBIE_RETRY = 30.0   # seconds between two deletions asked for the same zombie amphora


class HealthManager:
    """Apply heartbeats to the database, through an in-tree driver port.

    Per heartbeat: one read of the amphora, one of the load balancer's tree, at most one
    write transaction for liveness and counters, and a status update only when an
    operating status changes. Safe to call again with the same heartbeat, in this process
    or in another health manager (amphorae send each heartbeat to all of them): statuses
    are level-triggered, and the counters, which are deltas, are added once per heartbeat
    (store.heartbeats).
    """

    def __init__(self, context, clock=time.monotonic, delete_zombie=None):
        """delete_zombie(amphora_id): removes an amphora that sends heartbeats although the
        database has it DELETED or not at all (a "zombie"); None: such heartbeats are only
        ignored."""
        self.context, self.library = context, context.library
        self.heartbeats = Heartbeats(context)
        self.clock = clock
        self.delete_zombie = delete_zombie
        self.counters = collections.Counter()   # processed, ignored, late, status_updates, ...
        self._zombies = {}   # amphora id -> clock() of the last deletion asked for it

    def process(self, message, received_at=None):
        """Handle one decoded heartbeat dict (wire format v3); returns the status update sent.

        received_at: the receiver's clock() when the datagram arrived. Liveness is dated
        from then: a heartbeat handled late (an overloaded controller) still proves the
        amphora was alive when it arrived, and no later. (Octavia drops a heartbeat
        processed more than heartbeat_interval late; with lbaas's 1 s interval and 3 s
        timeout that turned a busy controller into failovers of healthy amphorae.)
        Returns None when the heartbeat is ignored, {} when no status changed.
        """
        amphora_id = message["id"]
        target = self.heartbeats.target(amphora_id)
        if target is None or target.status == c.DELETED:
            self._zombie(amphora_id, "unknown" if target is None else "DELETED")
        if target is None or target.status == c.DELETED or target.loadbalancer_id is None:
            self.counters["ignored"] += 1
            LOG.debug("heartbeat of amphora %s ignored: %s", amphora_id,
                      "unknown" if target is None else
                      "DELETED" if target.status == c.DELETED else "no load balancer")
            return None
        tree = self.library.loadbalancer_tree(target.loadbalancer_id)
        if tree is None:   # the load balancer was deleted meanwhile
            self.counters["ignored"] += 1
            return None
        alive = rollup.liveness_ok(tree, message)
        seen = None
        if received_at is not None:
            delay = self.clock() - received_at
            seen = utcnow() - datetime.timedelta(seconds=max(delay, 0.0))
            if delay >= self.context.conf.health_manager.heartbeat_interval:
                self.counters["late"] += 1
                LOG.warning("heartbeat of amphora %s handled %.1f s after it arrived: the "
                            "health manager is overloaded", amphora_id, delay)
        if not alive:
            self.counters["not_alive"] += 1
            LOG.info("heartbeat of amphora %s does not report listener(s) %s: not counted as "
                     "alive", amphora_id, ", ".join(sorted(rollup.missing_listeners(tree,
                                                                                     message))))
        counters = self._counters_of(tree, message)
        if not self.heartbeats.record(amphora_id, message.get("seq", 0), counters,
                                      alive=alive, now=seen) and counters:
            self.counters["counted_elsewhere"] += 1   # another manager added them first
        if alive and target.status == STOPPED:
            self.heartbeats.resume(amphora_id)
            LOG.warning("amphora %s sends heartbeats again: no longer %s", amphora_id,
                        STOPPED)
        update = rollup.changes(tree, message)
        if update:
            self._send(update, target.loadbalancer_id)
        self.counters["processed"] += 1
        return update

    def _zombie(self, amphora_id, state):
        """Ask for an amphora the database does not know (any more) to be removed, at most
        once per ZOMBIE_RETRY seconds: it was left by a crash between its deletion and its
        row's, or its row was purged, and it would otherwise run (and hold its VIP) forever.
        A spare has a row (READY, no load balancer), so it is never taken for one."""
        if self.delete_zombie is None:
            return
        now = self.clock()
        if now - self._zombies.get(amphora_id, -ZOMBIE_RETRY) < ZOMBIE_RETRY:
            return
        self._zombies[amphora_id] = now
        self.counters["zombies"] += 1
        LOG.warning("amphora %s sends heartbeats but is %s in the database: deleting it",
                    amphora_id, state)
        try:
            self.delete_zombie(amphora_id)
        except Exception as exc:   # noqa: BLE001 - retried after ZOMBIE_RETRY
            LOG.warning("could not ask for zombie amphora %s to be deleted: %s", amphora_id, exc)

    @staticmethod
    def _counters_of(tree, message):
        """The heartbeat's counters of listeners this load balancer has (not being deleted)."""
        known = {li["id"] for li in tree["listeners"]
                 if li["provisioning_status"] not in rollup.SKIPPED}
        return {lid: report.get("stats") or {}
                for lid, report in (message.get("listeners") or {}).items() if lid in known}

    def _send(self, update, loadbalancer_id):
        try:
            self.library.update_loadbalancer_status(update)
        except lib_exc.UpdateStatusError as exc:
            # An object went away between the read and the write: the next heartbeat heals.
            self.counters["status_update_failed"] += 1
            LOG.info("operating statuses of load balancer %s not updated: %s",
                     loadbalancer_id, exc.fault_string)
            return
        self.counters["status_updates"] += 1
