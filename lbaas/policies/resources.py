"""One rule per resource and action: `os_load-balancer_api:<resource>:<action>`.

Each rule's default points at a base rule (lbaas.policies.base) and lists the API
operations it guards, for the generated sample (etc/policy.yaml.sample). Every rule is
meant for project-scoped tokens.
"""
import dataclasses

from oslo_policy import policy

from lbaas.policies import base

PREFIX = "os_load-balancer_api"
SCOPES = ["project"]
LBAAS = "/v2/lbaas"

READ = f"rule:{base.READ}"
READ_GLOBAL = f"rule:{base.READ_GLOBAL}"
WRITE = f"rule:{base.WRITE}"
ADMIN = f"rule:{base.ADMIN}"
READ_QUOTA = f"rule:{base.READ_QUOTA}"
READ_QUOTA_GLOBAL = f"rule:{base.READ_QUOTA_GLOBAL}"
WRITE_QUOTA = f"rule:{base.WRITE_QUOTA}"


def name(resource, action):
    """The policy name of an action on a resource."""
    return f"{PREFIX}:{resource}:{action}"


@dataclasses.dataclass(frozen=True)
class Action:
    """An action's rule: its default check, what it allows, and the operations it guards."""

    action: str
    check: str
    description: str
    operations: tuple  # (method, path) pairs


def _rules(resource, actions):
    return [policy.DocumentedRuleDefault(
        name=name(resource, a.action), check_str=a.check, description=a.description,
        operations=[{"method": m, "path": p} for m, p in a.operations], scope_types=SCOPES)
        for a in actions]


def _crud(noun, plural, collection, item, read, write, global_read=None):
    """List, show, create, update and delete; plus listing every project's when global_read."""
    actions = [Action("get_all", read, f"List {plural}", (("GET", collection),))]
    if global_read:
        actions.append(Action("get_all-global", global_read,
                              f"List {plural} of every project", (("GET", collection),)))
    actions += [
        Action("post", write, f"Create a {noun}", (("POST", collection),)),
        Action("get_one", read, f"Show a {noun}", (("GET", item),)),
        Action("put", write, f"Update a {noun}", (("PUT", item),)),
        Action("delete", write, f"Delete a {noun}", (("DELETE", item),)),
    ]
    return actions


def _loadbalancer():
    collection = f"{LBAAS}/loadbalancers"
    item = f"{collection}/{{loadbalancer_id}}"
    return _crud("load balancer", "load balancers", collection, item, READ, WRITE,
                 READ_GLOBAL) + [
        Action("post:vip_sg_ids", WRITE,
               "Create a load balancer whose VIP port gets the caller's security groups "
               "(checked when the body has vip_sg_ids)", (("POST", collection),)),
        Action("put:vip_sg_ids", WRITE,
               "Change the security groups of a load balancer's VIP port "
               "(checked when the body has vip_sg_ids)", (("PUT", item),)),
        Action("get_stats", READ, "Show a load balancer's traffic counters",
               (("GET", f"{item}/stats"),)),
        Action("get_status", READ, "Show a load balancer's status tree",
               (("GET", f"{item}/status"),)),
        Action("put_failover", ADMIN, "Fail a load balancer over (rebuild its data plane)",
               (("PUT", f"{item}/failover"),)),
    ]


def _listener():
    collection = f"{LBAAS}/listeners"
    item = f"{collection}/{{listener_id}}"
    return _crud("listener", "listeners", collection, item, READ, WRITE, READ_GLOBAL) + [
        Action("get_stats", READ, "Show a listener's traffic counters",
               (("GET", f"{item}/stats"),)),
    ]


def _member():
    collection = f"{LBAAS}/pools/{{pool_id}}/members"
    item = f"{collection}/{{member_id}}"
    batch = ("PUT", collection)
    actions = _crud("member", "members of a pool", collection, item, READ, WRITE)
    # A batch update creates, updates and (unless additive_only) deletes: all three apply.
    changed = []
    for a in actions:
        if a.action == "get_all":
            a = dataclasses.replace(a, check=f"{READ} or role:service")
        elif a.action in ("post", "put", "delete"):
            a = dataclasses.replace(a, operations=a.operations + (batch,))
        changed.append(a)
    return changed


def _quota():
    collection = f"{LBAAS}/quotas"
    item = f"{collection}/{{project_id}}"
    return [
        Action("get_all", READ_QUOTA, "List the quotas of the caller's project",
               (("GET", collection),)),
        Action("get_all-global", READ_QUOTA_GLOBAL, "List the quotas of every project",
               (("GET", collection),)),
        Action("get_one", READ_QUOTA, "Show a project's quotas", (("GET", item),)),
        Action("put", WRITE_QUOTA, "Set a project's quotas", (("PUT", item),)),
        Action("delete", WRITE_QUOTA, "Reset a project's quotas to the defaults",
               (("DELETE", item),)),
        Action("get_defaults", READ_QUOTA, "Show the default quotas",
               (("GET", f"{item}/default"), ("GET", f"{collection}/defaults"))),
    ]


def _amphora():
    collection = "/v2/octavia/amphorae"
    item = f"{collection}/{{amphora_id}}"
    return [
        Action("get_all", ADMIN, "List amphorae", (("GET", collection),)),
        Action("get_one", ADMIN, "Show an amphora", (("GET", item),)),
        Action("delete", ADMIN, "Delete an amphora in ERROR", (("DELETE", item),)),
        Action("put_failover", ADMIN, "Fail an amphora over", (("PUT", f"{item}/failover"),)),
        Action("put_config", ADMIN, "Push the current agent configuration to an amphora",
               (("PUT", f"{item}/config"),)),
        Action("get_stats", ADMIN, "Show an amphora's traffic counters",
               (("GET", f"{item}/stats"),)),
    ]


def _providers():
    collection = f"{LBAAS}/providers"
    return [
        ("provider", [Action("get_all", READ, "List the enabled provider drivers",
                             (("GET", collection),))]),
        ("provider-flavor", [Action(
            "get_all", ADMIN, "List the flavor metadata a provider accepts",
            (("GET", f"{collection}/{{provider}}/flavor_capabilities"),))]),
        ("provider-availability-zone", [Action(
            "get_all", ADMIN, "List the availability zone metadata a provider accepts",
            (("GET", f"{collection}/{{provider}}/availability_zone_capabilities"),))]),
    ]


def _catalog(collection, key, noun, plural, read):
    path = f"{LBAAS}/{collection}"
    return _crud(noun, plural, path, f"{path}/{{{key}}}", read, ADMIN)


def by_resource():
    """Every resource's actions, as (resource, [Action]) pairs."""
    return [
        ("loadbalancer", _loadbalancer()),
        ("listener", _listener()),
        ("pool", _crud("pool", "pools", f"{LBAAS}/pools", f"{LBAAS}/pools/{{pool_id}}",
                       READ, WRITE, READ_GLOBAL)),
        ("member", _member()),
        ("healthmonitor", _crud("health monitor", "health monitors", f"{LBAAS}/healthmonitors",
                                f"{LBAAS}/healthmonitors/{{healthmonitor_id}}", READ, WRITE,
                                READ_GLOBAL)),
        ("l7policy", _crud("L7 policy", "L7 policies", f"{LBAAS}/l7policies",
                           f"{LBAAS}/l7policies/{{l7policy_id}}", READ, WRITE, READ_GLOBAL)),
        ("l7rule", _crud("L7 rule", "rules of an L7 policy",
                         f"{LBAAS}/l7policies/{{l7policy_id}}/rules",
                         f"{LBAAS}/l7policies/{{l7policy_id}}/rules/{{l7rule_id}}",
                         READ, WRITE)),
        ("quota", _quota()),
        ("amphora", _amphora()),
        *_providers(),
        ("flavor", _catalog("flavors", "flavor_id", "flavor", "flavors", READ)),
        ("flavor-profile", _catalog("flavorprofiles", "flavorprofile_id", "flavor profile",
                                    "flavor profiles", ADMIN)),
        ("availability-zone", _catalog("availabilityzones", "availability_zone_name",
                                       "availability zone", "availability zones", READ)),
        ("availability-zone-profile", _catalog(
            "availabilityzoneprofiles", "availability_zone_profile_id",
            "availability zone profile", "availability zone profiles", ADMIN)),
    ]


def list_rules():
    """The rule of every action on every resource."""
    return [rule for resource, actions in by_resource() for rule in _rules(resource, actions)]
