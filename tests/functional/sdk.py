"""openstacksdk helpers shared by the functional tests: connect without Keystone, wait."""
from openstack import connection

INTERVAL = 0.1  # seconds between polls (the SDK's default of 2 s would dominate the run)
TIMEOUT = 60


def connect(url):
    """A Connection to an lbaas endpoint with auth_type none (discovery through GET /)."""
    return connection.Connection(auth_type="none", auth={"endpoint": url})


def settle(conn, lb_id):
    """Wait until the load balancer is ACTIVE again; returns it."""
    return conn.load_balancer.wait_for_load_balancer(lb_id, interval=INTERVAL, wait=TIMEOUT)


def active(conn, res):
    """Wait until a child object (listener, pool, member, monitor) is ACTIVE; returns it."""
    return conn.load_balancer.wait_for_status(res, "ACTIVE", ["ERROR"], INTERVAL, TIMEOUT,
                                              attribute="provisioning_status")


def gone(conn, res):
    """Wait until an object answers 404."""
    return conn.load_balancer.wait_for_delete(res, interval=INTERVAL, wait=TIMEOUT)


def status_tree(conn, lb_id):
    """GET .../loadbalancers/<id>/status (the SDK has no call for it) through the SDK's adapter."""
    resp = conn.load_balancer.get(f"/lbaas/loadbalancers/{lb_id}/status")
    assert resp.status_code == 200, resp.text
    return resp.json()["statuses"]["loadbalancer"]


def ids(refs):
    """The ids of a list of {"id": ...} references."""
    return [ref["id"] for ref in refs]
