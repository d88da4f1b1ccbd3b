"""Keystone-style project lookups under noauth: what the CLI's quota commands resolve first."""
import pytest


@pytest.mark.parametrize("prefix", ["", "/v3"])
def test_a_project_id_names_itself(client, prefix):
    resp = client.get(f"{prefix}/projects/tenant-a")
    assert resp.status_code == 200
    assert resp.get_json() == {"project": {"id": "tenant-a", "name": "tenant-a",
                                           "domain_id": "default", "enabled": True}}


@pytest.mark.parametrize("query, found", [("name=tenant-b", ["tenant-b"]),
                                          ("id=tenant-c", ["tenant-c"]), ("", [])])
def test_project_search(client, query, found):
    resp = client.get(f"/v3/projects?{query}")
    assert resp.status_code == 200
    assert [p["id"] for p in resp.get_json()["projects"]] == found


def test_not_served_under_keystone(tmp_path):
    from lbaas.api import create_app
    from lbaas.db import migrate
    from tests.conftest import make_conf
    url = f"sqlite:///{tmp_path}/lbaas.sqlite"
    migrate.upgrade(url)
    conf = make_conf(url)
    conf.set_override("auth_strategy", "keystone", group="api_settings")
    app = create_app(conf, authenticate=False)  # no [keystone_authtoken]: no token check
    try:
        assert app.test_client().get("/v3/projects/tenant-a").status_code == 404
    finally:
        app.extensions["lbaas_core"].close()
