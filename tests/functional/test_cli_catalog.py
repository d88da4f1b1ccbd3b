"""The rest of the `openstack loadbalancer` CLI against `lbaas serve`: flavors, availability
zones, L7 policies and rules, quotas and amphorae.

Same conventions as test_cli.py: one module-scoped story, each test several CLI steps,
JSON output asserted, waits on the load balancer over HTTP rather than the CLI's 3 s poll.
"""
import json
import os

import pytest
import sqlalchemy
from sqlalchemy.orm import Session

from lbaas.core import models
from tests.functional.test_cli import Cli, ids

pytestmark = pytest.mark.functional

LB = "catalog"


@pytest.fixture(scope="module")
def cli(lbaas_server):
    return Cli(lbaas_server.url)


@pytest.fixture(scope="module")
def made():
    """Ids of the objects the tests below create, in order."""
    return {}


def test_flavorprofile_and_flavor(cli, made):
    profile = cli.json("loadbalancer", "flavorprofile", "create", "--name", "fp-single",
                       "--provider", "noop", "--flavor-data",
                       json.dumps({"loadbalancer_topology": "SINGLE"}))
    assert (profile["name"], profile["provider_name"]) == ("fp-single", "noop")
    assert json.loads(profile["flavor_data"]) == {"loadbalancer_topology": "SINGLE"}
    made["flavorprofile"] = profile["id"]

    err = cli.fails("loadbalancer", "flavorprofile", "create", "--name", "bad",
                    "--provider", "noop", "--flavor-data", "{not json")
    assert "flavor_data" in err

    flavor = cli.json("loadbalancer", "flavor", "create", "--name", "small",
                      "--flavorprofile", "fp-single", "--description", "one amphora")
    assert (flavor["name"], flavor["flavor_profile_id"], flavor["enabled"]) == \
        ("small", made["flavorprofile"], True)
    made["flavor"] = flavor["id"]
    assert "409" in cli.fails("loadbalancer", "flavor", "create", "--name", "small",
                              "--flavorprofile", "fp-single")

    cli("loadbalancer", "flavor", "set", "--description", "single", "--disable", "small")
    flavor = cli.json("loadbalancer", "flavor", "show", "small")
    assert (flavor["description"], flavor["enabled"]) == ("single", False)
    cli("loadbalancer", "flavor", "unset", "--description", "small")
    cli("loadbalancer", "flavor", "set", "--enable", "small")
    listed = cli.json("loadbalancer", "flavor", "list")
    assert [(f["name"], f["enabled"]) for f in listed] == [("small", True)]
    cli("loadbalancer", "flavorprofile", "set", "--name", "fp-one", "fp-single")
    assert [p["name"] for p in cli.json("loadbalancer", "flavorprofile", "list")] == ["fp-one"]


def test_availabilityzoneprofile_and_availabilityzone(cli, made):
    profile = cli.json("loadbalancer", "availabilityzoneprofile", "create", "--name", "azp",
                       "--provider", "noop", "--availability-zone-data",
                       json.dumps({"compute_zone": "rack-1"}))
    assert json.loads(profile["availability_zone_data"]) == {"compute_zone": "rack-1"}
    made["azprofile"] = profile["id"]

    az = cli.json("loadbalancer", "availabilityzone", "create", "--name", "rack-1",
                  "--availabilityzoneprofile", "azp", "--description", "first rack")
    assert (az["name"], az["availability_zone_profile_id"], az["enabled"]) == \
        ("rack-1", made["azprofile"], True)
    cli("loadbalancer", "availabilityzone", "set", "--description", "rack one", "rack-1")
    az = cli.json("loadbalancer", "availabilityzone", "show", "rack-1")
    assert az["description"] == "rack one"
    assert [a["name"] for a in cli.json("loadbalancer", "availabilityzone", "list")] == \
        ["rack-1"]


def test_loadbalancer_with_flavor_and_zone(cli, made):
    lb = cli.json("loadbalancer", "create", "--name", LB, "--vip-subnet-id", "public-subnet",
                  "--flavor", "small", "--availability-zone", "rack-1")
    assert (lb["flavor_id"], lb["availability_zone"]) == (made["flavor"], "rack-1")
    made["lb"] = lb["id"]
    cli.settle(lb["id"])

    # In use: neither the flavor, its profile nor the zone may go.
    assert "409" in cli.fails("loadbalancer", "flavor", "delete", "small")
    assert "409" in cli.fails("loadbalancer", "flavorprofile", "delete", "fp-one")
    assert "409" in cli.fails("loadbalancer", "availabilityzone", "delete", "rack-1")

    cli("loadbalancer", "flavor", "set", "--disable", "small")
    err = cli.fails("loadbalancer", "create", "--name", "refused", "--vip-subnet-id",
                    "public-subnet", "--flavor", "small")
    assert "400" in err


def test_l7policies_and_rules(cli, made):
    cli.json("loadbalancer", "listener", "create", "--name", "front", "--protocol", "HTTP",
             "--protocol-port", "80", LB)
    cli.settle(made["lb"])
    pool = cli.json("loadbalancer", "pool", "create", "--name", "api", "--protocol", "HTTP",
                    "--lb-algorithm", "ROUND_ROBIN", "--loadbalancer", LB)
    cli.settle(made["lb"])

    to_pool = cli.json("loadbalancer", "l7policy", "create", "--name", "to-api",
                       "--action", "REDIRECT_TO_POOL", "--redirect-pool", "api", "front")
    assert (to_pool["action"], to_pool["redirect_pool_id"], to_pool["position"]) == \
        ("REDIRECT_TO_POOL", pool["id"], 1)
    cli.settle(made["lb"])
    first = cli.json("loadbalancer", "l7policy", "create", "--name", "block",
                     "--action", "REJECT", "--position", "1", "front")
    cli.settle(made["lb"])
    listed = cli.json("loadbalancer", "l7policy", "list")
    assert sorted((p["name"], p["position"]) for p in listed) == [("block", 1), ("to-api", 2)]
    assert ids(cli.json("loadbalancer", "listener", "show", "front")["l7policies"]) == \
        [first["id"], to_pool["id"]]

    # Setting a URL switches the action, as upstream does.
    cli("loadbalancer", "l7policy", "set", "--redirect-url", "https://example.com/", "block")
    cli.settle(made["lb"])
    block = cli.json("loadbalancer", "l7policy", "show", "block")
    assert (block["action"], block["redirect_url"], block["redirect_http_code"]) == \
        ("REDIRECT_TO_URL", "https://example.com/", 302)

    rule = cli.json("loadbalancer", "l7rule", "create", "--type", "PATH", "--compare-type",
                    "STARTS_WITH", "--value", "/api", "to-api")
    assert (rule["type"], rule["compare_type"], rule["value"], rule["invert"]) == \
        ("PATH", "STARTS_WITH", "/api", False)
    cli.settle(made["lb"])
    err = cli.fails("loadbalancer", "l7rule", "create", "--type", "FILE_TYPE", "--compare-type",
                    "STARTS_WITH", "--value", "jpg", "to-api")
    assert "400" in err  # FILE_TYPE compares with EQUAL_TO or REGEX only
    cli("loadbalancer", "l7rule", "set", "--invert", "to-api", rule["id"])
    cli.settle(made["lb"])
    rule = cli.json("loadbalancer", "l7rule", "show", "to-api", rule["id"])
    assert (rule["invert"], rule["provisioning_status"]) == (True, "ACTIVE")
    assert [r["id"] for r in cli.json("loadbalancer", "l7rule", "list", "to-api")] == \
        [rule["id"]]

    assert "409" in cli.fails("loadbalancer", "pool", "delete", "api")  # the policy uses it
    tree = cli("loadbalancer", "status", "show", LB)["loadbalancer"]
    assert [p["id"] for p in tree["listeners"][0]["pools"]] == [pool["id"]]

    cli("loadbalancer", "l7rule", "delete", "to-api", rule["id"])
    cli.settle(made["lb"])
    cli("loadbalancer", "l7policy", "delete", "block")
    cli.settle(made["lb"])
    listed = cli.json("loadbalancer", "l7policy", "list")
    assert [(p["name"], p["position"]) for p in listed] == [("to-api", 1)]


def test_quotas(cli):
    project = "5d2c3b1e8a7f4f0c9b6e2a1d3c4b5a69"
    defaults = cli.json("loadbalancer", "quota", "defaults", "show")
    assert defaults["load_balancer"] == -1
    quota = cli.json("loadbalancer", "quota", "show", project)
    assert (quota["load_balancer"], quota["member"]) == (-1, -1)

    # set/unset/reset resolve the project through Keystone first: lbaas answers that
    # lookup itself under noauth.
    quota = cli.json("loadbalancer", "quota", "set", "--loadbalancer", "5", "--member", "50",
                     project)
    assert (quota["load_balancer"], quota["member"], quota["pool"]) == (5, 50, -1)
    listed = cli.json("loadbalancer", "quota", "list", "--project", project)
    assert [(q["project_id"], q["load_balancer"]) for q in listed] == [(project, 5)]
    cli("loadbalancer", "quota", "unset", "--member", project)
    assert cli.json("loadbalancer", "quota", "show", project)["member"] == -1
    cli("loadbalancer", "quota", "reset", project)
    assert cli.json("loadbalancer", "quota", "show", project)["load_balancer"] == -1


def test_amphorae(cli, lbaas_server, made):
    assert cli.json("loadbalancer", "amphora", "list") == []

    # What the amphora driver records for a load balancer it serves, written as it would.
    state = os.path.dirname(lbaas_server.log_path)
    engine = sqlalchemy.create_engine(f"sqlite:///{state}/lbaas.sqlite")
    amphora = models.Amphora(id=models.new_id(), loadbalancer_id=made["lb"], compute_id="vm-1", status="ALLOCATED",
                             role="STANDALONE", lb_network_ip="10.9.0.5", vrrp_ip="172.24.0.9")
    amphora_id = amphora.id
    with Session(engine) as session, session.begin():
        session.add(amphora)
    engine.dispose()

    [listed] = cli.json("loadbalancer", "amphora", "list", "--loadbalancer", LB)
    assert (listed["id"], listed["role"], listed["status"]) == \
        (amphora_id, "STANDALONE", "ALLOCATED")
    shown = cli.json("loadbalancer", "amphora", "show", amphora_id)
    assert (shown["compute_id"], shown["lb_network_ip"], shown["loadbalancer_id"]) == \
        ("vm-1", "10.9.0.5", made["lb"])
    assert "409" in cli.fails("loadbalancer", "amphora", "delete", amphora_id)  # not ERROR
    cli("loadbalancer", "amphora", "configure", amphora_id)
    cli("loadbalancer", "amphora", "failover", amphora_id)
    cli.settle(made["lb"])


def test_cascade_delete_frees_the_flavor(cli, made):
    cli("loadbalancer", "delete", "--cascade", "--wait", LB)
    cli("loadbalancer", "flavor", "delete", "small")
    cli("loadbalancer", "flavorprofile", "delete", "fp-one")
    cli("loadbalancer", "availabilityzone", "delete", "rack-1")
    cli("loadbalancer", "availabilityzoneprofile", "delete", "azp")
    assert cli.json("loadbalancer", "flavor", "list") == []
    assert cli.json("loadbalancer", "availabilityzoneprofile", "list") == []
