"""A small Octavia v2 API client for the suite: requests, status waits with clear failures."""
import time

import requests

# collection -> (singular key, URL template); members live under their pool.
KINDS = {
    "loadbalancers": ("loadbalancer", "/v2/lbaas/loadbalancers"),
    "listeners": ("listener", "/v2/lbaas/listeners"),
    "pools": ("pool", "/v2/lbaas/pools"),
    "healthmonitors": ("healthmonitor", "/v2/lbaas/healthmonitors"),
    "l7policies": ("l7policy", "/v2/lbaas/l7policies"),
    "flavorprofiles": ("flavorprofile", "/v2/lbaas/flavorprofiles"),
    "flavors": ("flavor", "/v2/lbaas/flavors"),
    "availabilityzoneprofiles": ("availability_zone_profile",
                                 "/v2/lbaas/availabilityzoneprofiles"),
    "availabilityzones": ("availability_zone", "/v2/lbaas/availabilityzones"),
    "members": ("member", "/v2/lbaas/pools/{parent}/members"),
    "l7rules": ("rule", "/v2/lbaas/l7policies/{parent}/rules"),
}
REFUSED_OPTION = "does not support a requested option"
NOT_IMPLEMENTED = "does not support a requested action"


class ConformanceError(AssertionError):
    """A contract violation, worded for the driver author."""


class Response:
    """Status code and decoded body of one call."""

    def __init__(self, method, path, body, resp):
        self.method, self.path, self.body = method, path, body
        self.status = resp.status_code
        try:
            self.json = resp.json() if resp.content else None
        except ValueError:
            self.json = None
        self.text = resp.text

    @property
    def fault(self):
        """The faultstring of an error reply ('' when none)."""
        if isinstance(self.json, dict):
            return str(self.json.get("faultstring") or self.json.get("description") or "")
        return self.text[:500]

    def describe(self):
        return f"{self.method} {self.path} -> {self.status} {self.text[:600]}"


class Api:
    """The Octavia API of one lbaas, as the suite uses it."""

    def __init__(self, url, timeout, headers=None):
        self.url = url.rstrip("/")
        self.timeout = timeout  # seconds an object may take to reach a terminal status
        self.session = requests.Session()
        self.session.headers.update(headers or {})

    def call(self, method, path, body=None):
        resp = self.session.request(method, self.url + path, json=body, timeout=60)
        return Response(method, path, body, resp)

    def expect(self, method, path, body=None, status=(200,)):
        """Call and fail unless the status code is one of `status`; -> Response."""
        resp = self.call(method, path, body)
        if resp.status not in status:
            raise ConformanceError(f"expected HTTP {'/'.join(map(str, status))}: "
                                   f"{resp.describe()}")
        return resp

    def create(self, kind, body, path=None):
        """POST one object; -> its dict (fails unless 201)."""
        key, base = KINDS[kind]
        return self.expect("POST", path or base, {key: body}, (201,)).json[key]

    def path_of(self, kind, object_id, pool_id=None):
        """The object's URL (members and L7 rules need their pool or policy id)."""
        return f"{KINDS[kind][1].format(parent=pool_id)}/{object_id}"

    def show(self, kind, object_id, pool_id=None):
        """The object's dict, or None when it is gone (404)."""
        resp = self.call("GET", self.path_of(kind, object_id, pool_id))
        if resp.status == 404:
            return None
        if resp.status != 200:
            raise ConformanceError(f"reading {kind} {object_id}: {resp.describe()}")
        return next(iter(resp.json.values()))

    def wait_status(self, kind, object_id, expected="ACTIVE", pool_id=None, timeout=None):
        """Wait until provisioning_status is `expected` (DELETED: also gone); -> the object.

        Fails at once on ERROR (unless expected) and at the deadline with what was seen."""
        timeout = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        seen = "nothing"
        while True:
            obj = self.show(kind, object_id, pool_id)
            seen = "gone (404)" if obj is None else obj.get("provisioning_status")
            if expected == "DELETED" and seen in ("gone (404)", "DELETED"):
                return obj
            if seen == expected:
                return obj
            if obj is None:
                raise ConformanceError(f"{kind} {object_id} disappeared while waiting for "
                                       f"{expected}")
            if seen == "ERROR":
                raise ConformanceError(f"{kind} {object_id}: expected {expected}, the driver "
                                       f"reported ERROR")
            if time.monotonic() > deadline:
                raise ConformanceError(
                    f"{kind} {object_id}: expected provisioning_status {expected} within "
                    f"{timeout:.0f} s, still {seen} (the driver never reported it through "
                    f"the status API)")
            time.sleep(0.02)

    def wait_unlocked(self, lb_id):
        """Wait until the load balancer is ACTIVE again after a change below it."""
        return self.wait_status("loadbalancers", lb_id, "ACTIVE")

    def delete(self, kind, object_id, pool_id=None, query=""):
        """DELETE and wait until the object is gone."""
        self.expect("DELETE", self.path_of(kind, object_id, pool_id) + query, status=(204,))
        self.wait_status(kind, object_id, "DELETED", pool_id)
