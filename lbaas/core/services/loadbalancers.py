"""Load balancers: create (with its VIP and optional graph), read, update, delete, failover."""
import logging

from octavia_lib.api.drivers import data_models as dm
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from lbaas.core import constants as c
from lbaas.core import drivers, errors, events, listing, models, queries
from lbaas.core import provider_models as pm
from lbaas.core.services import catalog, common, graph, quota_usage
from lbaas.core.services import vip as vips

FIELDS = ("id", "name", "description", "admin_state_up", "project_id", "provisioning_status",
          "operating_status", "vip_address", "vip_port_id", "vip_subnet_id", "vip_network_id",
          "vip_qos_policy_id", "vip_vnic_type", "provider", "flavor_id", "availability_zone",
          "created_at", "updated_at")
UPDATABLE = ("name", "description", "admin_state_up", "vip_qos_policy_id")
RBAC = "loadbalancer"
LOG = logging.getLogger(__name__)

LOAD = (selectinload(models.LoadBalancer.listeners), selectinload(models.LoadBalancer.pools))
GRAPH_LOAD = (
    selectinload(models.LoadBalancer.listeners).selectinload(models.Listener.default_pool),
    selectinload(models.LoadBalancer.pools).selectinload(models.Pool.members),
    selectinload(models.LoadBalancer.pools).selectinload(models.Pool.healthmonitor),
    selectinload(models.LoadBalancer.pools).selectinload(models.Pool.listeners),
    selectinload(models.LoadBalancer.listeners).selectinload(models.Listener.l7policies)
    .selectinload(models.L7Policy.rules),
)
ANSWER_LOAD = GRAPH_LOAD + (
    selectinload(models.LoadBalancer.listeners).selectinload(models.Listener.tags),)


def resolve_project(core, ctx, body):
    """The project a new load balancer belongs to: body, then caller, then the noauth default."""
    project = body.get("project_id") or ctx.project_id
    if not project and core.conf.api_settings.auth_strategy == "noauth":
        project = core.conf.api_settings.noauth_default_project
    if not project:
        raise errors.MissingProjectID()
    return project


class LoadBalancerService:
    """Every rule of the load balancer resource."""

    def __init__(self, core):
        self.core = core

    def get(self, ctx, lb_id):
        """One live load balancer as a record (404 if absent or DELETED)."""
        record = queries.loadbalancer(self.core.db.direct, lb_id) if lb_id else None
        if record is None:
            raise errors.NotFound(resource=common.HUMAN_NAMES[models.LoadBalancer], id=lb_id)
        self.core.policy.authorize(ctx, RBAC, "get_one", record.project_id)
        return record

    def list(self, ctx, options):
        """A page of load balancers (as records) matching the list options."""
        options = self.core.policy.scope_list(ctx, RBAC, options)
        stmt = select(*queries.LB_COLUMNS).where(
            models.LoadBalancer.provisioning_status != c.DELETED)
        with self.core.db.read() as session:
            page = listing.fetch_page(session, stmt, models.LoadBalancer, options,
                                      common.columns(models.LoadBalancer, FIELDS), plain=True)
            page.rows = queries.loadbalancer_records(session, page.rows)
        return page

    def create(self, ctx, body):
        """Create a load balancer, and its listeners and pools when the body nests them."""
        core = self.core
        project_id = resolve_project(core, ctx, body)
        core.policy.authorize(ctx, RBAC, "post", project_id)
        if "vip_sg_ids" in body:
            core.policy.authorize(ctx, RBAC, "post:vip_sg_ids", project_id)
        vip = vips.resolve(core.conf, core.network.as_caller(ctx), body)
        allocated = None
        try:
            with core.db.write() as session:
                options = catalog.choose(core, session, body)
                driver = options.driver
                quota_usage.reserve(core.conf, session, project_id, graph.quota_counts(body))
                catalog.apply(core.conf, options, vip)
                lb = models.LoadBalancer(
                    id=models.new_id(), project_id=project_id, name=body.get("name"),
                    description=body.get("description"),
                    admin_state_up=bool(body.get("admin_state_up", True)),
                    provisioning_status=c.PENDING_CREATE, operating_status=c.OFFLINE,
                    provider=options.provider, flavor_id=options.flavor_id,
                    availability_zone=options.availability_zone, topology=options.topology,
                    vip_vnic_type=options.vnic_type, vip_network_id=vip.network_id,
                    vip_subnet_id=vip.subnet_id, vip_address=vip.address, vip_port_id=vip.port_id,
                    vip_qos_policy_id=vip.qos_policy_id, vip_sg_ids=vip.sg_ids)
                lb.set_tags(body.get("tags") or [])
                session.add(lb)
                events.expect(session, lb.id, events.CREATE)   # inserted after lb (its FK)
                allocated = self._plug_vip(driver, lb, vip, session)
                graph.create_children(core, session, lb, body, ctx)
                full = common.snapshot(session, models.LoadBalancer, lb.id, ANSWER_LOAD)
                drivers.call(driver, "loadbalancer_create", pm.loadbalancer(
                    full, graph=True, flavor=options.flavor, availability_zone=options.zone))
            allocated = None
        finally:
            if allocated is not None:
                self._release_vip(*allocated)
        return full

    def _release_vip(self, lb_id, vip):
        """Release a VIP allocated by a request that failed; a failure here is only logged,
        so that the caller sees why the request failed."""
        try:
            self.core.network.deallocate_vip(lb_id, vip)
        except Exception:  # the request's own error is what the caller must see
            LOG.exception("load balancer %s: could not release the VIP of a failed create "
                          "(%s); it is left behind", lb_id, vip)

    def get_graph(self, lb_id):
        """A load balancer with its listeners and pools fully loaded."""
        with self.core.db.read() as session:
            return session.get(models.LoadBalancer, lb_id, options=ANSWER_LOAD)

    def _plug_vip(self, driver, lb, vip, session):
        """Ask the driver for the VIP port, else allocate it here; returns what to undo on failure."""
        vip_dict = {k: v for k, v in (
            ("vip_address", vip.address), ("vip_network_id", vip.network_id),
            ("vip_port_id", vip.port_id), ("vip_subnet_id", vip.subnet_id),
            ("vip_qos_policy_id", vip.qos_policy_id), ("vip_sg_ids", vip.sg_ids)) if v}
        try:
            result, extra = drivers.call(driver, "create_vip_port", lb.id, lb.project_id,
                                         vip_dict, [dict(a) for a in vip.additional])
            allocated = None
        except errors.ProviderNotImplementedError:
            network = self.core.network
            style = getattr(driver, "vip_port_style", None)  # the provider's port conventions
            styled = {"style": style} if style is not None else {}
            allocated_vip = network.allocate_vip(
                lb.id, vip.network_id, vip.subnet_id, vip.address, port_id=vip.port_id,
                project_id=lb.project_id, sg_ids=tuple(vip.sg_ids), **styled)
            allocated = (lb.id, allocated_vip)
            result = {"vip_address": allocated_vip.address,
                      "vip_network_id": allocated_vip.network_id,
                      "vip_subnet_id": allocated_vip.subnet_id,
                      "vip_port_id": vip.port_id or allocated_vip.port_id,
                      "octavia_owned": vip.port_id is None}
            extra = []
            try:
                for item in vip.additional:
                    got = network.allocate_vip(
                        lb.id, item["network_id"], item["subnet_id"], item.get("ip_address"),
                        port_id=item.get("port_id") or vip.port_id, project_id=lb.project_id,
                        sg_ids=tuple(vip.sg_ids), **styled)
                    extra.append({"subnet_id": got.subnet_id, "network_id": got.network_id,
                                  "ip_address": got.address, "port_id": item.get("port_id")
                                  or got.port_id})
            except BaseException:
                self._release_vip(*allocated)  # the caller's finally never saw it
                raise
        if isinstance(result, dm.VIP):
            result = result.to_dict()
        lb.vip_address = result.get("vip_address") or lb.vip_address
        lb.vip_network_id = result.get("vip_network_id") or lb.vip_network_id
        lb.vip_subnet_id = result.get("vip_subnet_id") or lb.vip_subnet_id
        lb.vip_port_id = result.get("vip_port_id") or lb.vip_port_id
        lb.vip_octavia_owned = bool(result.get("octavia_owned"))
        lb.additional_vips = [models.AdditionalVip(
            subnet_id=a["subnet_id"], network_id=a.get("network_id"),
            ip_address=a.get("ip_address"), port_id=a.get("port_id")) for a in extra or []]
        return allocated

    def update(self, ctx, lb_id, body):
        """Change the updatable fields; the load balancer must be ACTIVE."""
        if body.get("vip_qos_policy_id"):
            vips.check_qos_policy(self.core.network.as_caller(ctx), body["vip_qos_policy_id"])
        with self.core.db.write() as session:
            common.hold(session, models.LoadBalancer, lb_id)
            lb = common.get_or_404(session, models.LoadBalancer, lb_id, GRAPH_LOAD)
            self.core.policy.authorize(ctx, RBAC, "put", lb.project_id)
            if "vip_sg_ids" in body:
                self.core.policy.authorize(ctx, RBAC, "put:vip_sg_ids", lb.project_id)
            driver = self.core.drivers.get(lb.provider)
            old = pm.loadbalancer(lb)
            common.lock_loadbalancer(session, lb, error="pending")
            changes = {k: body[k] for k in UPDATABLE if k in body}
            if "admin_state_up" in changes:
                changes["admin_state_up"] = bool(changes["admin_state_up"])
            new = pm.partial(dm.LoadBalancer, "loadbalancer_id", lb.id, changes)
            drivers.call(driver, "loadbalancer_update", old, new)
            if "vip_sg_ids" in body:
                changes["vip_sg_ids"] = list(body["vip_sg_ids"] or [])
            common.apply_changes(lb, changes, body.get("tags"))
            events.expect(session, lb.id, events.UPDATE)
            return common.snapshot(session, models.LoadBalancer, lb_id, LOAD)

    def delete(self, ctx, lb_id, cascade=False):
        """Delete a load balancer; with children only when cascading."""
        with self.core.db.write() as session:
            common.hold(session, models.LoadBalancer, lb_id)
            lb = common.get_or_404(session, models.LoadBalancer, lb_id, GRAPH_LOAD)
            self.core.policy.authorize(ctx, RBAC, "delete", lb.project_id)
            if (lb.listeners or lb.pools) and not cascade:
                raise errors.ValidationException(
                    detail=f"Cannot delete Load Balancer {lb.id} - it has children")
            driver = self.core.drivers.get(lb.provider)
            full = pm.loadbalancer(lb, graph=bool(cascade))
            common.lock_loadbalancer(session, lb, allowed=c.DELETABLE_STATUSES,
                                     new=c.PENDING_DELETE, error="pending")
            events.expect(session, lb.id, events.DELETE)
            drivers.call(driver, "loadbalancer_delete", full, bool(cascade))

    def failover(self, ctx, lb_id):
        """Ask the provider to rebuild the load balancer's data plane."""
        with self.core.db.write() as session:
            common.hold(session, models.LoadBalancer, lb_id)
            lb = common.get_or_404(session, models.LoadBalancer, lb_id)
            self.core.policy.authorize(ctx, RBAC, "put_failover", lb.project_id)
            driver = self.core.drivers.get(lb.provider)
            common.lock_loadbalancer(session, lb, allowed=c.FAILOVERABLE_STATUSES,
                                     error="pending")
            drivers.call(driver, "loadbalancer_failover", lb.id)

    def stats(self, ctx, lb_id):
        """The sum of the load balancer's listener counters."""
        with self.core.db.read() as session:
            lb = common.get_or_404(session, models.LoadBalancer, lb_id)
            self.core.policy.authorize(ctx, RBAC, "get_stats", lb.project_id)
            return common.sum_statistics(session, models.Listener.loadbalancer_id == lb_id)

    def status_tree(self, ctx, lb_id):
        """The load balancer with every listener, pool, monitor and member status, nested."""
        return self.render_status_tree(self.status_tree_records(ctx, lb_id))

    @staticmethod
    def render_status_tree(tree):
        """The status-tree body of the records status_tree_records returned."""
        return _status_tree(tree)

    def status_tree_records(self, ctx, lb_id):
        """The records a status tree is rendered from (queries.LoadBalancerTree; 404 if the
        load balancer is absent or DELETED)."""
        authorize = None
        if self.core.policy.enforcing(ctx):
            def authorize(project_id):
                self.core.policy.authorize(ctx, RBAC, "get_status", project_id)
        tree = queries.loadbalancer_tree(self.core.db.direct, lb_id, authorize) \
            if lb_id else None
        if tree is None:
            raise errors.NotFound(resource=common.HUMAN_NAMES[models.LoadBalancer], id=lb_id)
        return tree


def _status(node, **extra):
    return dict(id=node.id, name=node.name or "", operating_status=node.operating_status,
                provisioning_status=node.provisioning_status, **extra)


def _listener_pool_ids(tree, listener):
    """A listener's pools: its default pool, then those its enabled policies with rules use."""
    ids = [listener.default_pool_id] if listener.default_pool_id else []
    for branch in tree.l7policies.get(listener.id, ()):
        policy = branch.policy
        if policy.redirect_pool_id and policy.admin_state_up and branch.rules:
            ids.append(policy.redirect_pool_id)
    return list(dict.fromkeys(ids))


def _status_tree(tree):
    """The status-tree body of a queries.LoadBalancerTree: listeners and the pools they use."""
    listeners = []
    for listener in tree.listeners:
        pools = []
        for pool_id in _listener_pool_ids(tree, listener):
            branch = tree.pools.get(pool_id)
            if branch is None:
                continue
            node = _status(branch.pool, members=[   # as _status(m, address=, protocol_port=)
                {"id": m.id, "name": m.name or "", "operating_status": m.operating_status,
                 "provisioning_status": m.provisioning_status, "address": m.address,
                 "protocol_port": m.protocol_port} for m in branch.members])
            hm = branch.healthmonitor
            if hm is not None:
                node["health_monitor"] = _status(hm, type=hm.type)
            pools.append(node)
        listeners.append(_status(listener, pools=pools))
    return {"loadbalancer": _status(tree.loadbalancer, listeners=listeners)}
