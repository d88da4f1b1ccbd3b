"""The core of one lbaas process: database, network backend, provider drivers, resource services."""
import logging

from lbaas import conf as lbaas_conf
from lbaas.core import db, drivers, inprocess, network
from lbaas.core.services import (healthmonitors, listeners, loadbalancers, members, pools,
                                 providers)

LOG = logging.getLogger(__name__)


class Core:
    """Everything the API calls into, built from the configuration."""

    def __init__(self, conf, database=None):
        self.conf = conf
        self.db = database or db.Database(lbaas_conf.database_url(conf),
                                          pool_size=conf.database.max_pool_size)
        self.network = network.load(conf)
        self.library = inprocess.InProcessLibrary(self)
        api = conf.api_settings
        self.drivers = drivers.DriverRegistry(api.enabled_provider_drivers,
                                              api.default_provider_driver, self.library)
        self.loadbalancers = loadbalancers.LoadBalancerService(self)
        self.listeners = listeners.ListenerService(self)
        self.pools = pools.PoolService(self)
        self.members = members.MemberService(self)
        self.healthmonitors = healthmonitors.HealthMonitorService(self)
        self.providers = providers.ProviderService(self)

    def close(self):
        """Stop background work and release database connections."""
        self.drivers.shutdown()
        self.db.dispose()
