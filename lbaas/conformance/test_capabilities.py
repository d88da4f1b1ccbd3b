"""Capabilities: every option tried once; supported and refused pass, broken fails."""
import pytest

from lbaas.conformance import probes
from lbaas.conformance.bench import BROKEN

PROBES = probes.catalogue()


@pytest.mark.parametrize("probe", PROBES, ids=[p.id for p in PROBES])
def test_option(conformance_bench, conformance_record, probe):
    result = probes.execute(probe, conformance_bench)
    conformance_record(result)
    assert result.state != BROKEN, f"{probe.category} {probe.option}: {result.detail}"
