"""One object of the database as a provider driver reads it: an octavia-lib data model.

What octavia-lib's DriverLibrary.get_* answer: the driver agent's get socket sends it to
out-of-tree drivers, DriverContext's library hands it to in-tree ones.
"""
from octavia_lib.common import constants as lib_c

from lbaas.core import constants as c
from lbaas.core import models
from lbaas.core import provider_models as pm


def _loadbalancer(row):
    return pm.loadbalancer(row, graph=True)


# collection -> (model, its provider model)
GETTERS = {
    lib_c.LOADBALANCERS: (models.LoadBalancer, _loadbalancer),
    lib_c.LISTENERS: (models.Listener, lambda row: pm.listener(row, with_default_pool=True)),
    lib_c.POOLS: (models.Pool, pm.pool),
    lib_c.MEMBERS: (models.Member, pm.member),
    lib_c.HEALTHMONITORS: (models.HealthMonitor, pm.healthmonitor),
    lib_c.L7POLICIES: (models.L7Policy, pm.l7policy),
    lib_c.L7RULES: (models.L7Rule, pm.l7rule),
}


def get(db, collection, object_id):
    """The object's provider data model, or None when it is unknown or DELETED.

    collection: one of GETTERS (octavia-lib's names: "loadbalancers", "listeners", ...).
    """
    model, convert = GETTERS[collection]
    with db.read() as session:
        row = session.get(model, object_id)
        if row is None or row.provisioning_status == c.DELETED:
            return None
        return convert(row)
