"""The base rules: who counts as an administrator, an owner, a reader and a writer.

Every per-resource rule (lbaas.policies.resources) refers to one of these by name, so an
operator changes who may read or write everywhere by overriding a single base rule. The
names are Octavia's, because operators' policy files refer to them. The defaults use
Keystone's default roles: `admin` anywhere, `member` and `reader` in the project that owns
the target.
"""
from oslo_policy import policy

CONTEXT_IS_ADMIN = "context_is_admin"
OWNER = "load-balancer:owner"
ADMIN = "load-balancer:admin"
READ = "load-balancer:read"
READ_GLOBAL = "load-balancer:read-global"
WRITE = "load-balancer:write"
READ_QUOTA = "load-balancer:read-quota"
READ_QUOTA_GLOBAL = "load-balancer:read-quota-global"
WRITE_QUOTA = "load-balancer:write-quota"

_IN_PROJECT = f"rule:{OWNER}"
_READER_OR_MEMBER = f"(role:reader or role:member) and {_IN_PROJECT}"

rules = [
    policy.RuleDefault(
        CONTEXT_IS_ADMIN, "role:admin",
        description="Callers whose request context is marked as administrator (is_admin)."),
    policy.RuleDefault(
        OWNER, "project_id:%(project_id)s",
        description="The caller's token is scoped to the project that owns the target."),
    policy.RuleDefault(
        ADMIN, "is_admin:True or role:admin",
        description="Administrators: every operation on every project's objects."),
    policy.RuleDefault(
        READ, f"rule:{ADMIN} or ({_READER_OR_MEMBER})",
        description="Read a project's objects: its readers and members, and administrators."),
    policy.RuleDefault(
        READ_GLOBAL, f"rule:{ADMIN}",
        description="Read the objects of every project at once (unfiltered lists)."),
    policy.RuleDefault(
        WRITE, f"rule:{ADMIN} or (role:member and {_IN_PROJECT})",
        description="Create, change and delete a project's objects: its members, and "
                    "administrators."),
    policy.RuleDefault(
        READ_QUOTA, f"rule:{ADMIN} or ({_READER_OR_MEMBER})",
        description="Read a project's quotas: its readers and members, and administrators."),
    policy.RuleDefault(
        READ_QUOTA_GLOBAL, f"rule:{ADMIN}",
        description="Read the quotas of every project (the unfiltered quota list)."),
    policy.RuleDefault(
        WRITE_QUOTA, f"rule:{ADMIN}",
        description="Set and reset the quotas of a project."),
]


def list_rules():
    """The base rules."""
    return rules
