"""Single-call creation of a whole load balancer graph: listeners, pools, members, monitors."""
from lbaas.core import errors


def create_children(core, session, lb, body):
    """Create the listeners and pools nested in a load balancer create body."""
    if body.get("listeners") or body.get("pools"):
        raise errors.ValidationException(detail="graph create is not available yet")
