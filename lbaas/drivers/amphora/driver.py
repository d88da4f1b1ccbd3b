"""The amphora provider driver: validate at the API, then ask a worker to reconcile.

Every call refuses what the amphora cannot serve (UnsupportedOptionError naming the option),
then, once the API's transaction has committed, casts "reconcile load balancer X" on the
bus. Without `[DEFAULT] transport_url` the bus is in memory and the worker runs in this
process (`lbaas serve`, in-process tests); otherwise `lbaas-worker` processes serve it.
"""
import logging

from octavia_lib.api.drivers import exceptions as lib_exc
from octavia_lib.api.drivers import provider_base
from octavia_lib.common import constants as lib_c
from octavia_lib.api.drivers import data_models as dm

from lbaas.drivers import metadata
from lbaas.drivers.amphora import agent_client, rpc
from lbaas.drivers.amphora.haproxy import validate
from lbaas.drivers.amphora.lvs import validate as lvs
from lbaas.metrics import definitions as m

LOG = logging.getLogger(__name__)


L4_ONLY = (lib_c.PROTOCOL_UDP, lib_c.PROTOCOL_SCTP)

# Upstream's amphora keys, each (rule, description); the descriptions say what lbaas does
# (without commas: clients such as tempest read them from comma-separated settings).
FLAVOR_METADATA = {
    "loadbalancer_topology": (metadata.TOPOLOGY,
                              "SINGLE: one amphora; ACTIVE_STANDBY: two amphorae sharing the "
                              "VIP through keepalived VRRP."),
    "compute_flavor": (str, "The compute flavor amphorae boot with (the nova compute backend; "
                            "namespaces of the local one have no flavor)."),
    "amp_image_tag": (str, "The image tag amphorae boot from (the nova compute backend; the "
                           "local one boots no image)."),
    "sriov_vip": (bool, "When true the VIP port is an SR-IOV (vnic type direct) port and VIP "
                        "security groups are refused."),
    "allow_member_sriov": (bool, "Whether members may request SR-IOV ports (recorded; lbaas "
                                 "still refuses such members)."),
}
ZONE_METADATA = {
    "compute_zone": (str, "The compute availability zone amphorae boot in (the nova compute "
                          "backend; the local one has one zone: this host)."),
    "volume_zone": (str, "The volume availability zone (recorded; amphorae have no "
                         "volumes)."),
    "management_network": (str, "The management network amphorae join (the nova compute "
                                "backend; the local one has one management bridge)."),
    "valid_vip_networks": (metadata.STRING_LIST,
                           "Network ids VIPs in this zone may use instead of [networking] "
                           "valid_vip_networks."),
}


def _refuse(unserved, option):
    """UnsupportedOptionError when amphorae of the configured kind cannot serve `option`."""
    if option in unserved:
        raise lib_exc.UnsupportedOptionError(user_fault_string=unserved[option],
                                             operator_fault_string=unserved[option])


def _pools_of(loadbalancer):
    """Every pool model of a graph create (top-level and listeners' default pools)."""
    pools = list(loadbalancer.pools or ())
    for listener in loadbalancer.listeners or ():
        if _given(listener.default_pool):
            pools.append(listener.default_pool)
    return pools


def _given(value):
    """Whether a data-model field was given (octavia-lib's Unset and None are not)."""
    return value is not None and not isinstance(value, dm.UnsetType)


class AmphoraProviderDriver(metadata.DeclaredMetadata, provider_base.ProviderDriver):
    """Load balancers as HAProxy in amphorae, reconciled by workers."""

    flavor_metadata, zone_metadata = FLAVOR_METADATA, ZONE_METADATA

    def __init__(self):
        super().__init__()
        self._context = None
        self._bus = None
        self.worker = None   # the in-process worker, or None when workers are processes
        self._unserved = agent_client.AgentClient.unserved

    @property
    def _source_filter(self):
        """Whether these amphorae honour allowed_cidrs on UDP/SCTP listeners."""
        return "LVS allowed_cidrs" not in self._unserved

    def _refuse_l4(self, listener):
        """UDP and SCTP listeners where this kind of amphora cannot serve them; elsewhere
        what keepalived LVS cannot render."""
        if listener.protocol in L4_ONLY:
            _refuse(self._unserved, listener.protocol)
            lvs.validate_listener(listener, self._source_filter)

    def _refuse_ping(self, healthmonitor):
        """PING monitors, where this kind of amphora cannot run them."""
        if healthmonitor is not None and _given(healthmonitor) and \
                healthmonitor.type == lib_c.HEALTH_MONITOR_PING:
            _refuse(self._unserved, lib_c.HEALTH_MONITOR_PING)

    def bind_context(self, context):
        """Receive the in-tree driver port; start (or share) an in-process worker when the
        bus is in memory (`lbaas serve`)."""
        self._context = context
        self._unserved = agent_client.load_class(
            context.conf.controller_worker.amphora_driver).unserved
        self._bus = rpc.bus(context.conf)
        if self._bus.in_memory:
            from lbaas.drivers.amphora.worker import Worker
            self.worker = context.shared("amphora-worker",
                                         lambda: Worker(context, self.name).start())

    def background_services(self):
        """Beside an in-process worker, what `lbaas serve` runs with it: the health manager
        (heartbeats, failover of silent amphorae) and housekeeping. Split deployments run
        them as lbaas-health and lbaas-housekeeping."""
        if self.worker is None:
            return []
        from lbaas.drivers.amphora.housekeeping import Housekeeper
        from lbaas.drivers.amphora.health.service import HealthService
        worker, context = self.worker, self._context
        return [context.shared("amphora-health", lambda: HealthService(context, worker)),
                context.shared("amphora-housekeeping", lambda: Housekeeper(
                    context, worker.compute, worker.reconciler))]

    def _after_commit(self, fn):
        if self._context is not None:
            self._context.after_commit(fn)

    def _cast(self, loadbalancer_id):
        bus = self._bus
        if bus is not None and loadbalancer_id:
            self._after_commit(lambda: bus.reconcile(loadbalancer_id))

    def _cast_for(self, collection, object_id):
        library = self._context.library if self._context else None
        self._cast(library.loadbalancer_id_of(collection, object_id) if library else None)

    # -- load balancers -----------------------------------------------------------------
    def create_vip_port(self, loadbalancer_id, project_id, vip_dictionary,
                        additional_vip_dicts=None):
        """lbaas allocates the VIP from its network backend."""
        raise lib_exc.NotImplementedError(user_fault_string="lbaas allocates amphora VIPs",
                                          operator_fault_string="lbaas allocates amphora VIPs")

    def loadbalancer_create(self, loadbalancer):
        for listener in loadbalancer.listeners or ():
            self._refuse_l4(listener)
        for pool in _pools_of(loadbalancer):
            self._refuse_ping(pool.healthmonitor)
            if pool.protocol in L4_ONLY:
                _refuse(self._unserved, pool.protocol)
        validate.validate(loadbalancer)
        lvs.validate_lvs(loadbalancer, self._source_filter)
        self._cast(loadbalancer.loadbalancer_id)

    def loadbalancer_update(self, old_loadbalancer, new_loadbalancer):
        self._cast(old_loadbalancer.loadbalancer_id)

    def loadbalancer_delete(self, loadbalancer, cascade=False):
        self._cast(loadbalancer.loadbalancer_id)

    def loadbalancer_failover(self, loadbalancer_id):
        """Replace every amphora of the load balancer (the API holds it PENDING_UPDATE)."""
        bus = self._bus
        if bus is not None:
            m.FAILOVERS.labels("loadbalancer_api").inc()
            self._after_commit(lambda: bus.failover(loadbalancer_id))

    # -- amphorae (lbaas's optional extension) ------------------------------------------
    def amphora_failover(self, amphora_id):
        """Replace one amphora (the API holds its load balancer PENDING_UPDATE)."""
        lb_id = self._context.library.loadbalancer_id_of("amphorae", amphora_id) \
            if self._context else None
        bus = self._bus
        if bus is not None and lb_id:
            m.FAILOVERS.labels("amphora_api").inc()
            self._after_commit(lambda: bus.failover(lb_id, amphora_id))

    def amphora_config(self, amphora_id):
        """Push the configuration again by reconciling the amphora's load balancer."""
        self._cast_for("amphorae", amphora_id)

    def amphora_delete(self, amphora_id):
        """Tear an amphora in ERROR down (namespace, processes, ports); its row goes DELETED."""
        bus = self._bus
        if bus is not None:
            self._after_commit(lambda: bus.delete_amphora(amphora_id))

    # -- listeners, pools ---------------------------------------------------------------
    def listener_create(self, listener):
        if _given(listener.default_pool):
            self._refuse_ping(listener.default_pool.healthmonitor)
        if listener.protocol in L4_ONLY:
            self._refuse_l4(listener)   # validates its default pool too
        else:
            validate.validate_listener(listener)
            if _given(listener.default_pool):
                validate.validate_pool(listener.default_pool)
        self._cast(listener.loadbalancer_id)

    def listener_update(self, old_listener, new_listener):
        if _given(new_listener.tls_versions):   # SSLv3: the amphora's OpenSSL has none
            validate._check_versions(new_listener.tls_versions)
        self._cast(old_listener.loadbalancer_id)

    def listener_delete(self, listener):
        self._cast(listener.loadbalancer_id)

    def pool_create(self, pool):
        self._refuse_ping(pool.healthmonitor)
        if pool.protocol in L4_ONLY:
            _refuse(self._unserved, pool.protocol)
            lvs.validate_pool(pool)
        else:
            validate.validate_pool(pool)
        self._cast(pool.loadbalancer_id)

    def pool_update(self, old_pool, new_pool):
        algorithms = lvs.ALGORITHMS if old_pool.protocol in L4_ONLY else validate.ALGORITHMS
        if _given(new_pool.lb_algorithm) and new_pool.lb_algorithm not in algorithms:
            raise validate._unsupported("lb_algorithm", new_pool.lb_algorithm)
        if _given(new_pool.tls_versions):
            validate._check_versions(new_pool.tls_versions)
        self._cast(old_pool.loadbalancer_id)

    def pool_delete(self, pool):
        self._cast(pool.loadbalancer_id)

    # -- members and monitors: found through their pool ---------------------------------
    def member_create(self, member):
        self._cast_for("pools", member.pool_id)

    def member_update(self, old_member, new_member):
        self._cast_for("pools", old_member.pool_id)

    def member_delete(self, member):
        self._cast_for("pools", member.pool_id)

    def member_batch_update(self, pool_id, members):
        self._cast_for("pools", pool_id)

    def health_monitor_create(self, healthmonitor):
        self._refuse_ping(healthmonitor)
        # HAProxy's monitors, or keepalived's for UDP/SCTP pools (the API has matched the
        # type to the pool's protocol already)
        lvs_type = healthmonitor.type in lvs.MONITORS and "UDP" not in self._unserved
        if healthmonitor.type not in validate.MONITORS and not lvs_type:
            raise validate._unsupported("health monitor type", healthmonitor.type)
        self._cast_for("pools", healthmonitor.pool_id)

    def health_monitor_update(self, old_healthmonitor, new_healthmonitor):
        self._cast_for("pools", old_healthmonitor.pool_id)

    def health_monitor_delete(self, healthmonitor):
        self._cast_for("pools", healthmonitor.pool_id)

    # -- L7 -------------------------------------------------------------------------------
    def l7policy_create(self, l7policy):
        for rule in l7policy.rules or ():
            self._check_rule(rule, listener_id=l7policy.listener_id)
        self._cast_for("listeners", l7policy.listener_id)

    def l7policy_update(self, old_l7policy, new_l7policy):
        self._cast_for("listeners", old_l7policy.listener_id)

    def l7policy_delete(self, l7policy):
        self._cast_for("listeners", l7policy.listener_id)

    def _check_rule(self, rule, listener_id=None):
        """Refuse rule types HAProxy cannot test, and SSL_* types on a listener that does not
        terminate TLS (there is no client certificate to look at)."""
        if not _given(rule.type):
            return
        if rule.type not in validate.RULE_TYPES:
            raise validate._unsupported("L7 rule type", rule.type)
        if rule.type in validate.SSL_RULE_TYPES:
            protocol = self._listener_protocol(listener_id, rule.l7policy_id)
            if protocol is not None and protocol != lib_c.PROTOCOL_TERMINATED_HTTPS:
                raise validate._unsupported(f"L7 rule type {rule.type} on a listener that "
                                            "does not terminate TLS:", protocol)

    def _listener_protocol(self, listener_id=None, l7policy_id=None):
        """The protocol of a listener, or of an L7 policy's listener (None if unknown)."""
        if self._context is None:
            return None
        library = self._context.library
        if listener_id is None and _given(l7policy_id):
            policy = library.get_l7policy(l7policy_id)
            listener_id = policy.listener_id if policy is not None else None
        listener = library.get_listener(listener_id) if listener_id else None
        return listener.protocol if listener is not None else None

    def l7rule_create(self, l7rule):
        self._check_rule(l7rule)
        self._cast_for("l7policies", l7rule.l7policy_id)

    def l7rule_update(self, old_l7rule, new_l7rule):
        if not _given(new_l7rule.l7policy_id):
            new_l7rule.l7policy_id = old_l7rule.l7policy_id
        self._check_rule(new_l7rule)
        self._cast_for("l7policies", old_l7rule.l7policy_id)

    def l7rule_delete(self, l7rule):
        self._cast_for("l7policies", l7rule.l7policy_id)
