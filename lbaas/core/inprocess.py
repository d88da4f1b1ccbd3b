"""The status callback for built-in drivers: octavia-lib's DriverLibrary interface, in-process.

The status, statistics and get calls are octavia-lib's (get_* answer data models, None when
the object is unknown or DELETED); update_amphora_status, loadbalancer_tree,
pending_loadbalancers and loadbalancer_id_of are lbaas's extensions for reconciling drivers.
"""
from octavia_lib.api.drivers import exceptions as lib_exc
from octavia_lib.common import constants as lib_c

from lbaas.core import models, provider_objects, queries, status
from lbaas.core.errors import StatusUpdateError


def _node(row, **extra):
    """One object of the reconcile tree: its statuses and admin state, then `extra`."""
    return dict(id=row.id, provisioning_status=row.provisioning_status,
                operating_status=row.operating_status, admin_state_up=row.admin_state_up,
                **extra)


class InProcessLibrary:
    """What an in-tree driver uses instead of DriverLibrary's unix sockets.

    Each update is one write transaction, run again if it loses a lock race to an API
    request (lbaas.core.db.Database.retrying): a lost status report would leave an object
    PENDING_* until the driver sends the next.
    """

    def __init__(self, core):
        self._core = core

    def _get(self, collection, object_id):
        return provider_objects.get(self._core.db, collection, object_id)

    def get_loadbalancer(self, loadbalancer_id):
        """The LoadBalancer data model (listeners and pools in full), or None."""
        return self._get(lib_c.LOADBALANCERS, loadbalancer_id)

    def get_listener(self, listener_id):
        """The Listener data model, or None."""
        return self._get(lib_c.LISTENERS, listener_id)

    def get_pool(self, pool_id):
        """The Pool data model, or None."""
        return self._get(lib_c.POOLS, pool_id)

    def get_member(self, member_id):
        """The Member data model, or None."""
        return self._get(lib_c.MEMBERS, member_id)

    def get_healthmonitor(self, healthmonitor_id):
        """The HealthMonitor data model, or None."""
        return self._get(lib_c.HEALTHMONITORS, healthmonitor_id)

    def get_l7policy(self, l7policy_id):
        """The L7Policy data model, or None."""
        return self._get(lib_c.L7POLICIES, l7policy_id)

    def get_l7rule(self, l7rule_id):
        """The L7Rule data model, or None."""
        return self._get(lib_c.L7RULES, l7rule_id)

    def update_loadbalancer_status(self, update):
        """Apply a status-update message and announce what it completes; raises UpdateStatusError."""
        db = self._core.db
        try:
            completed = db.retrying(status.apply_status_update, db, update, self._core.network)
        except StatusUpdateError as exc:
            raise lib_exc.UpdateStatusError(fault_string=str(exc), status_object=exc.collection,
                                            status_object_id=exc.object_id) from exc
        for event in completed:   # committed: each completed operation is announced once
            self._core.notifier.notify(event)

    def update_listener_statistics(self, statistics):
        """Store absolute listener counters; raises UpdateStatisticsError on a bad record."""
        db = self._core.db
        try:
            db.retrying(status.apply_statistics, db, statistics)
        except StatusUpdateError as exc:
            raise lib_exc.UpdateStatisticsError(fault_string=str(exc), stats_object=exc.collection,
                                                stats_object_id=exc.object_id) from exc

    def update_amphora_status(self, amphora_id, new_status):
        """Record an amphora's status (an lbaas extension); raises UpdateStatusError if refused."""
        db = self._core.db
        try:
            db.retrying(status.apply_amphora_status, db, amphora_id, new_status)
        except StatusUpdateError as exc:
            raise lib_exc.UpdateStatusError(fault_string=str(exc), status_object=exc.collection,
                                            status_object_id=exc.object_id) from exc

    def pending_loadbalancers(self, provider):
        """Ids of the provider's load balancers with anything left in PENDING_*."""
        return status.pending_loadbalancer_ids(self._core.db, provider)

    def loadbalancer_tree(self, loadbalancer_id):
        """The statuses and admin states of a load balancer and all its objects, or None."""
        with self._core.db.connection() as connection:
            tree = queries.loadbalancer_tree(connection, loadbalancer_id)
        if tree is None:
            return None
        return _node(tree.loadbalancer, listeners=[
            _node(li, default_pool_id=li.default_pool_id, l7policies=[
                _node(p.policy, rules=[_node(r) for r in p.rules])
                for p in tree.l7policies.get(li.id, ())])
            for li in tree.listeners
        ], pools=[_node(p.pool, members=[_node(m) for m in p.members],
                        healthmonitor=_node(p.healthmonitor) if p.healthmonitor else None)
                  for p in tree.pools.values()])

    def loadbalancer_id_of(self, collection, object_id):
        """The id of the load balancer that owns an object ('pools', 'members', ...), or None."""
        model = {"listeners": models.Listener, "pools": models.Pool, "members": models.Member,
                 "healthmonitors": models.HealthMonitor, "amphorae": models.Amphora,
                 "l7policies": models.L7Policy}[collection]
        with self._core.db.read() as session:
            row = session.get(model, object_id)
            if row is None:
                return None
            if collection in ("members", "healthmonitors"):
                row = session.get(models.Pool, row.pool_id)
            elif collection == "l7policies":
                row = session.get(models.Listener, row.listener_id)
            return row.loadbalancer_id if row is not None else None
