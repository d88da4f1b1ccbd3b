"""The OVN provider driver: validate at the API, then reconcile the load balancer into NB.

Every call refuses what OVN cannot do (validate.py, UnsupportedOptionError naming the
option; nothing is written) and, once the API's transaction has committed, queues "reconcile
load balancer X" for the process's OVN worker (worker.py). The worker writes the whole load
balancer into the Northbound database in one transaction and reports ACTIVE (DELETED,
ERROR) through the core's status callback. Member health (Service_Monitor) and the periodic
sync run where the sync service runs: inside `lbaas serve`, or in `lbaas-ovn-sync`.
"""
import ipaddress
import logging

from octavia_lib.api.drivers import exceptions as lib_exc
from octavia_lib.api.drivers import provider_base

from lbaas.core import network
from lbaas.drivers.ovn import validate
from lbaas.drivers.ovn.service import SyncService
from lbaas.drivers.ovn.worker import Worker

LOG = logging.getLogger(__name__)
FLAVOR_METADATA = {}    # no flavor key changes what OVN does
ZONE_METADATA = {}      # OVN load balancers are distributed: no zone to choose


class OvnProviderDriver(provider_base.ProviderDriver):
    """Load balancers as OVN Northbound Load_Balancer rows."""

    vip_port_style = network.OVN_VIP_PORT   # the VIP port as ovn-octavia-provider makes it

    def __init__(self):
        super().__init__()
        self._context = None
        self.worker = None

    def bind_context(self, context):
        """Receive the in-tree driver port; start (or share) the process's OVN worker."""
        self._context = context
        provider = self.name or "ovn"
        self.worker = context.shared("ovn-worker", lambda: Worker(context, provider).start())
        for loadbalancer_id in context.library.pending_loadbalancers(provider):
            self.worker.submit(loadbalancer_id)   # finish what a crash left PENDING

    def background_services(self):
        """The sync service (periodic sync, member health from Southbound) `lbaas serve`
        runs beside the API; split deployments run it as `lbaas-ovn-sync`."""
        if self.worker is None:
            return []
        return [self._context.shared("ovn-sync", lambda: SyncService(self.worker))]

    def _timeouts(self):
        conf = self._context.conf.haproxy_amphora if self._context else None
        return {f: getattr(conf, f) for f in validate.TIMEOUTS} if conf else {}

    def _queue(self, loadbalancer_id):
        worker = self.worker
        if worker is not None and loadbalancer_id:
            self._context.after_commit(lambda: worker.submit(loadbalancer_id))

    def _queue_for(self, collection, object_id):
        if self._context is not None:
            self._queue(self._context.library.loadbalancer_id_of(collection, object_id))

    def _pool_vip(self, pool_id):
        """The VIP address of a pool's load balancer, or None."""
        if self._context is None:
            return None
        library = self._context.library
        pool = library.get_pool(pool_id)
        lb = library.get_loadbalancer(pool.loadbalancer_id) if pool else None
        return lb.vip_address if lb else None

    def _same_family(self, members, vip_address):
        for member in members:
            if vip_address and validate.given(member.address) and \
                    ipaddress.ip_address(member.address).version != \
                    ipaddress.ip_address(vip_address).version:
                validate.refuse(f"member address {member.address}",
                                "an OVN VIP and its members must be of one IP version")

    # -- load balancers ---------------------------------------------------------------------
    def create_vip_port(self, loadbalancer_id, project_id, vip_dictionary,
                        additional_vip_dicts=None):
        """lbaas allocates the VIP from its network backend."""
        raise lib_exc.NotImplementedError(user_fault_string="lbaas allocates OVN VIPs",
                                          operator_fault_string="lbaas allocates OVN VIPs")

    def loadbalancer_create(self, loadbalancer):
        validate.loadbalancer(loadbalancer, self._timeouts())
        validate.metadata("flavor", loadbalancer.flavor if validate.given(
            loadbalancer.flavor) else {})
        for pool in loadbalancer.pools if validate.given(loadbalancer.pools) else ():
            self._same_family(pool.members or (), loadbalancer.vip_address)
        self._queue(loadbalancer.loadbalancer_id)

    def loadbalancer_update(self, old_loadbalancer, new_loadbalancer):
        self._queue(old_loadbalancer.loadbalancer_id)

    def loadbalancer_delete(self, loadbalancer, cascade=False):
        self._queue(loadbalancer.loadbalancer_id)

    def loadbalancer_failover(self, loadbalancer_id):
        """Nothing to fail over in a distributed datapath: rewrite the rows."""
        self._queue(loadbalancer_id)

    # -- listeners and pools ----------------------------------------------------------------
    def listener_create(self, listener):
        validate.listener(listener, self._timeouts())
        self._queue(listener.loadbalancer_id)

    def listener_update(self, old_listener, new_listener):
        validate.listener(new_listener, self._timeouts())
        self._queue(old_listener.loadbalancer_id)

    def listener_delete(self, listener):
        self._queue(listener.loadbalancer_id)

    def pool_create(self, pool):
        validate.pool(pool)
        self._queue(pool.loadbalancer_id)

    def pool_update(self, old_pool, new_pool):
        validate.pool(new_pool)
        self._queue(old_pool.loadbalancer_id)

    def pool_delete(self, pool):
        self._queue(pool.loadbalancer_id)

    # -- members and monitors ---------------------------------------------------------------
    def member_create(self, member):
        validate.member(member)
        self._same_family([member], self._pool_vip(member.pool_id))
        self._queue_for("pools", member.pool_id)

    def member_update(self, old_member, new_member):
        validate.member(new_member)
        self._queue_for("pools", old_member.pool_id)

    def member_delete(self, member):
        self._queue_for("pools", member.pool_id)

    def member_batch_update(self, pool_id, members):
        for member in members:
            validate.member(member)
        self._same_family(members, self._pool_vip(pool_id))
        self._queue_for("pools", pool_id)

    def _pool_protocol(self, pool_id):
        pool = self._context.library.get_pool(pool_id)
        return pool.protocol if pool else None

    def health_monitor_create(self, healthmonitor):
        validate.healthmonitor(healthmonitor, self._pool_protocol(healthmonitor.pool_id))
        self._queue_for("pools", healthmonitor.pool_id)

    def health_monitor_update(self, old_healthmonitor, new_healthmonitor):
        self._queue_for("pools", old_healthmonitor.pool_id)

    def health_monitor_delete(self, healthmonitor):
        self._queue_for("pools", healthmonitor.pool_id)

    # -- L7: OVN does not look past L4 ------------------------------------------------------
    def l7policy_create(self, l7policy):
        validate.refuse("L7 policies", "OVN balances at L4 and never reads requests")

    def l7rule_create(self, l7rule):
        validate.refuse("L7 rules", "OVN balances at L4 and never reads requests")

    # -- flavors and availability zones -----------------------------------------------------
    def get_supported_flavor_metadata(self):
        """No flavor keys: every OVN load balancer is the same distributed datapath."""
        return dict(FLAVOR_METADATA)

    def validate_flavor(self, flavor_metadata):
        """Refuse every key."""
        validate.metadata("flavor", flavor_metadata)

    def get_supported_availability_zone_metadata(self):
        """No availability-zone keys: OVN load balancers run on every chassis."""
        return dict(ZONE_METADATA)

    def validate_availability_zone(self, availability_zone_metadata):
        """Refuse every key."""
        validate.metadata("availability zone", availability_zone_metadata)
