"""Provider drivers: loaded by name with stevedore, called with octavia-lib's error mapping."""
import builtins
import logging

from octavia_lib.api.drivers import exceptions as lib_exc
from stevedore import driver as stevedore_driver

from lbaas.core import errors

LOG = logging.getLogger(__name__)
NAMESPACE = "octavia.api.drivers"


class DriverRegistry:
    """The enabled provider drivers of this process, each loaded once.

    An in-tree driver that defines `bind_context(context)` receives the process's
    lbaas.core.port.DriverContext right after loading; one that defines
    `background_services()` declares the long-running services `lbaas serve` runs beside
    the API (docs/driver-authors.md).
    """

    def __init__(self, enabled, default, context=None):
        self.enabled = dict(enabled)
        self.default = default
        self.context = context
        self._drivers = {}
        self._bound = set()   # names of the drivers given the context (they report in-process)
        self._failed = {}
        for name in list(self.enabled):
            try:
                self._drivers[name] = self._load(name)
            except Exception as exc:  # a broken driver must not stop the others
                LOG.error("provider driver %r (entry point %s) failed to load: %s",
                          name, NAMESPACE, exc)
                self._failed[name] = exc

    def _load(self, name):
        mgr = stevedore_driver.DriverManager(NAMESPACE, name, invoke_on_load=True)
        drv = mgr.driver
        drv.name = name
        bind = getattr(drv, "bind_context", None)
        if bind is not None and self.context is not None:
            bind(self.context)
            self._bound.add(name)
        return drv

    def available(self):
        """Name to description of every enabled driver that loaded."""
        return {n: d for n, d in self.enabled.items() if n in self._drivers}

    def get(self, provider):
        """The driver for a provider name (None means the default); 400 or 501 if unusable."""
        name = provider or self.default
        if name not in self.enabled:
            raise errors.ProviderNotEnabled(prov=name)
        drv = self._drivers.get(name)
        if drv is None:
            raise errors.ProviderNotFound(prov=name)
        return drv

    def loaded(self):
        """{provider name: driver} of every enabled driver that loaded."""
        return dict(self._drivers)

    def reporting_elsewhere(self):
        """Names of the loaded drivers without the in-process port: they report through
        octavia-lib's sockets (the driver agent)."""
        return sorted(set(self._drivers) - self._bound)

    def background_services(self):
        """The services the loaded drivers declare for running beside the API, each once."""
        found = []
        for drv in self._drivers.values():
            declare = getattr(drv, "background_services", None)
            for service in declare() if declare is not None else ():
                if all(service is not known for known in found):
                    found.append(service)
        return found

    def shutdown(self):
        """Stop drivers that run background work."""
        for drv in self._drivers.values():
            stop = getattr(drv, "shutdown", None)
            if stop is not None:
                stop()


def call(driver, method, *args, **kwargs):
    """Call one driver method, turning its exceptions into the API's errors."""
    name = driver.name
    try:
        return getattr(driver, method)(*args, **kwargs)
    except lib_exc.Conflict as exc:
        raise errors.VIPAddressConflict(exc.operator_fault_string,
                                        msg=exc.user_fault_string) from exc
    except lib_exc.UnsupportedOptionError as exc:
        raise errors.ProviderUnsupportedOptionError(
            exc.operator_fault_string, prov=name, user_msg=exc.user_fault_string) from exc
    except (lib_exc.NotImplementedError, builtins.NotImplementedError) as exc:
        user = getattr(exc, "user_fault_string", None) or \
            "This feature is not implemented by the provider."
        raise errors.ProviderNotImplementedError(
            getattr(exc, "operator_fault_string", None), prov=name, user_msg=user) from exc
    except lib_exc.DriverError as exc:
        raise errors.ProviderDriverError(exc.operator_fault_string, prov=name,
                                         user_msg=exc.user_fault_string) from exc
    except errors.APIError:
        raise
    except Exception as exc:
        LOG.exception("provider %s failed in %s", name, method)
        raise errors.ProviderDriverError(str(exc), prov=name, user_msg=str(exc)) from exc
