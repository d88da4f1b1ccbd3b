"""Built-in drivers' flavor and zone capabilities, as clients read them."""
import pytest

from lbaas.drivers.amphora.driver import AmphoraProviderDriver
from lbaas.drivers.noop.driver import NoopProviderDriver
from lbaas.drivers.ovn.driver import OvnProviderDriver

DRIVERS = [AmphoraProviderDriver, NoopProviderDriver, OvnProviderDriver]


@pytest.mark.parametrize("driver", DRIVERS, ids=lambda d: d.__name__)
def test_descriptions_have_no_comma(driver):
    """tempest reads expected capabilities from comma-separated settings (DictOpt)."""
    instance = driver()
    described = {**instance.get_supported_flavor_metadata(),
                 **instance.get_supported_availability_zone_metadata()}
    assert [key for key, text in described.items() if "," in text] == []


def test_amphora_accepts_upstreams_keys():
    """The keys upstream's amphora provider accepts, no more, no fewer."""
    instance = AmphoraProviderDriver()
    assert set(instance.get_supported_flavor_metadata()) == {
        "loadbalancer_topology", "compute_flavor", "amp_image_tag", "sriov_vip",
        "allow_member_sriov"}
    assert set(instance.get_supported_availability_zone_metadata()) == {
        "compute_zone", "volume_zone", "management_network", "valid_vip_networks"}
