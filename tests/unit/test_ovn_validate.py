"""What the OVN driver refuses, named in the UnsupportedOptionError (no OVN needed)."""
import pytest
from octavia_lib.api.drivers import data_models as dm
from octavia_lib.api.drivers import exceptions as lib_exc

from lbaas.drivers.ovn import validate

DEFAULTS = {"timeout_client_data": 50000}


def _refused(call, word):
    with pytest.raises(lib_exc.UnsupportedOptionError) as caught:
        call()
    assert word in caught.value.user_fault_string


@pytest.mark.parametrize("protocol", ["HTTP", "HTTPS", "TERMINATED_HTTPS", "PROXY"])
def test_http_family_listeners_are_refused(protocol):
    _refused(lambda: validate.listener(dm.Listener(protocol=protocol), DEFAULTS), protocol)


@pytest.mark.parametrize("algorithm", ["ROUND_ROBIN", "LEAST_CONNECTIONS"])
def test_ordered_algorithms_are_refused(algorithm):
    _refused(lambda: validate.pool(dm.Pool(protocol="TCP", lb_algorithm=algorithm)), algorithm)


def test_a_default_timeout_passes_and_another_is_refused():
    validate.listener(dm.Listener(protocol="TCP", timeout_client_data=50000), DEFAULTS)
    _refused(lambda: validate.listener(dm.Listener(protocol="TCP", timeout_client_data=5),
                                       DEFAULTS), "timeout_client_data")


def test_monitor_type_must_fit_the_pool_protocol():
    validate.healthmonitor(dm.HealthMonitor(type="UDP-CONNECT"), "UDP")
    _refused(lambda: validate.healthmonitor(dm.HealthMonitor(type="TCP"), "UDP"), "TCP")
    _refused(lambda: validate.healthmonitor(dm.HealthMonitor(type="TCP"), "SCTP"), "SCTP")


def test_every_flavor_key_is_refused():
    validate.metadata("flavor", {})
    _refused(lambda: validate.metadata("flavor", {"compute_flavor": "x"}), "compute_flavor")


def test_unset_fields_of_an_update_pass():
    validate.listener(dm.Listener(admin_state_up=False), DEFAULTS)
    validate.pool(dm.Pool(name="renamed"))
    validate.member(dm.Member(admin_state_up=False))
