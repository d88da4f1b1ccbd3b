"""Lean reads for the hot paths: plain rows, no ORM objects.

A page of load balancers (or one) costs two statements whatever its size: the page itself
and one UNION ALL fetching the child ids, tags and additional VIPs of every load balancer
on it. The status trees cost at most five small column selects. What comes back are the small,
immutable record types below, which the API views render exactly as they render ORM rows.
"""
import dataclasses
import functools
import operator
from typing import NamedTuple

from sqlalchemy import String, any_, bindparam, cast, literal, null, select, union_all
from sqlalchemy.dialects import postgresql

from lbaas.core import constants as c
from lbaas.core import direct, models

LB = models.LoadBalancer.__table__
LISTENER = models.Listener.__table__
POOL = models.Pool.__table__
MEMBER = models.Member.__table__
MONITOR = models.HealthMonitor.__table__
POLICY = models.L7Policy.__table__
RULE = models.L7Rule.__table__
TAG = models.Tag.__table__
VIP = models.AdditionalVip.__table__


class Ref(NamedTuple):
    """A child object given by its id (a load balancer's listeners and pools)."""

    id: str


class AdditionalVipRecord(NamedTuple):
    """An additional VIP of a load balancer, as the API shows it."""

    subnet_id: str
    ip_address: str | None
    port_id: str | None


@dataclasses.dataclass(frozen=True)
class LoadBalancerRecord:
    """A load balancer as views.loadbalancer renders it: columns, child ids, tags, extra VIPs.

    Not slotted on purpose: the views read an object's __dict__ when it holds every value
    they need, as they do for a loaded ORM row.
    """

    id: str
    name: str | None
    description: str | None
    admin_state_up: bool
    project_id: str | None
    provisioning_status: str
    operating_status: str
    vip_address: str | None
    vip_port_id: str | None
    vip_subnet_id: str | None
    vip_network_id: str | None
    vip_qos_policy_id: str | None
    vip_sg_ids: list | None
    vip_vnic_type: str | None
    provider: str | None
    flavor_id: str | None
    availability_zone: str | None
    created_at: object
    updated_at: object
    listeners: tuple = ()
    pools: tuple = ()
    additional_vips: tuple = ()
    tag_list: list = dataclasses.field(default_factory=list)


_CHILDREN = ("listeners", "pools", "additional_vips", "tag_list")
LB_COLUMNS = tuple(LB.c[f.name] for f in dataclasses.fields(LoadBalancerRecord)
                   if f.name not in _CHILDREN)


class TreeNode(NamedTuple):
    """The statuses and admin state of a load balancer or a pool."""

    id: str
    name: str | None
    provisioning_status: str
    operating_status: str
    admin_state_up: bool


class ListenerNode(NamedTuple):
    """A listener's statuses and admin state, and its default pool."""

    id: str
    name: str | None
    provisioning_status: str
    operating_status: str
    admin_state_up: bool
    default_pool_id: str | None


class MemberNode(NamedTuple):
    """A member's statuses and admin state, its address and port, and its pool."""

    id: str
    name: str | None
    provisioning_status: str
    operating_status: str
    admin_state_up: bool
    address: str
    protocol_port: int
    pool_id: str


class MonitorNode(NamedTuple):
    """A health monitor's statuses and admin state, and its type."""

    id: str
    name: str | None
    provisioning_status: str
    operating_status: str
    admin_state_up: bool
    type: str


class PolicyNode(NamedTuple):
    """An L7 policy's statuses and admin state, its listener and its redirect pool."""

    id: str
    name: str | None
    provisioning_status: str
    operating_status: str
    admin_state_up: bool
    listener_id: str
    redirect_pool_id: str | None


class RuleNode(NamedTuple):
    """An L7 rule's statuses and admin state (a rule has no name)."""

    id: str
    provisioning_status: str
    operating_status: str
    admin_state_up: bool


@dataclasses.dataclass(frozen=True)
class PolicyTree:
    """An L7 policy and its rules (oldest first)."""

    policy: PolicyNode
    rules: list


@dataclasses.dataclass(frozen=True)
class PoolTree:
    """A pool, its members (oldest first) and its health monitor, if any."""

    pool: TreeNode
    healthmonitor: MonitorNode | None
    members: list


@dataclasses.dataclass(frozen=True)
class LoadBalancerTree:
    """A live load balancer with its listeners and its pools (by id, in database order).

    l7policies maps a listener's id to its policies (PolicyTree), in position order.
    """

    loadbalancer: TreeNode
    listeners: list
    pools: dict
    l7policies: dict = dataclasses.field(default_factory=dict)
    # the rows read, as the database gave them: everything the tree holds, in plain tuples
    # whose repr is several times cheaper than the records' (the status tree's ETag)
    rows: tuple = dataclasses.field(default=(), compare=False, repr=False)



def _dialect(executor):
    """The dialect name of a Session or a Core Connection."""
    dialect = getattr(executor, "dialect", None)
    return (dialect or executor.get_bind().dialect).name

def _columns(table, record):
    return [table.c[name] for name in record._fields]


def id_in(session, column, ids):
    """column IN ids: one array parameter on PostgreSQL (= ANY), an IN list elsewhere."""
    if _dialect(session) == "postgresql":
        return column == any_(bindparam(None, list(ids), type_=postgresql.ARRAY(String)))
    return column.in_(list(ids))


def _ids_param(dialect_name, column):
    """column IN :ids, the list given at execution (an array on PostgreSQL, else expanded)."""
    if dialect_name == "postgresql":
        return column == any_(bindparam("ids", type_=postgresql.ARRAY(String)))
    return column.in_(bindparam("ids", expanding=True))


def _child_branches(owner_filter):
    """Listener ids, pool ids, tags and additional VIPs, one UNION ALL branch each."""
    text = cast(null(), String)

    def branch(owner, kind, *values):
        values += (text,) * (3 - len(values))
        return select(owner, literal(kind, String), *values).where(owner_filter(owner))

    return union_all(
        branch(LISTENER.c.loadbalancer_id, "listener", LISTENER.c.id),
        branch(POOL.c.loadbalancer_id, "pool", POOL.c.id),
        branch(TAG.c.resource_id, "tag", TAG.c.tag),
        branch(VIP.c.load_balancer_id, "vip", VIP.c.subnet_id, VIP.c.ip_address, VIP.c.port_id))


@functools.cache
def _children_query(dialect_name):
    """The children (_child_branches) of load balancers :ids, in one select.

    Built once per dialect: statements reused as they are skip SQLAlchemy's per-call
    construction and cache-key work.
    """
    return _child_branches(lambda owner: _ids_param(dialect_name, owner))


def _records(rows, child_rows):
    """LoadBalancerRecords of LB_COLUMNS rows (in their order) and their child rows."""
    children = {row[0]: ([], [], [], []) for row in rows}
    for owner, kind, a, b, d in child_rows:
        listeners, pools, vips, tags = children[owner]
        if kind == "listener":
            listeners.append(Ref(a))
        elif kind == "pool":
            pools.append(Ref(a))
        elif kind == "tag":
            tags.append(a)
        else:
            vips.append(AdditionalVipRecord(a, b, d))
    records = []
    for row in rows:
        listeners, pools, vips, tags = children[row[0]]
        tags.sort()
        records.append(LoadBalancerRecord(*row, listeners=tuple(listeners), pools=tuple(pools),
                                          additional_vips=tuple(vips), tag_list=tags))
    return records


def loadbalancer_records(session, rows):
    """Records for rows selected with LB_COLUMNS (in their order), children fetched at once."""
    if not rows:
        return []
    query = _children_query(_dialect(session))
    return _records(rows, session.execute(query, {"ids": [row[0] for row in rows]}))


class Rows:
    """The reader interface of lbaas.core.direct.Reader over an SQLAlchemy Connection or
    Session, for the callers of the functions below outside the API's request threads."""

    def __init__(self, executor):
        self.executor = executor

    def together(self, reads):
        """The rows of each (direct.Select, params) of `reads`, in order."""
        return [self.executor.execute(select.statement, params).all()
                for select, params in reads]


def _reader(executor):
    """A direct.Reader as it is; an SQLAlchemy Connection or Session wrapped in Rows."""
    return executor if isinstance(executor, direct.Reader) else Rows(executor)


_PROVISIONING = LB_COLUMNS.index(LB.c.provisioning_status)
_ONE_LB = direct.Select(select(*LB_COLUMNS).where(LB.c.id == bindparam("id")))
_ONE_LB_CHILDREN = direct.Select(_child_branches(lambda owner: owner == bindparam("id")))


def loadbalancer(reader, lb_id):
    """The live load balancer with this id as a record, or None (absent or DELETED).

    reader: a lbaas.core.direct.Reader, or an SQLAlchemy Connection or Session."""
    params = {"id": lb_id}
    lbs, children = _reader(reader).together([(_ONE_LB, params), (_ONE_LB_CHILDREN, params)])
    if not lbs or lbs[0][_PROVISIONING] == c.DELETED:
        return None
    return _records(lbs, children)[0]


_NODE = len(TreeNode._fields)
_TREE_PROVISIONING = TreeNode._fields.index("provisioning_status")
# the load balancer's node, then its project (what a policy check of the tree needs)
_LB_NODE = direct.Select(select(*_columns(LB, TreeNode), LB.c.project_id)
                         .where(LB.c.id == bindparam("id")))
_LISTENER_NODES = direct.Select(select(*_columns(LISTENER, ListenerNode)).where(
    LISTENER.c.loadbalancer_id == bindparam("id")))
_POOL_NODES = direct.Select(
    select(*_columns(POOL, TreeNode), *_columns(MONITOR, MonitorNode))
    .outerjoin(MONITOR, MONITOR.c.pool_id == POOL.c.id)
    .where(POOL.c.loadbalancer_id == bindparam("id")))
# members come with their created_at, and are put in order here, not by the database: oldest
# first, the id breaking ties (MariaDB keeps whole seconds: a batch shares one), so every read,
# in every process and on every database, gives one order and one ETag. Sorting in Python
# costs 0.04 ms for 200 members; PostgreSQL's collation-aware sort of the ids cost 0.25 ms.
_MEMBER_NODES = direct.Select(
    select(*_columns(MEMBER, MemberNode), MEMBER.c.created_at)
    .where(MEMBER.c.pool_id.in_(
        select(POOL.c.id).where(POOL.c.loadbalancer_id == bindparam("id")))))
_MEMBER_ORDER = operator.itemgetter(len(MemberNode._fields), 0)   # created_at, id
_POLICY_NODES = direct.Select(
    select(*_columns(POLICY, PolicyNode), *_columns(RULE, RuleNode))
    .select_from(POLICY.join(LISTENER, LISTENER.c.id == POLICY.c.listener_id)
                 .outerjoin(RULE, RULE.c.l7policy_id == POLICY.c.id))
    .where(LISTENER.c.loadbalancer_id == bindparam("id"))
    .order_by(POLICY.c.listener_id, POLICY.c.position, RULE.c.created_at, RULE.c.id))
_MEMBER_POOL = MemberNode._fields.index("pool_id")
_TREE_SELECTS = (_LB_NODE, _LISTENER_NODES, _POOL_NODES, _MEMBER_NODES, _POLICY_NODES)


def _policy_trees(rows):
    """The L7 policies (with their rules) of _POLICY_NODES rows, by listener id."""
    trees, split = {}, len(PolicyNode._fields)
    for row in rows:
        policy = PolicyNode(*row[:split])
        policies = trees.setdefault(policy.listener_id, [])
        if not policies or policies[-1].policy.id != policy.id:
            policies.append(PolicyTree(policy, []))
        if row[split] is not None:
            policies[-1].rules.append(RuleNode(*row[split:]))
    return trees


def loadbalancer_tree(reader, lb_id, authorize=None):
    """A live load balancer's statuses and those of every object under it, or None.

    reader: as loadbalancer()'s. authorize(project_id), when given, is called with the
    load balancer's project before anything under it is returned (it raises to refuse).
    The five statements are read together (one round trip where the driver can)."""
    params = {"id": lb_id}
    lbs, listener_rows, pool_rows, unordered, policy_rows = _reader(reader).together(
        [(select, params) for select in _TREE_SELECTS])
    if not lbs or lbs[0][_TREE_PROVISIONING] == c.DELETED:
        return None
    lb = lbs[0]
    if authorize is not None:
        authorize(lb[_NODE])
    listeners = [ListenerNode(*row) for row in listener_rows]
    pools = {}
    for row in pool_rows:
        monitor = MonitorNode(*row[_NODE:]) if row[_NODE] is not None else None
        pools[row[0]] = PoolTree(TreeNode(*row[:_NODE]), monitor, [])
    # the rows as rendered (created_at only orders them: it stays out of the ETag)
    member_rows = [row[:-1] for row in sorted(unordered, key=_MEMBER_ORDER)]
    for row in member_rows:
        pools[row[_MEMBER_POOL]].members.append(MemberNode(*row))
    return LoadBalancerTree(TreeNode(*lb[:_NODE]), listeners, pools,
                            _policy_trees(policy_rows),
                            rows=(tuple(lb), listener_rows, pool_rows, member_rows, policy_rows))
