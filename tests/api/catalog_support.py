"""Helpers of the flavor and availability-zone tests: URLs, unique names, made-to-order objects."""
import json
import uuid

FLAVORPROFILES = "/v2/lbaas/flavorprofiles"
FLAVORS = "/v2/lbaas/flavors"
AZPROFILES = "/v2/lbaas/availabilityzoneprofiles"
AZS = "/v2/lbaas/availabilityzones"
LBS = "/v2/lbaas/loadbalancers"


def unique(prefix):
    """A name no other test uses (the app and its database live for the whole session)."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def created(resp, key):
    """The object of a 201 answer."""
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()[key]


def flavor_profile(client, data=None, provider="noop", name=None):
    """A new flavor profile holding `data` (a dict, sent as its JSON string)."""
    body = {"name": name or unique("fp"), "provider_name": provider,
            "flavor_data": json.dumps(data or {})}
    return created(client.post(FLAVORPROFILES, {"flavorprofile": body}), "flavorprofile")


def flavor(client, data=None, profile_id=None, **fields):
    """A new flavor, on a new profile holding `data` unless a profile is named."""
    if profile_id is None:
        profile_id = flavor_profile(client, data)["id"]
    body = {"name": unique("flavor"), "flavor_profile_id": profile_id}
    body.update(fields)
    return created(client.post(FLAVORS, {"flavor": body}), "flavor")


def az_profile(client, data=None, provider="noop", name=None):
    """A new availability zone profile holding `data` (a dict, sent as its JSON string)."""
    body = {"name": name or unique("azp"), "provider_name": provider,
            "availability_zone_data": json.dumps(data or {})}
    return created(client.post(AZPROFILES, {"availability_zone_profile": body}),
                   "availability_zone_profile")


def az(client, data=None, profile_id=None, **fields):
    """A new availability zone, on a new profile holding `data` unless a profile is named."""
    if profile_id is None:
        profile_id = az_profile(client, data)["id"]
    body = {"name": unique("az"), "availability_zone_profile_id": profile_id}
    body.update(fields)
    return created(client.post(AZS, {"availability_zone": body}), "availability_zone")


def post_lb(client, project, **fields):
    """POST a load balancer on a fresh subnet (unless one is given) in a project."""
    body = {"vip_subnet_id": str(uuid.uuid4()), "project_id": project}
    body.update(fields)
    return client.post(LBS, {"loadbalancer": body})


def spy(monkeypatch, driver, method):
    """Record the arguments of every call of a driver method, still calling it; returns the list."""
    calls = []
    real = getattr(driver, method)

    def recording(*args):
        calls.append(args)
        return real(*args)

    monkeypatch.setattr(driver, method, recording)
    return calls


def delete_lb(client, lb_id):
    """Delete a load balancer and wait until its provider reports it DELETED."""
    assert client.delete(f"{LBS}/{lb_id}").status_code == 204
    client.wait(f"{LBS}/{lb_id}", "loadbalancer", "DELETED")
