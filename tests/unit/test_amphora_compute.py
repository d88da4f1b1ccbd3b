"""The compute backend seam: the loader, the noop backend and the local backend's names."""
import pytest

from lbaas import conf as lbaas_conf
from lbaas.drivers.amphora.compute import (AmphoraNotFound, ComputeBackend, Network, load,
                                           load_from_conf)
from lbaas.drivers.amphora.compute.local import ns_name, short_id
from lbaas.drivers.amphora.compute.noop import NoopCompute

AMP = "3f2c8e1a-77b0-4c1e-9d2a-0123456789ab"


def test_loader_builds_the_configured_backend():
    conf = lbaas_conf.make_conf([])
    assert isinstance(load_from_conf(conf), NoopCompute)


def test_loader_error_names_the_entry_point():
    with pytest.raises(RuntimeError, match="lbaas.amphora.compute"):
        load("no-such-backend")


def test_noop_create_plug_delete_roundtrip():
    compute = load("noop")
    assert isinstance(compute, ComputeBackend)
    inst = compute.create(AMP)
    assert compute.create(AMP) == inst and inst.management_ip == "198.51.100.2"
    iface = compute.plug(AMP, Network("vip", "203.0.113.5/24"))
    assert compute.get(AMP).interfaces == (iface,)
    compute.unplug(AMP, iface.name)
    assert compute.get(AMP).interfaces == ()
    compute.delete(AMP)
    compute.delete(AMP)
    assert not compute.exists(AMP) and compute.list() == []
    with pytest.raises(AmphoraNotFound):
        compute.get(AMP)


def test_local_names_fit_linux_limits():
    assert ns_name(AMP) == "amp-3f2c8e1a77" and len(f"a{short_id(AMP)}n99") <= 15
