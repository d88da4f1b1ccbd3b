"""Read-only Neutron-style lookups (networks, subnets, ports) answered by the network backend.

The openstack CLI resolves --vip-subnet-id and friends through Neutron on the
same endpoint before it posts; these routes let it work with no Neutron. With a
backend in front of a real Neutron (answers_lookups False) they answer 404: the
catalog's Neutron answers the CLI, with the caller's own rights.
"""
import flask

from lbaas.api.context import core
from lbaas.api.errors import fault

blp = flask.Blueprint("networking", __name__)

KINDS = {"networks": "network", "subnets": "subnet", "ports": "port"}


def _filters():
    return {k: flask.request.args.getlist(k) for k in flask.request.args if k != "fields"}


@blp.get("/v2/<any(networks, subnets, ports):kind>")
def collection(kind):
    """List networks, subnets or ports matching the query's filters."""
    if not core().network.answers_lookups:
        return _not_here()
    lookup = getattr(core().network, f"list_{kind}")
    return {kind: lookup(_filters())}


@blp.get("/v2/<any(networks, subnets, ports):kind>/<object_id>")
def item(kind, object_id):
    """Show one network, subnet or port."""
    if not core().network.answers_lookups:
        return _not_here()
    single = KINDS[kind]
    found = getattr(core().network, f"get_{single}")(object_id)
    if found is None:
        return fault(404, f"{single.title()} {object_id} could not be found.")
    return {single: found}


def _not_here():
    return fault(404, "This endpoint serves no network lookups: Neutron does.")
