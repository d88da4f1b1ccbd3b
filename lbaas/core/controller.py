"""The core of one lbaas process: database, network backend, provider drivers, resource services."""
import logging

from lbaas import conf as lbaas_conf
from lbaas.core import db, drivers, inprocess, network, notifiers, policy, port
from lbaas.core.services import amphorae
from lbaas.core.services import catalog
from lbaas.core.services import quotas
from lbaas.core.services import l7policies, l7rules
from lbaas.core.services import (healthmonitors, listeners, loadbalancers, members, pools,
                                 providers)

LOG = logging.getLogger(__name__)


class Core:
    """Everything the API calls into, built from the configuration."""

    def __init__(self, conf, database=None):
        self.conf = conf
        self.policy = policy.Authorizer(conf)
        self.db = database or db.Database(lbaas_conf.database_url(conf),
                                          pool_size=conf.database.max_pool_size,
                                          retries=conf.database.deadlock_retries)
        self.network = network.load(conf, self.db)
        self.notifier = notifiers.load(conf)
        self.library = inprocess.InProcessLibrary(self)
        self.context = port.DriverContext(conf, self.network, self.library, self.db)
        api = conf.api_settings
        self.drivers = drivers.DriverRegistry(api.enabled_provider_drivers,
                                              api.default_provider_driver, self.context)
        self.loadbalancers = loadbalancers.LoadBalancerService(self)
        self.listeners = listeners.ListenerService(self)
        self.pools = pools.PoolService(self)
        self.members = members.MemberService(self)
        self.healthmonitors = healthmonitors.HealthMonitorService(self)
        self.providers = providers.ProviderService(self)
        self.flavor_profiles = catalog.ProfileService(self, catalog.FLAVORS)
        self.flavors = catalog.OptionService(self, catalog.FLAVORS)
        self.availability_zone_profiles = catalog.ProfileService(self, catalog.AVAILABILITY_ZONES)
        self.availability_zones = catalog.OptionService(self, catalog.AVAILABILITY_ZONES)
        self.quotas = quotas.QuotaService(self)
        self.l7policies = l7policies.L7PolicyService(self)
        self.l7rules = l7rules.L7RuleService(self)
        self.amphorae = amphorae.AmphoraService(self)

    def close(self):
        """Stop background work and release database connections."""
        self.drivers.shutdown()
        self.context.close()
        self.notifier.close()
        self.db.dispose()
