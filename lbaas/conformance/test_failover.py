"""Contract: load-balancer failover, with and without amphorae."""
import pytest

from lbaas.conformance.api import NOT_IMPLEMENTED

pytestmark = pytest.mark.contract


def _amphorae(bench, lb_id):
    resp = bench.api.call("GET", f"/v2/octavia/amphorae?loadbalancer_id={lb_id}")
    return [a for a in resp.json.get("amphorae", []) if a.get("status") != "DELETED"] \
        if resp.status == 200 else []


def test_loadbalancer_failover(conformance_bench):
    """failover: 202 then ACTIVE again (amphora-less providers too), or a clean 501"""
    bench = conformance_bench
    lb_id = bench.lb_id
    bench.api.wait_status("loadbalancers", lb_id)
    before = _amphorae(bench, lb_id)
    resp = bench.api.call("PUT", f"/v2/lbaas/loadbalancers/{lb_id}/failover")
    if resp.status == 501:
        assert NOT_IMPLEMENTED in resp.fault, resp.describe()
        lb = bench.api.show("loadbalancers", lb_id)
        assert lb["provisioning_status"] == "ACTIVE", \
            f"failover refused (501) but the load balancer is {lb['provisioning_status']}"
        pytest.skip(f"the provider does not implement failover: {resp.fault}")
    assert resp.status == 202, resp.describe()
    bench.api.wait_status("loadbalancers", lb_id)
    after = _amphorae(bench, lb_id)
    if not before:
        assert not after, f"an amphora-less provider's failover created amphorae: {after}"
    else:
        assert after, "after failover the load balancer has no amphora"
        broken = [a["id"] for a in after if a.get("status") == "ERROR"]
        assert not broken, f"amphorae in ERROR after failover: {broken}"
