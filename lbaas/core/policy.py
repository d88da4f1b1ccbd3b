"""Who may do what: oslo.policy rules checked against the caller, and project-scoped lists.

Under auth_strategy=noauth every caller is an administrator and nothing here does any
work: each check returns at once and lists are left as the caller asked. Under keystone
each check evaluates `os_load-balancer_api:<resource>:<action>` with the target project
(the object's, for an existing object); the operator's policy file
(`[oslo_policy] policy_file`) overrides any default (lbaas.policies).

The services call these after their existence check, so a foreign object answers 404
when it does not exist and 403 when it does, as Octavia orders them.
"""
import dataclasses
import logging
import threading
import time

from oslo_policy import policy as oslo_policy

from lbaas import policies
from lbaas.core import errors
from lbaas.policies import base, resources

LOG = logging.getLogger(__name__)
NOAUTH = "noauth"
PROJECT = "project_id"
# How long a policy decision is reused, in seconds: a changed policy file takes effect
# within this time. oslo.policy costs about 0.2 ms per check (it inspects each check
# function's signature on every call); a reused decision costs a dict lookup.
DECISION_TTL = 1.0
MAX_DECISIONS = 10000


def get_enforcer():
    """An Enforcer on lbaas's configuration: the tool's --config-file, else $LBAAS_CONFIG_FILE
    (the `oslo.policy.enforcer` entry point of oslopolicy-policy-generator)."""
    import sys

    from lbaas import conf
    return make_enforcer(conf.load_conf(policies.config_files_in(sys.argv[1:]) or None))


def make_enforcer(conf):
    """An oslo.policy Enforcer on a configuration, with every lbaas rule registered."""
    enforcer = oslo_policy.Enforcer(conf)
    enforcer.register_defaults(policies.list_rules())
    return enforcer


def _target(project_id):
    # A missing project must never equal a caller's missing project ("None" == "None").
    return {PROJECT: project_id if project_id else ""}


def _frozen(values):
    """A dict of credentials as a hashable key (lists become tuples)."""
    return tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in values.items()))


class Authorizer:
    """The policy checks of one core (one configuration)."""

    def __init__(self, conf, decision_ttl=DECISION_TTL):
        self.conf = conf
        self._enforcer = None
        self._lock = threading.Lock()
        self._ttl = decision_ttl
        self._decisions = {}
        self._expires = 0.0
        if conf.api_settings.auth_strategy != NOAUTH:
            self.enforcer.load_rules()  # a broken policy file stops the start-up, not a request

    @property
    def enforcer(self):
        """The Enforcer, built on first use (a noauth process never builds one)."""
        if self._enforcer is None:
            with self._lock:
                if self._enforcer is None:
                    self._enforcer = make_enforcer(self.conf)
        return self._enforcer

    @staticmethod
    def enforcing(ctx):
        """Whether the caller's requests are checked at all (not under noauth)."""
        return ctx.auth_strategy != NOAUTH

    def is_admin(self, ctx):
        """Whether the caller passes `context_is_admin` (the context's is_admin)."""
        return bool(self.enforcer.enforce(base.CONTEXT_IS_ADMIN, {}, ctx.policy_values()))

    def allows(self, ctx, resource, action, project_id=None):
        """Whether the caller may do `action` on a `resource` of the project."""
        if ctx.auth_strategy == NOAUTH:
            return True
        rule, creds = resources.name(resource, action), ctx.policy_values()
        key = (rule, project_id or "", _frozen(creds))
        decisions = self._current_decisions()
        allowed = decisions.get(key)
        if allowed is None:
            allowed = bool(self.enforcer.authorize(rule, _target(project_id), creds))
            if len(decisions) < MAX_DECISIONS:
                decisions[key] = allowed
        return allowed

    def _current_decisions(self):
        """The decisions still valid (all are dropped every DECISION_TTL seconds)."""
        now = time.monotonic()
        if now >= self._expires:
            self._decisions = {}
            self._expires = now + self._ttl
        return self._decisions

    def authorize(self, ctx, resource, action, project_id=None):
        """Raise PolicyForbidden (403) unless the caller may do `action` in the project."""
        if ctx.auth_strategy == NOAUTH:
            return
        if not self.allows(ctx, resource, action, project_id):
            detail = (f"{resources.name(resource, action)} denied to user {ctx.user_id} of "
                      f"project {ctx.project_id} (roles {','.join(ctx.roles) or '-'}) on "
                      f"project {project_id}")
            LOG.debug("%s", detail)
            raise errors.PolicyForbidden(detail)

    def authorize_own(self, ctx, resource, action):
        """authorize() with the caller's own project as the target (objects of no project)."""
        if ctx.auth_strategy != NOAUTH:
            self.authorize(ctx, resource, action, ctx.project_id)

    def scope_list(self, ctx, resource, options):
        """The list options a caller may use: narrowed to their project unless global.

        A caller allowed `get_all-global` lists every project (or those of ?project_id=).
        Anyone else lists their token's project, and must pass `get_all` there; asking for
        another project with ?project_id= is a 403 (`get_all` is checked against it).
        """
        if ctx.auth_strategy == NOAUTH:
            return options
        asked = options.filters.get(PROJECT)
        if self.allows(ctx, resource, "get_all-global", asked[0] if asked else None):
            return options
        projects = asked or [ctx.project_id]
        if not all(projects):
            raise errors.PolicyForbidden(f"{resource} list without a project scope")
        for project in dict.fromkeys(projects):
            self.authorize(ctx, resource, "get_all", project)
        if asked:
            return options
        return dataclasses.replace(options, filters={**options.filters, PROJECT: projects})
