"""The noop provider driver: accepts every option and reports the objects ACTIVE, in milliseconds.

Every call only names the load balancer it touched. After the API's
transaction commits, a background thread reconciles that load balancer:
everything PENDING_DELETE is reported DELETED, everything else PENDING_*
ACTIVE, and operating statuses are set as a healthy data plane would show
them (ONLINE, OFFLINE when admin-down, NO_MONITOR for members of a pool
without a health monitor). Because it looks at state rather than at the
call, a duplicate is harmless and, at start-up, whatever a crash left
PENDING is finished.
"""
import logging
import queue
import threading
import time

from octavia_lib.api.drivers import exceptions as lib_exc
from octavia_lib.api.drivers import provider_base

from lbaas.core import constants as c
from lbaas.core.db import defer_after_commit

LOG = logging.getLogger(__name__)


def _operating(node, online=c.ONLINE):
    return online if node["admin_state_up"] else c.OFFLINE


def _settle(node, desired, record_list):
    """Add a record that finishes a pending object or corrects its operating status."""
    status = node["provisioning_status"]
    if status == c.PENDING_DELETE:
        record_list.append({"id": node["id"], "provisioning_status": c.DELETED})
        return
    record = {"id": node["id"]}
    if status in (c.PENDING_CREATE, c.PENDING_UPDATE):
        record["provisioning_status"] = c.ACTIVE
    if desired != node["operating_status"]:
        record["operating_status"] = desired
    if len(record) > 1:
        record_list.append(record)


def completion(tree):
    """The status update that brings a load balancer tree to its terminal state."""
    if tree["provisioning_status"] == c.PENDING_DELETE:
        return {"loadbalancers": [{"id": tree["id"], "provisioning_status": c.DELETED}]}
    update = {k: [] for k in ("members", "healthmonitors", "pools", "listeners", "loadbalancers")}
    for pool in tree["pools"]:
        hm = pool["healthmonitor"]
        monitored = hm is not None and hm["provisioning_status"] != c.PENDING_DELETE
        if hm is not None:
            _settle(hm, _operating(hm), update["healthmonitors"])
        for member in pool["members"]:
            _settle(member, _operating(member, c.ONLINE if monitored else c.NO_MONITOR),
                    update["members"])
        _settle(pool, _operating(pool), update["pools"])
    for listener in tree["listeners"]:
        _settle(listener, _operating(listener), update["listeners"])
    _settle(tree, _operating(tree), update["loadbalancers"])
    return {k: v for k, v in update.items() if v}


class NoopProviderDriver(provider_base.ProviderDriver):
    """A provider that provisions nothing and says it did."""

    _lock = threading.Lock()
    _workers = {}

    def __init__(self):
        super().__init__()
        self._library = None
        self._worker = None

    def bind_library(self, library):
        """Receive the in-process status library; start (or share) the reporting thread."""
        self._library = library
        with self._lock:
            worker = self._workers.get(id(library))
            if worker is None:
                worker = _Worker(library, library.conf.noop_driver.report_delay)
                self._workers[id(library)] = worker
                worker.start()
        self._worker = worker
        worker.submit_pending(self.name)

    def shutdown(self):
        """Stop the reporting thread."""
        with self._lock:
            worker = self._workers.pop(id(self._library), None)
        if worker is not None:
            worker.stop()

    def _touch(self, loadbalancer_id=None, collection=None, object_id=None):
        if self._worker is None:
            return
        worker = self._worker
        defer_after_commit(lambda: worker.submit(loadbalancer_id, collection, object_id))

    # Load balancers.
    def create_vip_port(self, loadbalancer_id, project_id, vip_dictionary,
                        additional_vip_dicts=None):
        """Let lbaas allocate the VIP from its network backend."""
        raise lib_exc.NotImplementedError(user_fault_string="noop allocates no VIP ports",
                                          operator_fault_string="noop allocates no VIP ports")

    def loadbalancer_create(self, loadbalancer):
        self._touch(loadbalancer.loadbalancer_id)

    def loadbalancer_update(self, old_loadbalancer, new_loadbalancer):
        self._touch(old_loadbalancer.loadbalancer_id)

    def loadbalancer_delete(self, loadbalancer, cascade=False):
        self._touch(loadbalancer.loadbalancer_id)

    def loadbalancer_failover(self, loadbalancer_id):
        self._touch(loadbalancer_id)

    # Listeners and pools carry their load balancer's id.
    def listener_create(self, listener):
        self._touch(listener.loadbalancer_id)

    def listener_update(self, old_listener, new_listener):
        self._touch(old_listener.loadbalancer_id)

    def listener_delete(self, listener):
        self._touch(listener.loadbalancer_id)

    def pool_create(self, pool):
        self._touch(pool.loadbalancer_id)

    def pool_update(self, old_pool, new_pool):
        self._touch(old_pool.loadbalancer_id)

    def pool_delete(self, pool):
        self._touch(pool.loadbalancer_id)

    # Members and monitors are found through their pool.
    def member_create(self, member):
        self._touch(collection="pools", object_id=member.pool_id)

    def member_update(self, old_member, new_member):
        self._touch(collection="pools", object_id=old_member.pool_id)

    def member_delete(self, member):
        self._touch(collection="pools", object_id=member.pool_id)

    def member_batch_update(self, pool_id, members):
        self._touch(collection="pools", object_id=pool_id)

    def health_monitor_create(self, healthmonitor):
        self._touch(collection="pools", object_id=healthmonitor.pool_id)

    def health_monitor_update(self, old_healthmonitor, new_healthmonitor):
        self._touch(collection="pools", object_id=old_healthmonitor.pool_id)

    def health_monitor_delete(self, healthmonitor):
        self._touch(collection="pools", object_id=healthmonitor.pool_id)

    # Flavors and availability zones: anything goes.
    def get_supported_flavor_metadata(self):
        return {"loadbalancer_topology": "SINGLE or ACTIVE_STANDBY (recorded, not acted on)."}

    def validate_flavor(self, flavor_metadata):
        return None

    def get_supported_availability_zone_metadata(self):
        return {"compute_zone": "Any string (recorded, not acted on)."}

    def validate_availability_zone(self, availability_zone_metadata):
        return None


class _Worker:
    """One thread per process that reconciles the load balancers it is told about."""

    def __init__(self, library, delay):
        self._library = library
        self._delay = delay
        self._queue = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="noop-driver", daemon=True)

    def start(self):
        self._thread.start()

    def stop(self):
        self._queue.put(None)
        self._thread.join(timeout=5)

    def submit(self, loadbalancer_id=None, collection=None, object_id=None):
        self._queue.put((loadbalancer_id, collection, object_id))

    def submit_pending(self, provider):
        self._queue.put(("pending", provider, None))

    def _run(self):
        while True:
            item = self._queue.get()
            if item is None:
                return
            try:
                self._handle(*item)
            except Exception:  # keep reporting for the other load balancers
                LOG.exception("noop driver could not report %s", item)

    def _handle(self, loadbalancer_id, collection, object_id):
        if loadbalancer_id == "pending":
            for lb_id in self._library.pending_loadbalancers(collection):
                self._reconcile(lb_id)
            return
        if loadbalancer_id is None:
            loadbalancer_id = self._library.loadbalancer_id_of(collection, object_id)
        if loadbalancer_id is not None:
            if self._delay:
                time.sleep(self._delay)
            self._reconcile(loadbalancer_id)

    def _reconcile(self, loadbalancer_id):
        tree = self._library.loadbalancer_tree(loadbalancer_id)
        if tree is None:
            return
        update = completion(tree)
        if update:
            self._library.update_loadbalancer_status(update)
