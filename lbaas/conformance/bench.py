"""The shared test bench: the API, one load balancer reused by probes, subnets, certificates."""
import ipaddress
import itertools
import uuid

from lbaas.conformance.api import KINDS, NOT_IMPLEMENTED, REFUSED_OPTION, ConformanceError

SUPPORTED, REFUSED, BROKEN, NOT_PROBED = "supported", "refused", "broken", "not probed"


class Outcome(Exception):
    """How one attempt ended when it was not supported: state (refused/broken) and detail."""

    def __init__(self, state, detail):
        super().__init__(detail)
        self.state, self.detail = state, detail


class Bench:
    """Everything probes and contract checks share for one provider."""

    def __init__(self, api, provider, cert_refs=None):
        self.api, self.provider = api, provider
        self.cert_refs = cert_refs or {}
        self._ports = itertools.count(10000)
        self._lb_id = self._lb_error = None
        self.created_lbs = []
        self.vip_subnet_id, self.member_subnet_id, self._hosts = self._subnets()

    # -- the network the API offers ------------------------------------------------------
    def _subnets(self):
        resp = self.api.call("GET", "/v2.0/subnets")
        subnets = resp.json.get("subnets", []) if resp.status == 200 and resp.json else []
        if not subnets:
            return str(uuid.uuid4()), None, None
        vip = subnets[0]
        member = next((s for s in subnets if s["id"] != vip["id"]), vip)
        try:
            hosts = ipaddress.ip_network(member["cidr"]).hosts()
            hosts = [str(h) for _, h in zip(range(240), hosts)][200:]
        except (KeyError, ValueError):
            hosts = None
        return vip["id"], member["id"], hosts

    def member_address(self, k):
        """The k-th member address (on the member subnet when the API lists one)."""
        if self._hosts:
            return self._hosts[k % len(self._hosts)]
        return f"192.0.2.{10 + k % 200}"

    def member_body(self, k, **extra):
        body = {"address": self.member_address(k), "protocol_port": 8080 + k}
        if self.member_subnet_id:
            body["subnet_id"] = self.member_subnet_id
        body.update(extra)
        return body

    def port(self):
        """A listener port no other probe used."""
        return next(self._ports)

    # -- load balancers --------------------------------------------------------------------
    def lb_body(self, name, **extra):
        body = {"name": name, "vip_subnet_id": self.vip_subnet_id, "provider": self.provider}
        body.update(extra)
        return body

    def create_lb(self, name, **extra):
        """POST a load balancer and wait ACTIVE; -> its dict."""
        lb = self.api.create("loadbalancers", self.lb_body(name, **extra))
        self.created_lbs.append(lb["id"])
        return self.api.wait_status("loadbalancers", lb["id"])

    @property
    def lb_id(self):
        """The load balancer the probes share (created on first use)."""
        if self._lb_id is None:
            if self._lb_error is not None:
                raise ConformanceError(f"the shared load balancer failed: {self._lb_error}")
            try:
                self._lb_id = self.create_lb("conformance-probes")["id"]
            except ConformanceError as exc:
                self._lb_error = exc
                raise
        return self._lb_id

    def replace_if_broken(self):
        """Give later probes a fresh shared load balancer if a probe left this one ERROR."""
        if self._lb_id is None:
            return
        lb = self.api.show("loadbalancers", self._lb_id)
        if lb is None or lb["provisioning_status"] == "ERROR":
            self._lb_id = None

    def cleanup(self):
        """Cascade-delete every load balancer the suite created; -> problems (strings)."""
        problems = []
        for lb_id in self.created_lbs:
            try:
                lb = self.api.show("loadbalancers", lb_id)
                if lb is None or lb["provisioning_status"] == "DELETED":
                    continue
                if lb["provisioning_status"].startswith("PENDING"):
                    problems.append(f"load balancer {lb_id} is left "
                                    f"{lb['provisioning_status']} (cannot be deleted)")
                    continue
                self.api.delete("loadbalancers", lb_id, query="?cascade=true")
            except (ConformanceError, OSError) as exc:
                problems.append(str(exc))
        return problems

    # -- one attempt: supported, refused or broken ---------------------------------------
    def attempt(self, kind, body, lb_id, path=None, pool_id=None):
        """Create one object; -> its dict once it and its load balancer are ACTIVE.

        Raises Outcome(refused) for a 501 that wrote nothing and left the load balancer
        ACTIVE, Outcome(broken) for anything else that is not a clean success."""
        name = body.get("name")
        resp = self.api.call("POST", path or _base(kind), {_key(kind): body})
        if resp.status == 201:
            obj = resp.json[_key(kind)]
            try:
                self.api.wait_status(kind, obj["id"], pool_id=pool_id)
                self.api.wait_status("loadbalancers", lb_id)
            except ConformanceError as exc:
                raise Outcome(BROKEN, f"accepted (201) but {exc}") from None
            return obj
        if resp.status == 501 and (REFUSED_OPTION in resp.fault or NOT_IMPLEMENTED in resp.fault):
            leftover = self._named(kind, name, path)
            if leftover:
                raise Outcome(BROKEN, f"refused (501) but written anyway: {leftover}")
            lb = self.api.show("loadbalancers", lb_id)
            if lb is None or lb["provisioning_status"] != "ACTIVE":
                raise Outcome(BROKEN, f"refused (501) but the load balancer is "
                                      f"{lb and lb['provisioning_status']}")
            raise Outcome(REFUSED, resp.fault)
        raise Outcome(BROKEN, f"HTTP {resp.status}: {resp.fault or resp.text[:300]}")

    def _named(self, kind, name, path):
        if not name:
            return None
        listing = path or _base(kind)
        resp = self.api.call("GET", f"{listing}?name={name}")
        found = (resp.json or {}).get(listing.rsplit("/", 1)[1], []) \
            if resp.status == 200 else []
        found = [o for o in found if o.get("name") == name]
        return f"{kind} {found[0]['id']} ({found[0].get('provisioning_status')})" if found \
            else None

    def remove(self, kind, object_id, lb_id, pool_id=None):
        """Delete an object made by a probe; a delete that never completes is broken."""
        try:
            self.api.delete(kind, object_id, pool_id)
            self.api.wait_status("loadbalancers", lb_id)
        except ConformanceError as exc:
            raise Outcome(BROKEN, f"supported, but deleting it failed: {exc}") from None


def _key(kind):
    return KINDS[kind][0]


def _base(kind):
    return KINDS[kind][1]
