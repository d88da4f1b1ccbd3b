"""Label values stay bounded whatever a client sends; the liveness of main loops."""
import pytest

from lbaas.metrics import labels, liveness


@pytest.mark.parametrize("value, expected", [
    ("get", "GET"), ("DELETE", "DELETE"), ("BREW", "other"), ("G" * 1000, "other"), ("", "other")])
def test_method_is_one_of_the_known_ones(value, expected):
    assert labels.method(value) == expected


@pytest.mark.parametrize("code, expected", [
    (200, "200"), ("404", "404"), (599, "599"), (600, "other"), (99, "other"),
    ("abc", "other"), (None, "other")])
def test_status_is_three_digits_or_other(code, expected):
    assert labels.status(code) == expected


def test_route_is_the_rule_never_the_path():
    assert labels.route("/v2/lbaas/loadbalancers/<loadbalancer_id>") == \
        "/v2/lbaas/loadbalancers/<loadbalancer_id>"
    assert labels.route(None) == "unrouted"
    assert labels.route("") == "unrouted"
    assert labels.route("/" + "x" * 500) == "other"


def test_bounded_keeps_only_allowed_values():
    assert labels.bounded("stats", {"status", "stats", "get"}) == "stats"
    assert labels.bounded("../../etc", {"status", "stats", "get"}) == "other"


def test_a_loop_that_stops_beating_goes_stale():
    now = [100.0]
    loop = liveness.Loop("test_loop", 1.0, clock=lambda: now[0])
    now[0] += liveness.GRACE * 1.0 + liveness.SLACK - 0.1
    assert not loop.stale()
    now[0] += 0.2
    assert loop.stale()
    loop.beat()
    assert not loop.stale() and loop.age() == 0
