"""The OVN driver's one thread: reconcile load balancers into NB, sync, follow member health.

Work items are load balancer ids ("reconcile X"), SYNC (reconcile every OVN load balancer
and delete rows of load balancers lbaas no longer has) and HEALTH (recompute operating
statuses from Service_Monitor). One thread does all Northbound writes of the process, so
two reconciles of one load balancer never interleave; a queued item is not queued twice.

Health checks need a source address on each member subnet: a port of the network backend
per subnet (ovn-octavia-provider's convention, which Neutron's ML2/OVN makes a localport:
name and device_id `ovn-lb-hm-<subnet id>`, device_owner `ovn-lb-hm:distributed`), shared by
every load balancer checking members there, with NB_Global's svc_monitor_mac as its MAC
where the backend can set one. A reconcile that stops using a source releases
its port unless another Load_Balancer row still maps it; the sync releases every source no
load balancer plans any more (the repair for a release another process missed).
"""
import logging
import queue
import threading
import time

from lbaas.core import constants as c
from lbaas.drivers import report
from lbaas.drivers.ovn import health, plan
from lbaas.drivers.ovn.nb import Northbound
from lbaas.drivers.ovn.sb import Southbound
from lbaas.metrics import definitions as m

LOG = logging.getLogger(__name__)
SYNC, HEALTH, STOP = "sync", "health", "stop"
HM_OWNER = "ovn-lb-hm:distributed"
HM_PREFIX = "ovn-lb-hm-"
SB_RETRY = 10   # seconds between two attempts to reach an unreachable Southbound


class Worker:
    """Reconciles the `provider`'s load balancers into OVN, through a DriverContext."""

    def __init__(self, context, provider="ovn"):
        self.context, self.conf, self.provider = context, context.conf.ovn, provider
        self.library = context.library
        self.syncing = False            # set by the sync service: resync after reconnecting
        self.nb = self.sb = None
        self._planned = {}              # lb id -> health-check sources its last plan used
        self._queue, self._queued, self._lock = queue.Queue(), set(), threading.Lock()
        self._thread = threading.Thread(target=self._run, name="ovn-driver", daemon=True)
        self.last_sync = None           # monotonic time the last full sync finished
        self._sb_retry = 0.0

    def start(self):
        """Start the thread; returns self."""
        self._thread.start()
        return self

    def stop(self):
        """Finish the current item, stop the thread, close the OVSDB connections."""
        self._queue.put(STOP)
        self._thread.join(10)
        for db in (self.nb, self.sb):
            if db is not None:
                db.stop()

    def submit(self, item):
        """Queue a load balancer id, SYNC or HEALTH (nothing if it is queued already)."""
        with self._lock:
            if item in self._queued:
                return
            self._queued.add(item)
        self._queue.put(item)

    def _on_nb_synced(self):
        if self.syncing:
            self.submit(SYNC)

    # -- the loop -------------------------------------------------------------------------
    def _run(self):
        while True:
            item = self._queue.get()
            if item == STOP:
                return
            if item == HEALTH and self.conf.status_debounce:
                time.sleep(self.conf.status_debounce)   # gather a burst of SB changes
            with self._lock:
                self._queued.discard(item)
            try:
                if item == SYNC:
                    self.sync()
                elif item == HEALTH:
                    self.follow_health()
                else:
                    self.reconcile(item)
            except Exception:
                LOG.exception("OVN driver: %s failed", item)

    def _connect(self):
        if self.nb is None:
            self.nb = Northbound(self.conf.ovn_nb_connection, self.conf.ovsdb_connection_timeout,
                                 on_synced=self._on_nb_synced)
        if self.sb is None and self.syncing and self.conf.ovn_sb_connection \
                and time.monotonic() >= self._sb_retry:
            try:   # member health waits for SB; NB writes must not
                self.sb = Southbound(self.conf.ovn_sb_connection,
                                     self.conf.ovsdb_connection_timeout,
                                     on_change=lambda: self.submit(HEALTH))
            except Exception as exc:
                LOG.warning("OVN driver: Southbound %s unreachable (member health not "
                            "followed; retrying in %d s): %s", self.conf.ovn_sb_connection,
                            SB_RETRY, exc)
                self._sb_retry = time.monotonic() + SB_RETRY
        return self.nb

    # -- one load balancer ----------------------------------------------------------------
    def reconcile(self, loadbalancer_id):
        """Converge one load balancer's NB rows, then report its statuses."""
        seen = self.library.loadbalancer_tree(loadbalancer_id)
        want = self.context.desired(loadbalancer_id)
        if seen is None or want is None or want.provider != self.provider:
            return
        try:
            northbound = self._connect()
            before = northbound.sources(loadbalancer_id)
            if want.provisioning_status == c.PENDING_DELETE:
                northbound.converge(plan.Plan(loadbalancer_id, {}, set(), set()))
                self._planned.pop(loadbalancer_id, None)
            else:
                northbound.converge(self.plan(want.model))
        except Exception as exc:
            LOG.error("OVN driver: load balancer %s not written to NB: %s", loadbalancer_id, exc)
            self._report(seen, c.ERROR)
            return
        self._release_sources(before - self._planned.get(loadbalancer_id, set()),
                              northbound.sources(exclude=loadbalancer_id))
        self._report(seen, c.ACTIVE)
        if self.sb is not None and want.provisioning_status != c.PENDING_DELETE:
            self._health_of(loadbalancer_id, self.sb.statuses())

    def plan(self, model):
        """The NB Plan of an octavia-lib load balancer (allocating health-check sources)."""
        network = self.context.network
        datapaths = network.ovn_datapaths
        sources = {}
        subnets = [s for s in plan.monitored_subnets(model) if (datapaths(s) or (None,))[0]]
        # the source port answers ARP with the probes' own MAC, so members' replies go to
        # ovn-controller (docs/ovn.md, "In a Neutron cloud")
        mac = self.nb.svc_monitor_mac() if subnets and self.nb is not None else None
        for subnet in subnets:   # the existing port, else a new one
            port = network.allocate_port(
                device_id=HM_PREFIX + subnet, subnet_id=subnet, device_owner=HM_OWNER,
                name=HM_PREFIX + subnet, mac_address=mac)
            sources[subnet] = next(f["ip_address"] for f in port["fixed_ips"]
                                   if f["subnet_id"] == subnet)
        self._planned[model.loadbalancer_id] = set(sources.values())
        return plan.build(model, datapaths, sources)

    def _release_sources(self, unused, in_use):
        """Release the health-check ports holding `unused` addresses no one else maps."""
        unused = unused - in_use
        if not unused:
            return
        network = self.context.network
        for port in network.list_ports({"device_owner": [HM_OWNER]}):
            device = port.get("device_id") or ""
            if device.startswith(HM_PREFIX) and \
                    any(f["ip_address"] in unused for f in port.get("fixed_ips") or ()):
                LOG.info("OVN driver: releasing health-check source port %s (%s)", port["id"],
                         device)
                network.release_ports(device)
                m.OVN_REPAIRS.labels("health_source").inc()

    def _report(self, seen, outcome):
        """Finish what `seen` showed pending, unless it changed since (its own item runs)."""
        # with a Southbound, Service_Monitor sets member health
        report.finish(self.library, seen, outcome, observed=bool(self.conf.ovn_sb_connection))

    # -- every load balancer ----------------------------------------------------------------
    def loadbalancer_ids(self):
        """Ids of the provider's load balancers that are not DELETED."""
        return self.context.loadbalancer_ids(self.provider)

    def sync(self):
        """Reconcile every load balancer, then delete NB rows of those lbaas no longer has."""
        started = time.monotonic()
        try:
            self._sync()
        except Exception:
            m.OVN_SYNCS.labels("failed").inc()
            raise
        m.OVN_SYNCS.labels("succeeded").inc()
        m.OVN_SYNC_DURATION.observe(time.monotonic() - started)

    def _sync(self):
        northbound = self._connect()
        known = self.loadbalancer_ids()
        for loadbalancer_id in sorted(known):
            self.reconcile(loadbalancer_id)
        for stray in northbound.loadbalancer_ids() - known:
            LOG.info("OVN driver: deleting NB rows of unknown load balancer %s", stray)
            northbound.converge(plan.Plan(stray, {}, set(), set()))
            m.OVN_REPAIRS.labels("stray_loadbalancer").inc()
        for gone in set(self._planned) - known:
            del self._planned[gone]
        planned = set().union(*self._planned.values()) if self._planned else set()
        every = {f["ip_address"] for port in self.context.network.list_ports(
            {"device_owner": [HM_OWNER]}) for f in port.get("fixed_ips") or ()}
        self._release_sources(every - planned, planned | northbound.sources())
        self.follow_health()
        self.last_sync = time.monotonic()

    def follow_health(self):
        """Recompute operating statuses of every load balancer from Service_Monitor."""
        self._connect()
        if self.sb is None:
            return
        statuses = self.sb.statuses()
        for loadbalancer_id in sorted(self.loadbalancer_ids()):
            self._health_of(loadbalancer_id, statuses)

    def _health_of(self, loadbalancer_id, statuses):
        tree = self.library.loadbalancer_tree(loadbalancer_id)
        want = self.context.desired(loadbalancer_id)
        if tree is None or want is None:
            return
        update = health.changes(tree, want.model, statuses)
        if update:
            self.library.update_loadbalancer_status(update)
