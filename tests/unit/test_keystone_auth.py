"""keystonemiddleware's auth_token in front of the API under auth_strategy = keystone."""
import pytest

from lbaas.api import create_app
from lbaas.conf import register_keystone_opts
from lbaas.db import migrate
from tests.conftest import make_conf

IDENTITY = "http://127.0.0.1:1/v3"  # never contacted: no request below carries a valid token


@pytest.fixture
def keystone_conf(tmp_path):
    url = f"sqlite:///{tmp_path}/lbaas.sqlite"
    migrate.upgrade(url)
    return make_conf(url, **{"api_settings.auth_strategy": "keystone"})


@pytest.fixture
def protected(keystone_conf):
    register_keystone_opts(keystone_conf)
    keystone_conf.set_override("www_authenticate_uri", IDENTITY, group="keystone_authtoken")
    app = create_app(keystone_conf)
    yield app.test_client()
    app.extensions["lbaas_core"].close()


def test_a_request_without_token_is_401_naming_keystone(protected):
    resp = protected.get("/v2.0/lbaas/loadbalancers")
    assert resp.status_code == 401
    assert resp.headers["WWW-Authenticate"] == f'Keystone uri="{IDENTITY}"'
    assert resp.get_json()["error"]["code"] == 401


def test_forged_identity_headers_do_not_authenticate(protected):
    resp = protected.get("/v2/lbaas/loadbalancers", headers={
        "X-Identity-Status": "Confirmed", "X-Roles": "admin", "X-Project-Id": "p"})
    assert resp.status_code == 401


def test_version_discovery_needs_no_token(protected):
    resp = protected.get("/")
    assert resp.status_code == 200
    assert "versions" in resp.get_json()


def test_keystone_without_identity_settings_fails_at_start_up(keystone_conf):
    with pytest.raises(ValueError, match="keystone_authtoken"):
        create_app(keystone_conf)
