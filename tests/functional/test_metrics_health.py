"""The /healthcheck backends against real parts: RabbitMQ answers or not; a stalled loop."""
import pytest

from lbaas.metrics import health, liveness
from testbed.service import free_port
from tests.conftest import make_conf

pytestmark = pytest.mark.functional


def _bus_check(url):
    conf = make_conf("sqlite://", **{"api_settings.healthcheck_refresh_interval": 0})
    health.transport_url(conf)   # registers [DEFAULT] transport_url, as a bus user does
    conf.set_override("transport_url", url)
    assert health.backends_for(conf) == ["lbaas_db_check", "lbaas_bus_check"]
    return health.BusCheck(conf, {}).healthcheck(0)


def test_the_bus_check_passes_on_a_real_rabbitmq(rabbitmq_url):
    result = _bus_check(rabbitmq_url)
    assert result.available, result.details
    assert result.reason == "message bus: OK"


def test_the_bus_check_fails_when_no_broker_answers():
    result = _bus_check(f"rabbit://guest:guest@127.0.0.1:{free_port()}/")
    assert not result.available
    assert result.reason == "message bus: no answer" and "127.0.0.1" in result.details


def test_the_loops_check_names_a_stalled_loop():
    conf = make_conf("sqlite://")
    loop = liveness.register("test_stalled", 0.01)
    try:
        assert health.LoopsCheck(conf, {}).healthcheck(0).available
        loop.last -= liveness.SLACK + 1
        result = health.LoopsCheck(conf, {}).healthcheck(0)
        assert not result.available and "test_stalled" in result.reason
    finally:
        liveness.unregister(loop)
