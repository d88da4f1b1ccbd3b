"""The request context under keystone, built from the headers auth_token sets."""
import pytest

from lbaas import conf as lbaas_conf
from lbaas.api.context import from_identity
from lbaas.core import policy


@pytest.fixture(scope="module")
def authorizer():
    conf = lbaas_conf.make_conf()
    conf.set_override("auth_strategy", "keystone", group="api_settings")
    return policy.Authorizer(conf)


def environ(**headers):
    """A WSGI environ holding these headers (X_ROLES=... for X-Roles), confirmed unless told."""
    env = {"HTTP_X_IDENTITY_STATUS": "Confirmed"}
    env.update({f"HTTP_{k}": v for k, v in headers.items()})
    return env


def test_identity_fields_come_from_the_headers(authorizer):
    ctx = from_identity(environ(X_USER_ID="u1", X_PROJECT_ID="p1", X_ROLES="member,reader",
                                X_USER_DOMAIN_ID="default", X_PROJECT_DOMAIN_ID="default"),
                        authorizer)
    assert (ctx.user_id, ctx.project_id, ctx.roles) == ("u1", "p1", ("member", "reader"))
    assert (ctx.user_domain_id, ctx.project_domain_id) == ("default", "default")
    assert ctx.auth_strategy == "keystone"
    assert ctx.is_admin is False


def test_roles_are_lowercased_and_trimmed(authorizer):
    ctx = from_identity(environ(X_PROJECT_ID="p1", X_ROLES=" Member , READER,"), authorizer)
    assert ctx.roles == ("member", "reader")


def test_admin_role_makes_an_admin_context(authorizer):
    ctx = from_identity(environ(X_PROJECT_ID="p1", X_ROLES="Admin"), authorizer)
    assert ctx.is_admin is True


def test_system_scope_and_domain_are_read(authorizer):
    ctx = from_identity(environ(OPENSTACK_SYSTEM_SCOPE="all", X_ROLES="reader"), authorizer)
    assert (ctx.system_scope, ctx.project_id) == ("all", None)
    ctx = from_identity(environ(X_DOMAIN_ID="d1", X_ROLES="admin"), authorizer)
    assert ctx.domain_id == "d1"


def test_legacy_tenant_header_names_the_project(authorizer):
    assert from_identity(environ(X_TENANT_ID="t1"), authorizer).project_id == "t1"


def test_empty_headers_are_absent(authorizer):
    ctx = from_identity(environ(X_PROJECT_ID="", X_USER_ID="", X_ROLES=""), authorizer)
    assert (ctx.project_id, ctx.user_id, ctx.roles) == (None, None, ())


@pytest.mark.parametrize("status", [None, "Invalid", "confirmed "])
def test_an_unconfirmed_identity_is_anonymous(authorizer, status):
    env = environ(X_PROJECT_ID="p1", X_USER_ID="u1", X_ROLES="admin")
    if status is None:
        del env["HTTP_X_IDENTITY_STATUS"]
    else:
        env["HTTP_X_IDENTITY_STATUS"] = status
    ctx = from_identity(env, authorizer)
    assert (ctx.project_id, ctx.user_id, ctx.roles, ctx.is_admin) == (None, None, (), False)
    assert not authorizer.allows(ctx, "flavor", "get_all", None)


def test_policy_values_carry_what_rules_check(authorizer):
    ctx = from_identity(environ(X_PROJECT_ID="p1", X_USER_ID="u1", X_ROLES="member"),
                        authorizer)
    values = ctx.policy_values()
    assert values["project_id"] == "p1" and values["roles"] == ["member"]
    assert values["is_admin"] is False and values["user_id"] == "u1"


def test_the_callers_token_is_kept_for_certificate_managers_but_never_shown(authorizer):
    ctx = from_identity(environ(X_PROJECT_ID="p1", X_AUTH_TOKEN="gAAAAtoken"), authorizer)
    assert ctx.auth_token == "gAAAAtoken"
    assert "gAAAAtoken" not in repr(ctx)
    unconfirmed = from_identity(environ(X_AUTH_TOKEN="t", X_IDENTITY_STATUS="Invalid"),
                                authorizer)
    assert unconfirmed.auth_token is None
