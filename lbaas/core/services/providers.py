"""Providers: the enabled drivers and the flavor / availability-zone metadata each accepts."""
from lbaas.core import drivers


def _entries(mapping, filters):
    """{name: description} as a list of objects, kept where every exact-match filter agrees."""
    items = [{"name": name, "description": description} for name, description in mapping.items()]
    return [i for i in items if all(i.get(k) in values for k, values in filters.items())]


class ProviderService:
    """What GET /providers and its capability routes answer."""

    def __init__(self, core):
        self.core = core

    def list(self, ctx, filters):
        """The enabled providers whose driver loaded."""
        self.core.policy.authorize_own(ctx, "provider", "get_all")
        return _entries(self.core.drivers.available(), filters)

    def flavor_capabilities(self, ctx, provider, filters):
        """The flavor metadata keys a provider accepts (400 disabled, 501 unavailable)."""
        self.core.policy.authorize_own(ctx, "provider-flavor", "get_all")
        driver = self.core.drivers.get(provider)
        return _entries(drivers.call(driver, "get_supported_flavor_metadata"), filters)

    def availability_zone_capabilities(self, ctx, provider, filters):
        """The availability-zone metadata keys a provider accepts."""
        self.core.policy.authorize_own(ctx, "provider-availability-zone", "get_all")
        driver = self.core.drivers.get(provider)
        return _entries(drivers.call(driver, "get_supported_availability_zone_metadata"),
                        filters)
