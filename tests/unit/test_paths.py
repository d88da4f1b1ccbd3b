"""Path canonicalisation: the URL aliases Octavia serves, mapped onto one tree."""
import pytest

from lbaas.api import paths


@pytest.mark.parametrize("given,expected", [
    ("/v2/lbaas/loadbalancers", "/v2/lbaas/loadbalancers"),
    ("/v2.0/lbaas/loadbalancers", "/v2/lbaas/loadbalancers"),
    ("/v2/loadbalancers", "/v2/lbaas/loadbalancers"),
    ("/v2.0/loadbalancers/abc/stats", "/v2/lbaas/loadbalancers/abc/stats"),
    ("/v2/lbaas/loadbalancers.json", "/v2/lbaas/loadbalancers"),
    ("/v2.0/listeners.json", "/v2/lbaas/listeners"),
    ("/v2/lbaas/listeners/abc.json", "/v2/lbaas/listeners/abc"),
    ("/v2.0", "/v2"),
    ("/v2.0/", "/v2/"),
    ("/", "/"),
])
def test_aliases_map_to_the_canonical_tree(given, expected):
    """/v2.0, bare collections under /v2 and the .json suffix are aliases."""
    assert paths.canonical(given) == expected


@pytest.mark.parametrize("given", ["/v2/subnets", "/v2/networks/x", "/v2/ports", "/v2/octavia"])
def test_non_lbaas_paths_under_v2_are_kept(given):
    """Neutron-style and octavia paths are not moved under /lbaas."""
    assert paths.canonical(given) == given


@pytest.mark.parametrize("given", ["/v2/openapi.json", "/v2.0/openapi.json"])
def test_openapi_document_keeps_its_json_name(given):
    """openapi.json is a file name, not the ignorable .json suffix."""
    assert paths.canonical(given) == "/v2/openapi.json"


def test_v2_prefix_needs_a_segment_boundary():
    """/v2.01 is not /v2.0 followed by 1."""
    assert paths.canonical("/v2.01/loadbalancers") == "/v2.01/loadbalancers"


def test_middleware_keeps_the_original_path():
    """The client's own path stays in the environ for pagination links."""
    seen = {}

    def app(environ, start_response):
        seen.update(environ)
        return []

    paths.PathAliases(app)({"PATH_INFO": "/v2.0/loadbalancers.json"}, None)
    assert (seen["PATH_INFO"], seen[paths.ORIGINAL_PATH]) == \
        ("/v2/lbaas/loadbalancers", "/v2.0/loadbalancers.json")
