"""Contract: flavor and availability-zone metadata are declared, validated and honoured."""
import pytest

from lbaas.conformance import flavors
from lbaas.conformance.bench import REFUSED, Outcome

pytestmark = pytest.mark.contract
KINDS = ("flavor", "availability_zone")


@pytest.mark.parametrize("kind", KINDS)
def test_capabilities_are_declared(conformance_bench, kind):
    """metadata capabilities: a list of named, described keys (or a 501)"""
    declared = flavors.capabilities(conformance_bench, kind)
    if declared is None:
        pytest.skip(f"the provider does not implement {kind} capabilities (501)")
    empty = [k for k, d in declared.items() if not k or not d]
    assert not empty, f"{kind} capabilities without a name or description: {empty}"


@pytest.mark.parametrize("kind", KINDS)
def test_undeclared_key_is_refused(conformance_bench, kind):
    """metadata validation: a key the provider does not declare is refused (501)"""
    bench = conformance_bench
    try:
        profile_id = flavors.try_profile(bench, kind, f"conformance-undeclared-{kind}",
                                         {flavors.UNDECLARED_KEY: "x"})
    except Outcome as out:
        assert out.state == REFUSED, out.detail
        return
    flavors.delete_profile(bench, kind, profile_id)
    pytest.fail(f"{kind} metadata {{{flavors.UNDECLARED_KEY!r}: 'x'}} was accepted silently "
                f"(201): a key the provider does not declare must raise UnsupportedOptionError")


@pytest.mark.parametrize("kind", KINDS)
def test_load_balancer_with_empty_metadata(conformance_bench, kind):
    """metadata use: a load balancer with an empty flavor / zone reaches ACTIVE"""
    bench = conformance_bench
    try:
        flavors.lb_with(bench, kind, f"conformance-empty-{kind}", {})
    except Outcome as out:
        if out.state == REFUSED and flavors.capabilities(bench, kind) is None:
            pytest.skip(f"the provider does not support {kind}s: {out.detail}")
        pytest.fail(f"a load balancer with an empty {kind}: {out.state}: {out.detail}")
