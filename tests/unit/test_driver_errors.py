"""Driver exceptions become the HTTP errors provider-drivers.md §4.2 names."""
import builtins

import pytest
from octavia_lib.api.drivers import exceptions as lib_exc

from lbaas.core import drivers, errors


class Raiser:
    name = "fake"

    def __init__(self, exc):
        self.exc = exc

    def act(self):
        raise self.exc


@pytest.mark.parametrize("exc, cls, code, text", [
    (lib_exc.Conflict(user_fault_string="10.0.0.5 taken", operator_fault_string="op"),
     errors.VIPAddressConflict, 409, "The VIP IP address is already in use: 10.0.0.5 taken"),
    (lib_exc.DriverError(user_fault_string="boom", operator_fault_string="op"),
     errors.ProviderDriverError, 500, "Provider 'fake' reports error: boom"),
    (lib_exc.NotImplementedError(user_fault_string="no", operator_fault_string="op"),
     errors.ProviderNotImplementedError, 501,
     "Provider 'fake' does not support a requested action: no"),
    (builtins.NotImplementedError(), errors.ProviderNotImplementedError, 501,
     "Provider 'fake' does not support a requested action: This feature is not implemented "
     "by the provider."),
    (lib_exc.UnsupportedOptionError(user_fault_string="SOURCE_IP_PORT",
                                    operator_fault_string="op"),
     errors.ProviderUnsupportedOptionError, 501,
     "Provider 'fake' does not support a requested option: SOURCE_IP_PORT"),
    (lib_exc.NotFound(user_fault_string="gone", operator_fault_string="op"),
     errors.ProviderDriverError, 500, "Provider 'fake' reports error: "),
    (RuntimeError("kaput"), errors.ProviderDriverError, 500,
     "Provider 'fake' reports error: kaput"),
])
def test_driver_exception_maps_to_api_error(exc, cls, code, text):
    with pytest.raises(cls) as info:
        drivers.call(Raiser(exc), "act")
    assert info.value.code == code
    assert info.value.message.startswith(text)


def test_provider_not_enabled_is_400():
    registry = drivers.DriverRegistry({"noop": "x"}, "noop")
    with pytest.raises(errors.ProviderNotEnabled) as info:
        registry.get("amphora")
    assert info.value.code == 400
    assert info.value.message == "Provider 'amphora' is not enabled."


def test_enabled_but_unloadable_provider_is_501_and_not_listed():
    registry = drivers.DriverRegistry({"noop": "x", "missing": "no entry point"}, "noop")
    assert set(registry.available()) == {"noop"}
    with pytest.raises(errors.ProviderNotFound) as info:
        registry.get("missing")
    assert info.value.code == 501
    assert info.value.message == "Provider 'missing' was not found."
    registry.shutdown()


def test_default_provider_used_when_none_given():
    registry = drivers.DriverRegistry({"noop": "x"}, "noop")
    assert registry.get(None).name == "noop"
    registry.shutdown()
