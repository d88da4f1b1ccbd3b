"""The policy layer without a server: every rule's default, overrides, list scoping, noauth."""
import os
import subprocess
import sys

import pytest

from lbaas import conf as lbaas_conf
from lbaas import policies
from lbaas.core import errors, listing, policy
from lbaas.core.context import RequestContext

OWN, OTHER = "project-a", "project-b"

# Who each base rule lets in, as the spec's §2.10 says (written out here, not read from code).
READ, WRITE, ADMIN, MEMBER_LIST = "read", "write", "admin", "read-or-service"
ALL_ACTIONS = ("get_all", "get_one", "post", "put", "delete")
EXPECTED = {}


def _expect(resource, category, actions=ALL_ACTIONS):
    for action in actions:
        EXPECTED[f"os_load-balancer_api:{resource}:{action}"] = category


for _resource in ("loadbalancer", "listener", "pool", "healthmonitor", "l7policy"):
    _expect(_resource, READ, ("get_all", "get_one"))
    _expect(_resource, WRITE, ("post", "put", "delete"))
    _expect(_resource, ADMIN, ("get_all-global",))
_expect("loadbalancer", READ, ("get_stats", "get_status"))
_expect("loadbalancer", WRITE, ("post:vip_sg_ids", "put:vip_sg_ids"))
_expect("loadbalancer", ADMIN, ("put_failover",))
_expect("listener", READ, ("get_stats",))
_expect("member", MEMBER_LIST, ("get_all",))
_expect("member", READ, ("get_one",))
_expect("member", WRITE, ("post", "put", "delete"))
_expect("l7rule", READ, ("get_all", "get_one"))
_expect("l7rule", WRITE, ("post", "put", "delete"))
_expect("quota", READ, ("get_all", "get_one", "get_defaults"))  # read-quota: same people
_expect("quota", ADMIN, ("get_all-global", "put", "delete"))
_expect("amphora", ADMIN, ("get_all", "get_one", "delete", "put_failover", "put_config",
                           "get_stats"))
_expect("provider", READ, ("get_all",))
_expect("provider-flavor", ADMIN, ("get_all",))
_expect("provider-availability-zone", ADMIN, ("get_all",))
for _resource in ("flavor", "availability-zone"):
    _expect(_resource, READ, ("get_all", "get_one"))
    _expect(_resource, ADMIN, ("post", "put", "delete"))
for _resource in ("flavor-profile", "availability-zone-profile"):
    _expect(_resource, ADMIN)

BASE_RULES = {"context_is_admin", "load-balancer:owner", "load-balancer:read",
              "load-balancer:read-global", "load-balancer:write", "load-balancer:read-quota",
              "load-balancer:read-quota-global", "load-balancer:write-quota",
              "load-balancer:admin"}


def keystone(**fields):
    """A keystone caller (of project-a unless told)."""
    fields.setdefault("project_id", OWN)
    return RequestContext(auth_strategy="keystone", user_id="u", **fields)


# Callers: (context, the categories that let them in on a project-a target).
CALLERS = {
    "reader": (keystone(roles=("reader",)), {READ, MEMBER_LIST}),
    "member": (keystone(roles=("member",)), {READ, WRITE, MEMBER_LIST}),
    "member-and-reader": (keystone(roles=("member", "reader")), {READ, WRITE, MEMBER_LIST}),
    "admin": (keystone(roles=("admin",)), {READ, WRITE, ADMIN, MEMBER_LIST}),
    "admin-of-other-project": (keystone(roles=("admin",), project_id=OTHER),
                               {READ, WRITE, ADMIN, MEMBER_LIST}),
    "is-admin-context": (keystone(is_admin=True), {READ, WRITE, ADMIN, MEMBER_LIST}),
    "reader-of-other-project": (keystone(roles=("reader",), project_id=OTHER), set()),
    "member-of-other-project": (keystone(roles=("member",), project_id=OTHER), set()),
    "no-roles": (keystone(), set()),
    "unknown-role": (keystone(roles=("load-balancer_observer",)), set()),
    "service": (keystone(roles=("service",), project_id="services"), {MEMBER_LIST}),
    "no-project": (keystone(roles=("member", "reader"), project_id=None), set()),
    "system-admin": (keystone(roles=("admin",), system_scope="all", project_id=None), set()),
    "domain-admin": (keystone(roles=("admin",), domain_id="d", project_id=None), set()),
}


def keystone_conf(*files):
    """A keystone configuration (no database is touched)."""
    conf = lbaas_conf.make_conf(config_files=list(files))
    conf.set_override("auth_strategy", "keystone", group="api_settings")
    return conf


@pytest.fixture(scope="module")
def authorizer():
    return policy.Authorizer(keystone_conf())


def options(**filters):
    """List options holding these filters (name to list of values)."""
    return listing.ListOptions(filters=dict(filters), tags={}, sort=[], limit=None,
                               marker=None, page_reverse=False, link_params=[])


def split(rule_name):
    _, resource, action = rule_name.split(":", 2)
    return resource, action


# The rule set itself.

def test_every_resource_action_has_its_rule_and_no_other():
    names = {r.name for r in policies.list_rules()} - BASE_RULES
    assert names == set(EXPECTED)


def test_upstream_base_rule_names_are_kept():
    assert BASE_RULES <= {r.name for r in policies.list_rules()}


def test_rule_names_are_unique():
    names = [r.name for r in policies.list_rules()]
    assert len(names) == len(set(names))


def test_every_resource_rule_documents_its_operations_for_project_scope():
    for rule in policies.list_rules():
        if rule.name in BASE_RULES:
            continue
        assert rule.operations and all(o["path"].startswith("/v2/") for o in rule.operations)
        assert rule.scope_types == ["project"], rule.name
        assert rule.description


def test_rule_defaults_parse():
    from oslo_policy import _parser
    for rule in policies.list_rules():
        assert str(_parser.parse_rule(rule.check_str)) != "!", rule.name


# Every default against every kind of caller.

@pytest.mark.parametrize("caller", sorted(CALLERS))
@pytest.mark.parametrize("rule_name", sorted(EXPECTED))
def test_default_rule(authorizer, rule_name, caller):
    ctx, allowed = CALLERS[caller]
    resource, action = split(rule_name)
    assert authorizer.allows(ctx, resource, action, OWN) == (EXPECTED[rule_name] in allowed)


@pytest.mark.parametrize("caller", ["reader", "member"])
@pytest.mark.parametrize("rule_name", sorted(n for n, c in EXPECTED.items() if c in (READ,
                                                                                      WRITE)))
def test_project_rules_deny_a_foreign_target(authorizer, rule_name, caller):
    resource, action = split(rule_name)
    assert not authorizer.allows(CALLERS[caller][0], resource, action, OTHER)


@pytest.mark.parametrize("rule_name", sorted(n for n, c in EXPECTED.items() if c != ADMIN))
def test_a_missing_target_project_never_matches_a_missing_token_project(authorizer,
                                                                        rule_name):
    resource, action = split(rule_name)
    ctx = keystone(roles=("member", "reader"), project_id=None)
    assert not authorizer.allows(ctx, resource, action, None)


def test_roles_are_matched_whatever_their_case(authorizer):
    assert authorizer.allows(keystone(roles=("Member",)), "pool", "put", OWN)


def test_unknown_rule_is_an_error_not_a_silent_deny(authorizer):
    from oslo_policy import policy as oslo_policy
    with pytest.raises(oslo_policy.PolicyNotRegistered):
        authorizer.allows(keystone(roles=("admin",)), "loadbalancer", "no_such_action", OWN)


def test_authorize_raises_policy_forbidden_with_the_spec_message(authorizer):
    with pytest.raises(errors.PolicyForbidden) as caught:
        authorizer.authorize(keystone(roles=("reader",)), "loadbalancer", "delete", OWN)
    assert (caught.value.code, caught.value.message) == (
        403, "Policy does not allow this request to be performed.")
    assert "os_load-balancer_api:loadbalancer:delete" in caught.value.operator_message


def test_authorize_own_targets_the_token_project(authorizer):
    authorizer.authorize_own(keystone(roles=("reader",)), "flavor", "get_all")
    with pytest.raises(errors.PolicyForbidden):
        authorizer.authorize_own(keystone(roles=("reader",)), "flavor", "post")


# is_admin: the context_is_admin rule.

@pytest.mark.parametrize("roles, admin", [(("admin",), True), (("member", "admin"), True),
                                          (("member",), False), ((), False)])
def test_is_admin_is_the_context_is_admin_rule(authorizer, roles, admin):
    assert authorizer.is_admin(keystone(roles=roles)) is admin


# List scoping.

def test_a_global_reader_lists_everything_untouched(authorizer):
    asked = options(name=["x"])
    assert authorizer.scope_list(keystone(roles=("admin",)), "loadbalancer", asked) is asked


def test_a_global_reader_may_narrow_to_any_project(authorizer):
    asked = options(project_id=[OTHER])
    scoped = authorizer.scope_list(keystone(roles=("admin",)), "pool", asked)
    assert scoped.filters == {"project_id": [OTHER]}


def test_others_are_narrowed_to_their_token_project(authorizer):
    asked = options(name=["x"])
    scoped = authorizer.scope_list(keystone(roles=("reader",)), "listener", asked)
    assert scoped.filters == {"name": ["x"], "project_id": [OWN]}
    assert asked.filters == {"name": ["x"]}  # the caller's options are not changed


def test_asking_for_the_own_project_is_allowed(authorizer):
    scoped = authorizer.scope_list(keystone(roles=("reader",)), "healthmonitor",
                                   options(project_id=[OWN]))
    assert scoped.filters == {"project_id": [OWN]}


@pytest.mark.parametrize("asked", [[OTHER], [OWN, OTHER]])
def test_asking_for_another_project_is_forbidden(authorizer, asked):
    with pytest.raises(errors.PolicyForbidden):
        authorizer.scope_list(keystone(roles=("member",)), "l7policy",
                              options(project_id=asked))


def test_a_caller_without_read_in_their_project_cannot_list(authorizer):
    with pytest.raises(errors.PolicyForbidden):
        authorizer.scope_list(keystone(roles=("service",)), "loadbalancer", options())


def test_a_token_without_project_cannot_list(authorizer):
    with pytest.raises(errors.PolicyForbidden):
        authorizer.scope_list(keystone(roles=("reader",), project_id=None), "pool", options())


def test_quota_lists_use_the_quota_rules(authorizer):
    scoped = authorizer.scope_list(keystone(roles=("reader",)), "quota", options())
    assert scoped.filters == {"project_id": [OWN]}
    asked = options()
    assert authorizer.scope_list(keystone(roles=("admin",)), "quota", asked) is asked


# noauth: no policy work at all.

def test_noauth_does_no_policy_work():
    authorizer = policy.Authorizer(lbaas_conf.make_conf())
    anyone = RequestContext(project_id=None, roles=(), is_admin=True)
    asked = options(project_id=[OTHER])
    authorizer.authorize(anyone, "amphora", "delete", OTHER)
    authorizer.authorize_own(anyone, "flavor-profile", "post")
    assert authorizer.allows(anyone, "quota", "put", OTHER)
    assert authorizer.scope_list(anyone, "loadbalancer", asked) is asked
    assert authorizer._enforcer is None  # no Enforcer was ever built
    assert not authorizer.enforcing(anyone)


# The operator's policy file.

def write_policy(tmp_path, text):
    path = tmp_path / "policy.yaml"
    path.write_text(text)
    conf_file = tmp_path / "lbaas.conf"
    conf_file.write_text(f"[oslo_policy]\npolicy_file = {path}\n")
    return str(conf_file)


def test_policy_file_overrides_a_resource_rule(tmp_path):
    conf_file = write_policy(tmp_path, '"os_load-balancer_api:flavor:post": '
                                       '"rule:load-balancer:write"\n')
    authorizer = policy.Authorizer(keystone_conf(conf_file))
    member = keystone(roles=("member",))
    assert authorizer.allows(member, "flavor", "post", OWN)
    assert not authorizer.allows(member, "flavor", "delete", OWN)  # the others keep defaults


def test_policy_file_overrides_a_base_rule_everywhere(tmp_path):
    conf_file = write_policy(tmp_path, '"load-balancer:read-global": "role:auditor"\n')
    authorizer = policy.Authorizer(keystone_conf(conf_file))
    auditor = keystone(roles=("auditor",))
    for resource in ("loadbalancer", "listener", "pool", "healthmonitor", "l7policy"):
        assert authorizer.allows(auditor, resource, "get_all-global", OTHER)
    assert not authorizer.allows(keystone(roles=("admin",)), "pool", "get_all-global", OWN)


def test_policy_file_overrides_context_is_admin(tmp_path):
    conf_file = write_policy(tmp_path, '"context_is_admin": "role:superuser"\n')
    authorizer = policy.Authorizer(keystone_conf(conf_file))
    assert authorizer.is_admin(keystone(roles=("superuser",)))
    assert not authorizer.is_admin(keystone(roles=("admin",)))


def test_policy_file_can_shut_an_action(tmp_path):
    conf_file = write_policy(tmp_path, '"os_load-balancer_api:loadbalancer:post:vip_sg_ids": '
                                       '"!"\n')
    authorizer = policy.Authorizer(keystone_conf(conf_file))
    admin = keystone(roles=("admin",))
    assert not authorizer.allows(admin, "loadbalancer", "post:vip_sg_ids", OWN)
    assert authorizer.allows(admin, "loadbalancer", "post", OWN)


def test_a_malformed_policy_file_fails_at_start_up(tmp_path):
    conf_file = write_policy(tmp_path, '"os_load-balancer_api:flavor:post": [unclosed\n')
    with pytest.raises(Exception):
        policy.Authorizer(keystone_conf(conf_file))


def test_noauth_never_reads_the_policy_file(tmp_path):
    conf_file = write_policy(tmp_path, "{not yaml at all\n")
    conf = lbaas_conf.make_conf(config_files=[conf_file])
    policy.Authorizer(conf)  # no error: noauth builds no Enforcer


# The oslopolicy command-line tools.

def _tool(name, *args, env=None):
    bin_dir = os.path.dirname(sys.executable)
    return subprocess.run([os.path.join(bin_dir, name), *args], capture_output=True,
                          text=True, timeout=120, env={**os.environ, **(env or {})})


def test_policy_generator_merges_the_operators_file(tmp_path):
    conf_file = write_policy(tmp_path, '"load-balancer:read-global": "role:auditor"\n')
    proc = _tool("oslopolicy-policy-generator", "--namespace", "lbaas",
                 env={"LBAAS_CONFIG_FILE": conf_file})
    assert proc.returncode == 0, proc.stderr
    assert '"load-balancer:read-global": "role:auditor"' in proc.stdout
    assert '"os_load-balancer_api:loadbalancer:get_all": "rule:load-balancer:read"' \
        in proc.stdout


def test_policy_generator_reads_the_config_file_option(tmp_path):
    conf_file = write_policy(tmp_path, '"load-balancer:write": "role:operator"\n')
    proc = _tool("oslopolicy-policy-generator", "--namespace", "lbaas", "--config-file",
                 conf_file, env={"LBAAS_CONFIG_FILE": ""})
    assert proc.returncode == 0, proc.stderr
    assert '"load-balancer:write": "role:operator"' in proc.stdout


def test_config_files_in_a_command_line():
    argv = ["--namespace", "lbaas", "--config-file", "a.conf", "--config-file=b.conf"]
    assert policies.config_files_in(argv) == ["a.conf", "b.conf"]


def test_sample_generator_prints_every_rule():
    proc = _tool("oslopolicy-sample-generator", "--namespace", "lbaas")
    assert proc.returncode == 0, proc.stderr
    for name in list(EXPECTED)[:5] + ["load-balancer:write-quota"]:
        assert f'#"{name}":' in proc.stdout



# Decisions are reused for a moment: oslo.policy is slow per check.

def test_a_decision_is_reused_within_its_lifetime(monkeypatch):
    authorizer = policy.Authorizer(keystone_conf())
    calls = []
    real = authorizer.enforcer.authorize
    monkeypatch.setattr(authorizer.enforcer, "authorize",
                        lambda *a, **kw: calls.append(a[0]) or real(*a, **kw))
    member = keystone(roles=("member",))
    for _ in range(3):
        assert authorizer.allows(member, "pool", "put", OWN)
        assert not authorizer.allows(member, "pool", "put", OTHER)
    assert len(calls) == 2  # one per distinct (rule, project, caller)
    assert not authorizer.allows(keystone(roles=("reader",)), "pool", "put", OWN)
    assert len(calls) == 3  # another caller is decided afresh


def test_a_changed_policy_file_takes_effect_once_decisions_expire(tmp_path):
    conf_file = write_policy(tmp_path, '"os_load-balancer_api:flavor:post": '
                                       '"rule:load-balancer:admin"\n')
    authorizer = policy.Authorizer(keystone_conf(conf_file), decision_ttl=0)
    member = keystone(roles=("member",))
    assert not authorizer.allows(member, "flavor", "post", OWN)
    policy_path = tmp_path / "policy.yaml"
    policy_path.write_text('"os_load-balancer_api:flavor:post": "rule:load-balancer:write"\n')
    stat = policy_path.stat()  # a new mtime, even on a coarse clock
    os.utime(policy_path, (stat.st_atime + 5, stat.st_mtime + 5))
    assert authorizer.allows(member, "flavor", "post", OWN)
