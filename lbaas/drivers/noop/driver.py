"""The noop provider driver: accepts every object and reports it ACTIVE, in milliseconds.

Flavor and availability-zone metadata is checked honestly against the keys below
(FLAVOR_METADATA, ZONE_METADATA, upstream's amphora keys): an unknown key or a value of the
wrong type is an UnsupportedOptionError, as a real provider would raise.

Every call only names the load balancer it touched. After the API's
transaction commits, a background thread reconciles that load balancer:
everything PENDING_DELETE is reported DELETED, everything else PENDING_*
ACTIVE, and operating statuses are set as a healthy data plane would show
them (ONLINE, OFFLINE when admin-down, NO_MONITOR for members of a pool
without a health monitor), or, with `[noop_driver] operating_status =
unmeasured`, as upstream's noop backends leave them (see completion.py). Because it
looks at state rather than at the call, a duplicate is harmless and, at start-up,
whatever a crash left PENDING is finished.
"""
import logging
import queue
import threading
import time

from octavia_lib.api.drivers import exceptions as lib_exc
from octavia_lib.api.drivers import provider_base

from lbaas.core import constants as c
from lbaas.drivers import metadata
from lbaas.drivers.completion import completion

LOG = logging.getLogger(__name__)
DELETE_AMPHORA = "delete-amphora"  # a work item that reports an amphora DELETED


# The flavor and availability-zone keys noop accepts: key -> (rule, description), the keys
# upstream's amphora provider accepts, each of its type (the lbaas API itself reads
# loadbalancer_topology, sriov_vip and valid_vip_networks). Upstream's noop accepts any key;
# this one refuses undeclared keys, as the conformance contract asks of every provider.
FLAVOR_METADATA = {
    "loadbalancer_topology": (metadata.TOPOLOGY,
                              "SINGLE or ACTIVE_STANDBY: how many instances would serve each "
                              "load balancer (lbaas records it; noop runs none)."),
    "compute_flavor": (str, "The compute flavor instances would boot with (recorded; noop "
                            "boots nothing)."),
    "amp_image_tag": (str, "The image tag instances would boot from (recorded; noop boots "
                           "nothing)."),
    "sriov_vip": (bool, "When true the VIP port is an SR-IOV (vnic type direct) port and "
                        "VIP security groups are refused."),
    "allow_member_sriov": (bool, "Whether members may request SR-IOV ports (recorded; lbaas "
                                 "still refuses such members)."),
}
ZONE_METADATA = {
    "compute_zone": (str, "The compute zone instances would boot in (recorded; noop boots "
                          "nothing)."),
    "volume_zone": (str, "The volume zone instances' volumes would be in (recorded)."),
    "management_network": (str, "The management network instances would join (recorded)."),
    "valid_vip_networks": (metadata.STRING_LIST,
                           "Network ids VIPs in this zone may use instead of "
                           "[networking] valid_vip_networks."),
}


class NoopProviderDriver(metadata.DeclaredMetadata, provider_base.ProviderDriver):
    """A provider that provisions nothing and says it did."""

    flavor_metadata, zone_metadata = FLAVOR_METADATA, ZONE_METADATA

    def __init__(self):
        super().__init__()
        self._context = None
        self._worker = None

    def bind_context(self, context):
        """Receive the in-tree driver port; start (or share) the process's reporting thread."""
        self._context = context
        noop = context.conf.noop_driver
        self._worker = context.shared("noop-driver", lambda: _Worker(
            context.library, noop.report_delay, noop.operating_status == "healthy").start())
        self._worker.submit_pending(self.name)

    def _touch(self, loadbalancer_id=None, collection=None, object_id=None):
        if self._worker is None:
            return
        worker = self._worker
        self._context.after_commit(lambda: worker.submit(loadbalancer_id, collection, object_id))

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

    # Amphorae (lbaas's optional extension): the noop provider runs none, so there is
    # nothing to rebuild, configure or tear down; it reports the outcome all the same.
    def amphora_failover(self, amphora_id):
        """Report the amphora's load balancer ACTIVE again (a spare has none: nothing to do)."""
        self._touch(collection="amphorae", object_id=amphora_id)

    def amphora_config(self, amphora_id):
        """No agent runs anywhere, so there is no configuration to push."""

    def amphora_delete(self, amphora_id):
        """Report the amphora DELETED."""
        self._touch(collection=DELETE_AMPHORA, object_id=amphora_id)

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

    # L7 policies are found through their listener, rules through their policy.
    def l7policy_create(self, l7policy):
        self._touch(collection="listeners", object_id=l7policy.listener_id)

    def l7policy_update(self, old_l7policy, new_l7policy):
        self._touch(collection="listeners", object_id=old_l7policy.listener_id)

    def l7policy_delete(self, l7policy):
        self._touch(collection="listeners", object_id=l7policy.listener_id)

    def l7rule_create(self, l7rule):
        self._touch(collection="l7policies", object_id=l7rule.l7policy_id)

    def l7rule_update(self, old_l7rule, new_l7rule):
        self._touch(collection="l7policies", object_id=old_l7rule.l7policy_id)

    def l7rule_delete(self, l7rule):
        self._touch(collection="l7policies", object_id=l7rule.l7policy_id)



class _Worker:
    """One thread per process that reconciles the load balancers it is told about."""

    def __init__(self, library, delay, measured=True):
        self._library = library
        self._delay = delay
        self._measured = measured
        self._queue = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="noop-driver", daemon=True)

    def start(self):
        self._thread.start()
        return self

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
        if collection == DELETE_AMPHORA:
            self._library.update_amphora_status(object_id, c.DELETED)
            return
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
        update = completion(tree, measured=self._measured)
        if update:
            self._library.update_loadbalancer_status(update)
