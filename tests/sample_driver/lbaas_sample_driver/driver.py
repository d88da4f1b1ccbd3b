"""SampleProviderDriver: a provider that provisions nothing and says so over DriverLibrary.

Every call is validated, then answered at once; a background thread reports the outcome
through the driver agent's sockets a moment later (the API's transaction may not have
committed yet, so a report that names an object not yet visible is retried). Lookups of a
parent's load balancer go through the get socket.

BrokenSampleProviderDriver is the same driver with two deliberate bugs a conformance
suite must catch: it never reports a status, and it accepts the options the sample
refuses (SOURCE_IP_PORT, UDP, any flavor key).
"""
import logging
import queue
import threading
import time

from octavia_lib.api.drivers import data_models as dm
from octavia_lib.api.drivers import exceptions as lib_exc
from octavia_lib.api.drivers import provider_base
from octavia_lib.common import constants as c

from lbaas_sample_driver.library import library

LOG = logging.getLogger(__name__)

ACTIVE, DELETED, ONLINE = c.ACTIVE, c.DELETED, c.ONLINE
REFUSED_ALGORITHMS = ("SOURCE_IP_PORT",)
REFUSED_PROTOCOLS = ("UDP",)
FLAVOR_METADATA = {"sample_size": "small, medium or large: how big the sample's (imaginary) "
                                  "load balancer is."}
SIZES = ("small", "medium", "large")
ZONE_METADATA = {"sample_zone": "Any string: the (imaginary) zone the load balancer lives in."}
RETRY_FOR = 30.0   # seconds a report is retried before it is given up (and logged)


def _refuse(message):
    raise lib_exc.UnsupportedOptionError(user_fault_string=message,
                                         operator_fault_string=message)


def _given(value):
    return value is not None and not isinstance(value, dm.UnsetType)


def _items(value):
    return value if _given(value) else []


class _Reporter:
    """One thread per process: runs report jobs in order, retrying each until it succeeds."""

    def __init__(self):
        self._queue = queue.Queue()
        self._thread = None
        self._lock = threading.Lock()

    def submit(self, job, what):
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="sample-driver-reporter",
                                                daemon=True)
                self._thread.start()
        self._queue.put((job, what))

    def _run(self):
        while True:
            job, what = self._queue.get()
            deadline, delay = time.monotonic() + RETRY_FOR, 0.02
            while True:
                time.sleep(delay)
                try:
                    job(library())
                    break
                except Exception as exc:
                    if time.monotonic() > deadline:
                        LOG.error("sample driver gave up reporting %s: %s", what, exc)
                        break
                    delay = min(delay * 2, 0.5)


_reporter = _Reporter()


def _record(object_id, status, operating=True):
    record = {"id": object_id, "provisioning_status": status}
    if operating and status != DELETED:
        record["operating_status"] = ONLINE
    return record


def _update(lib, **collections):
    lib.update_loadbalancer_status({k: v for k, v in collections.items() if v})


def _lb_of_pool(lib, pool_id):
    pool = lib.get_pool(pool_id)
    if pool is None:
        raise LookupError(f"pool {pool_id} is not visible yet")
    return pool


def _lb_of_policy(lib, l7policy_id):
    policy = lib.get_l7policy(l7policy_id)
    if policy is None:
        raise LookupError(f"l7policy {l7policy_id} is not visible yet")
    listener = lib.get_listener(policy.listener_id)
    if listener is None:
        raise LookupError(f"listener {policy.listener_id} is not visible yet")
    return policy, listener


def _zero_stats(listener_id):
    return {"id": listener_id, "active_connections": 0, "bytes_in": 0, "bytes_out": 0,
            "request_errors": 0, "total_connections": 0}


class SampleProviderDriver(provider_base.ProviderDriver):
    """A correct out-of-tree provider: validates, then reports through DriverLibrary."""

    reports = True

    def _report(self, job, what):
        if self.reports:
            _reporter.submit(job, what)

    # Validation -----------------------------------------------------------------------
    def _check_pool(self, pool):
        if pool.lb_algorithm in REFUSED_ALGORITHMS:
            _refuse(f"the sample provider does not support lb_algorithm {pool.lb_algorithm}")
        if pool.protocol in REFUSED_PROTOCOLS:
            _refuse(f"the sample provider does not support {pool.protocol} pools")

    def _check_listener(self, listener):
        if listener.protocol in REFUSED_PROTOCOLS:
            _refuse(f"the sample provider does not support {listener.protocol} listeners")
        pool = getattr(listener, "default_pool", None)
        if _given(pool):
            self._check_pool(pool)

    # Load balancers -------------------------------------------------------------------
    def loadbalancer_create(self, loadbalancer):
        for listener in _items(loadbalancer.listeners):
            self._check_listener(listener)
        for pool in _items(loadbalancer.pools):
            self._check_pool(pool)
        lb_id = loadbalancer.loadbalancer_id
        listeners = [_record(li.listener_id, ACTIVE) for li in _items(loadbalancer.listeners)]
        pools, members, monitors, policies, rules = [], [], [], [], []
        for listener in _items(loadbalancer.listeners):
            for policy in _items(listener.l7policies):
                policies.append(_record(policy.l7policy_id, ACTIVE))
                rules += [_record(r.l7rule_id, ACTIVE) for r in _items(policy.rules)]
        seen = set()
        every_pool = list(_items(loadbalancer.pools)) + [
            li.default_pool for li in _items(loadbalancer.listeners) if _given(li.default_pool)]
        for pool in every_pool:
            if pool.pool_id in seen:
                continue
            seen.add(pool.pool_id)
            pools.append(_record(pool.pool_id, ACTIVE))
            members += [_record(m.member_id, ACTIVE) for m in _items(pool.members)]
            if _given(pool.healthmonitor):
                monitors.append(_record(pool.healthmonitor.healthmonitor_id, ACTIVE))
        listener_ids = [li.listener_id for li in _items(loadbalancer.listeners)]

        def job(lib):
            _update(lib, loadbalancers=[_record(lb_id, ACTIVE)], listeners=listeners,
                    pools=pools, members=members, healthmonitors=monitors,
                    l7policies=policies, l7rules=rules)
            if listener_ids:
                lib.update_listener_statistics(
                    {"listeners": [_zero_stats(i) for i in listener_ids]})
        self._report(job, f"load balancer {lb_id} created")

    def loadbalancer_update(self, old_loadbalancer, new_loadbalancer):
        lb_id = old_loadbalancer.loadbalancer_id
        self._report(lambda lib: _update(lib, loadbalancers=[_record(lb_id, ACTIVE)]),
                     f"load balancer {lb_id} updated")

    def loadbalancer_delete(self, loadbalancer, cascade=False):
        lb_id = loadbalancer.loadbalancer_id
        self._report(lambda lib: _update(lib, loadbalancers=[_record(lb_id, DELETED)]),
                     f"load balancer {lb_id} deleted")

    def loadbalancer_failover(self, loadbalancer_id):
        self._report(lambda lib: _update(lib, loadbalancers=[_record(loadbalancer_id, ACTIVE)]),
                     f"load balancer {loadbalancer_id} failed over")

    # Listeners ------------------------------------------------------------------------
    def _listener_done(self, listener, status, what, stats=False):
        listener_id, lb_id = listener.listener_id, listener.loadbalancer_id

        def job(lib):
            _update(lib, listeners=[_record(listener_id, status)],
                    loadbalancers=[_record(lb_id, ACTIVE, operating=False)])
            if stats:
                lib.update_listener_statistics({"listeners": [_zero_stats(listener_id)]})
        self._report(job, f"listener {listener_id} {what}")

    def listener_create(self, listener):
        self._check_listener(listener)
        self._listener_done(listener, ACTIVE, "created", stats=True)

    def listener_update(self, old_listener, new_listener):
        self._listener_done(old_listener, ACTIVE, "updated")

    def listener_delete(self, listener):
        self._listener_done(listener, DELETED, "deleted")

    # Pools ----------------------------------------------------------------------------
    def _pool_done(self, pool, status, what):
        pool_id, lb_id = pool.pool_id, pool.loadbalancer_id
        listener_id = pool.listener_id if _given(pool.listener_id) else None

        def job(lib):
            _update(lib, pools=[_record(pool_id, status)],
                    listeners=[_record(listener_id, ACTIVE, operating=False)]
                    if listener_id else None,
                    loadbalancers=[_record(lb_id, ACTIVE, operating=False)])
        self._report(job, f"pool {pool_id} {what}")

    def pool_create(self, pool):
        self._check_pool(pool)
        self._pool_done(pool, ACTIVE, "created")

    def pool_update(self, old_pool, new_pool):
        self._check_pool(new_pool)
        self._pool_done(old_pool, ACTIVE, "updated")

    def pool_delete(self, pool):
        self._pool_done(pool, DELETED, "deleted")

    # Members and health monitors: their load balancer comes from the get socket -------
    def _pool_child_done(self, pool_id, collection, records, what):
        def job(lib):
            pool = _lb_of_pool(lib, pool_id)
            _update(lib, **{collection: records(lib, pool)},
                    pools=[_record(pool_id, ACTIVE, operating=False)],
                    loadbalancers=[_record(pool.loadbalancer_id, ACTIVE, operating=False)])
        self._report(job, what)

    def member_create(self, member):
        self._pool_child_done(member.pool_id, "members",
                              lambda lib, pool: [_record(member.member_id, ACTIVE)],
                              f"member {member.member_id} created")

    def member_update(self, old_member, new_member):
        self._pool_child_done(old_member.pool_id, "members",
                              lambda lib, pool: [_record(old_member.member_id, ACTIVE)],
                              f"member {old_member.member_id} updated")

    def member_delete(self, member):
        self._pool_child_done(member.pool_id, "members",
                              lambda lib, pool: [_record(member.member_id, DELETED)],
                              f"member {member.member_id} deleted")

    def member_batch_update(self, pool_id, members):
        wanted = [m.member_id for m in members]

        def records(lib, pool):
            # DriverLibrary's get_* keep nested objects as dicts
            gone = [m["member_id"] for m in _items(pool.members) if m["member_id"] not in wanted]
            return [_record(i, ACTIVE) for i in wanted] + [_record(i, DELETED) for i in gone]
        self._pool_child_done(pool_id, "members", records, f"pool {pool_id} members updated")

    def health_monitor_create(self, healthmonitor):
        hm_id = healthmonitor.healthmonitor_id
        self._pool_child_done(healthmonitor.pool_id, "healthmonitors",
                              lambda lib, pool: [_record(hm_id, ACTIVE)],
                              f"health monitor {hm_id} created")

    def health_monitor_update(self, old_healthmonitor, new_healthmonitor):
        hm_id = old_healthmonitor.healthmonitor_id
        self._pool_child_done(old_healthmonitor.pool_id, "healthmonitors",
                              lambda lib, pool: [_record(hm_id, ACTIVE)],
                              f"health monitor {hm_id} updated")

    def health_monitor_delete(self, healthmonitor):
        hm_id = healthmonitor.healthmonitor_id
        self._pool_child_done(healthmonitor.pool_id, "healthmonitors",
                              lambda lib, pool: [_record(hm_id, DELETED)],
                              f"health monitor {hm_id} deleted")

    # L7 policies and rules: found through their listener ------------------------------
    def _policy_done(self, listener_id, records, what):
        def job(lib):
            listener = lib.get_listener(listener_id)
            if listener is None:
                raise LookupError(f"listener {listener_id} is not visible yet")
            _update(lib, **records(lib),
                    listeners=[_record(listener_id, ACTIVE, operating=False)],
                    loadbalancers=[_record(listener.loadbalancer_id, ACTIVE, operating=False)])
        self._report(job, what)

    def l7policy_create(self, l7policy):
        pid = l7policy.l7policy_id
        self._policy_done(l7policy.listener_id,
                          lambda lib: {"l7policies": [_record(pid, ACTIVE)]},
                          f"l7policy {pid} created")

    def l7policy_update(self, old_l7policy, new_l7policy):
        pid = old_l7policy.l7policy_id
        self._policy_done(old_l7policy.listener_id,
                          lambda lib: {"l7policies": [_record(pid, ACTIVE)]},
                          f"l7policy {pid} updated")

    def l7policy_delete(self, l7policy):
        pid = l7policy.l7policy_id
        self._policy_done(l7policy.listener_id,
                          lambda lib: {"l7policies": [_record(pid, DELETED)]},
                          f"l7policy {pid} deleted")

    def _rule_done(self, rule, status, what):
        rule_id, policy_id = rule.l7rule_id, rule.l7policy_id

        def job(lib):
            policy, listener = _lb_of_policy(lib, policy_id)
            _update(lib, l7rules=[_record(rule_id, status)],
                    l7policies=[_record(policy_id, ACTIVE, operating=False)],
                    listeners=[_record(listener.listener_id, ACTIVE, operating=False)],
                    loadbalancers=[_record(listener.loadbalancer_id, ACTIVE, operating=False)])
        self._report(job, f"l7rule {rule_id} {what}")

    def l7rule_create(self, l7rule):
        self._rule_done(l7rule, ACTIVE, "created")

    def l7rule_update(self, old_l7rule, new_l7rule):
        self._rule_done(old_l7rule, ACTIVE, "updated")

    def l7rule_delete(self, l7rule):
        self._rule_done(l7rule, DELETED, "deleted")

    # Flavors and availability zones ---------------------------------------------------
    def get_supported_flavor_metadata(self):
        return dict(FLAVOR_METADATA)

    def validate_flavor(self, flavor_metadata):
        if not isinstance(flavor_metadata, dict):
            _refuse("flavor metadata must be an object")
        for key, value in flavor_metadata.items():
            if key not in FLAVOR_METADATA:
                _refuse(f"the sample provider does not support the flavor key {key!r}")
            if value not in SIZES:
                _refuse(f"sample_size {value!r} is not one of {list(SIZES)!r}")

    def get_supported_availability_zone_metadata(self):
        return dict(ZONE_METADATA)

    def validate_availability_zone(self, availability_zone_metadata):
        if not isinstance(availability_zone_metadata, dict):
            _refuse("availability zone metadata must be an object")
        for key, value in availability_zone_metadata.items():
            if key not in ZONE_METADATA:
                _refuse(f"the sample provider does not support the availability zone key "
                        f"{key!r}")
            if not isinstance(value, str):
                _refuse(f"sample_zone {value!r} is not a string")


class BrokenSampleProviderDriver(SampleProviderDriver):
    """Deliberately wrong: reports nothing, and accepts what it cannot do."""

    reports = False

    def _check_pool(self, pool):
        """Accepts SOURCE_IP_PORT and UDP silently (the bug)."""

    def _check_listener(self, listener):
        """Accepts UDP silently (the bug)."""

    def validate_flavor(self, flavor_metadata):
        """Accepts any flavor silently (the bug)."""
