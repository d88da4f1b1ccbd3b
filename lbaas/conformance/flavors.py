"""Flavor and availability-zone metadata: what the provider declares, validates and honours."""
import json

from lbaas.conformance.api import NOT_IMPLEMENTED, REFUSED_OPTION, ConformanceError
from lbaas.conformance.bench import BROKEN, REFUSED, Outcome

UNDECLARED_KEY = "conformance_undeclared_key"


def capabilities(bench, kind):
    """The metadata keys the provider declares ({name: description}), or None for a 501.

    kind: "flavor" or "availability_zone"."""
    resp = bench.api.call("GET", f"/v2/lbaas/providers/{bench.provider}/{kind}_capabilities")
    if resp.status == 501:
        return None
    if resp.status != 200:
        raise ConformanceError(f"{kind} capabilities: {resp.describe()}")
    return {item["name"]: item.get("description", "") for item in
            resp.json[f"{kind}_capabilities"]}


def _profile(kind, name, provider, metadata):
    if kind == "flavor":
        return ("flavorprofiles", {"name": name, "provider_name": provider,
                                   "flavor_data": json.dumps(metadata)})
    return ("availabilityzoneprofiles", {"name": name, "provider_name": provider,
                                         "availability_zone_data": json.dumps(metadata)})


def try_profile(bench, kind, name, metadata):
    """POST a flavor (or AZ) profile; -> its id, or raise Outcome(refused/broken)."""
    collection, body = _profile(kind, name, bench.provider, metadata)
    key = "flavorprofile" if kind == "flavor" else "availability_zone_profile"
    resp = bench.api.call("POST", f"/v2/lbaas/{collection}", {key: body})
    if resp.status == 201:
        return resp.json[key]["id"]
    if resp.status == 501 and (REFUSED_OPTION in resp.fault or NOT_IMPLEMENTED in resp.fault):
        listed = bench.api.call("GET", f"/v2/lbaas/{collection}?name={name}").json or {}
        if any(p.get("name") == name for p in listed.get(collection, [])):
            raise Outcome(BROKEN, f"{kind} metadata {metadata} refused (501) but the profile "
                                  f"was written anyway")
        raise Outcome(REFUSED, resp.fault)
    raise Outcome(BROKEN, f"{kind} metadata {metadata}: HTTP {resp.status} {resp.fault}")


def delete_profile(bench, kind, profile_id):
    collection = "flavorprofiles" if kind == "flavor" else "availabilityzoneprofiles"
    bench.api.expect("DELETE", f"/v2/lbaas/{collection}/{profile_id}", status=(204,))


def lb_with(bench, kind, name, metadata):
    """Profile + flavor (or AZ) + a load balancer using it, which must reach ACTIVE; all
    deleted again. Raises Outcome when the profile or the load balancer is not accepted."""
    profile_id = try_profile(bench, kind, name, metadata)
    try:
        if kind == "flavor":
            flavor = bench.api.create("flavors", {"name": name, "enabled": True,
                                                  "flavor_profile_id": profile_id})
            ref, path, extra = flavor["id"], "/v2/lbaas/flavors/", {"flavor_id": flavor["id"]}
        else:
            zone = bench.api.create("availabilityzones", {
                "name": name, "enabled": True, "availability_zone_profile_id": profile_id})
            ref, path, extra = zone["name"], "/v2/lbaas/availabilityzones/", \
                {"availability_zone": zone["name"]}
        _lb_reaches_active(bench, name, extra)
        bench.api.expect("DELETE", path + ref, status=(204,))
        delete_profile(bench, kind, profile_id)
    except BaseException:  # best effort: the load balancer may still hold them
        bench.api.call("DELETE", path + ref) if "ref" in locals() else None
        bench.api.call("DELETE", f"/v2/lbaas/{_profile(kind, '', '', {})[0]}/{profile_id}")
        raise


def _lb_reaches_active(bench, name, extra):
    resp = bench.api.call("POST", "/v2/lbaas/loadbalancers",
                          {"loadbalancer": bench.lb_body(name, **extra)})
    if resp.status == 501 and (REFUSED_OPTION in resp.fault or NOT_IMPLEMENTED in resp.fault):
        raise Outcome(REFUSED, resp.fault)
    if resp.status != 201:
        raise Outcome(BROKEN, f"load balancer with {extra}: HTTP {resp.status} {resp.fault}")
    lb_id = resp.json["loadbalancer"]["id"]
    bench.created_lbs.append(lb_id)
    try:
        bench.api.wait_status("loadbalancers", lb_id)
        bench.api.delete("loadbalancers", lb_id)
    except ConformanceError as exc:
        raise Outcome(BROKEN, f"accepted (201) but {exc}") from None


def topology_probe(bench, topology):
    """A load balancer whose flavor asks for `topology` must reach ACTIVE, or the profile
    must be refused; a provider that does not declare loadbalancer_topology must refuse it."""
    declared = capabilities(bench, "flavor") or {}
    name = f"conformance-topology-{topology.lower()}"
    try:
        lb_with(bench, "flavor", name, {"loadbalancer_topology": topology})
    except Outcome as out:
        raise out
    if "loadbalancer_topology" not in declared:
        raise Outcome(BROKEN, "accepted flavor key loadbalancer_topology, which the provider "
                              "does not declare in its flavor capabilities")
