"""Event notifications (lbaas.core.events, lbaas.core.notifier_messaging) on a real RabbitMQ.

The API runs in this process on SQLite with the noop provider, configured from a file as an
operator would ([oslo_messaging_notifications] driver = messagingv2); each test has its own
virtual host, and an oslo.messaging notification listener on it receives what lbaas sends.
(oslo.messaging's rabbit notifier declares the `<topic>.info` queue too, so the order of
the two does not matter; the listener starts first only so that waits are short.)
"""
import logging
import threading
import time
import uuid

import oslo_messaging as messaging
import pytest

from lbaas import conf as lbaas_conf
from lbaas.core import models, notifier_messaging
from lbaas.core.notifier import Notifier
from lbaas.db import migrate
from testbed import rabbitmq
from testbed.service import wait_for

pytestmark = pytest.mark.functional

LBS = "/v2/lbaas/loadbalancers"
TOPIC = "lbaas-events"
# octavia-lib's LoadBalancer.to_dict() without lists: what Octavia's worker sends.
PAYLOAD_FIELDS = {"loadbalancer_id", "project_id", "name", "description", "admin_state_up",
                  "vip_address", "vip_network_id", "vip_port_id", "vip_subnet_id",
                  "vip_qos_policy_id", "availability_zone"}


class Received:
    """An oslo.messaging notification endpoint that keeps every INFO notification."""

    def __init__(self):
        self.items = []
        self.lock = threading.Lock()

    def info(self, ctxt, publisher_id, event_type, payload, metadata):
        with self.lock:
            self.items.append({"ctxt": ctxt, "publisher_id": publisher_id,
                               "event_type": event_type, "payload": payload})

    def types(self):
        with self.lock:
            return [item["event_type"] for item in self.items]


@pytest.fixture
def listener(rabbitmq_url):
    """A notification listener on this test's virtual host; yields what it received."""
    conf = lbaas_conf.make_conf()
    notifier_messaging.register(conf)
    transport = messaging.get_notification_transport(conf, url=rabbitmq_url)
    received = Received()
    server = messaging.get_notification_listener(
        transport, [messaging.Target(topic=TOPIC)], [received], executor="threading")
    server.start()
    yield received
    server.stop()
    server.wait()
    transport.cleanup()


def write_conf(tmp_path, url, **extra):
    """A configuration file as an operator writes it; returns the parsed configuration."""
    db_url = f"sqlite:///{tmp_path}/lbaas.sqlite"
    migrate.upgrade(db_url)
    sections = {"database": {"connection": db_url},
                "oslo_messaging_notifications": {"driver": "messagingv2", "topics": TOPIC,
                                                 "transport_url": url}}
    for key, value in extra.items():
        group, name = key.split(".")
        sections.setdefault(group, {})[name] = value
    path = tmp_path / "lbaas.conf"
    path.write_text("".join(f"[{group}]\n" + "".join(f"{k} = {v}\n" for k, v in opts.items())
                            for group, opts in sections.items()))
    return lbaas_conf.make_conf(config_files=[str(path)])


@pytest.fixture
def make_app():
    """create_app(conf) for a test, closed at its end."""
    from lbaas.api import create_app
    apps = []

    def make(conf):
        app = create_app(conf)
        apps.append(app)
        return app, app.test_client()
    yield make
    for app in apps:
        app.extensions["lbaas_core"].close()


def create_lb(client, project):
    resp = client.post(LBS, json={"loadbalancer": {
        "name": "billing-1", "project_id": project, "vip_subnet_id": str(uuid.uuid4())}})
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()["loadbalancer"]["id"]


def wait_status(client, lb_id, status):
    def reached():
        resp = client.get(f"{LBS}/{lb_id}")
        if status == "DELETED":
            return resp.status_code == 404
        return resp.get_json()["loadbalancer"]["provisioning_status"] == status
    wait_for(reached, 10, f"load balancer {lb_id} {status}")


def test_create_update_delete_each_send_one_octavia_event(tmp_path, rabbitmq_url, listener,
                                                          make_app):
    """create, update and delete each arrive once, with Octavia's event type and payload;
    a listener's create (which also holds the load balancer) sends nothing."""
    app, client = make_app(write_conf(tmp_path, rabbitmq_url))
    project = "p-" + uuid.uuid4().hex[:12]
    lb_id = create_lb(client, project)
    wait_for(lambda: listener.types() == ["octavia.loadbalancer.create.end"], 10, "create.end")
    created = listener.items[0]
    assert created["publisher_id"] is None          # Octavia's: Notifier without publisher_id
    assert created["ctxt"]["project_id"] == project
    payload = created["payload"]
    assert set(payload) == PAYLOAD_FIELDS
    assert (payload["loadbalancer_id"], payload["project_id"], payload["name"],
            payload["admin_state_up"]) == (lb_id, project, "billing-1", True)

    assert client.put(f"{LBS}/{lb_id}", json={"loadbalancer": {"name": "billing-2"}}) \
        .status_code == 200
    wait_status(client, lb_id, "ACTIVE")
    resp = client.post("/v2/lbaas/listeners", json={"listener": {
        "loadbalancer_id": lb_id, "protocol": "HTTP", "protocol_port": 80}})
    assert resp.status_code == 201
    wait_for(lambda: client.get(f"/v2/lbaas/listeners/{resp.get_json()['listener']['id']}")
             .get_json()["listener"]["provisioning_status"] == "ACTIVE", 10, "listener ACTIVE")
    assert client.delete(f"{LBS}/{lb_id}?cascade=true").status_code == 204
    wait_for(lambda: len(listener.types()) >= 3, 10, "delete.end")
    # One sender thread and one queue: anything the listener create had sent would come
    # before delete.end.
    assert listener.types() == ["octavia.loadbalancer.create.end",
                                "octavia.loadbalancer.update.end",
                                "octavia.loadbalancer.delete.end"]
    assert listener.items[1]["payload"]["name"] == "billing-2"   # the state once updated
    assert listener.items[2]["payload"]["loadbalancer_id"] == lb_id
    core = app.extensions["lbaas_core"]
    assert core.notifier.counters() == {"sent": 3, "dropped": 0, "failed": 0}


def test_a_failed_create_sends_nothing(tmp_path, rabbitmq_url, listener, make_app,
                                       monkeypatch):
    """A create the provider reports ERROR is not announced (Octavia sends no error event);
    the delete that follows is."""
    app, client = make_app(write_conf(tmp_path, rabbitmq_url))
    core = app.extensions["lbaas_core"]
    driver = core.drivers.get("noop")
    monkeypatch.setattr(driver, "_touch", lambda *a, **kw: None)   # the provider stays silent
    lb_id = create_lb(client, "p-" + uuid.uuid4().hex[:12])
    core.library.update_loadbalancer_status(
        {"loadbalancers": [{"id": lb_id, "provisioning_status": "ERROR"}]})
    with core.db.read() as session:
        assert session.get(models.LoadBalancerEvent, lb_id) is None   # taken by the ERROR
    monkeypatch.undo()
    assert client.delete(f"{LBS}/{lb_id}").status_code == 204
    wait_status(client, lb_id, "DELETED")
    wait_for(lambda: listener.types(), 10, "delete.end")
    assert listener.types() == ["octavia.loadbalancer.delete.end"]


def test_disabled_sends_nothing_and_loads_no_sender(tmp_path, rabbitmq_url, rabbitmq_broker,
                                                    listener, make_app):
    """event_notifications = False with a driver configured: no thread, no message."""
    app, client = make_app(write_conf(tmp_path, rabbitmq_url,
                                      **{"controller_worker.event_notifications": "false"}))
    lb_id = create_lb(client, "p-" + uuid.uuid4().hex[:12])
    wait_status(client, lb_id, "ACTIVE")
    assert client.delete(f"{LBS}/{lb_id}").status_code == 204
    wait_status(client, lb_id, "DELETED")
    notifier = app.extensions["lbaas_core"].notifier
    assert type(notifier) is Notifier   # the seam's no-op: no queue, no thread, no transport
    vhost = rabbitmq_url.rsplit("/", 1)[1]
    assert rabbitmq_broker.queues(vhost)[f"{TOPIC}.info"][0] == 0
    assert listener.types() == []


def test_an_unreachable_broker_delays_no_request(tmp_path, make_app, caplog):
    """Notifications to a broker that is not there fail in the background (logged and
    counted); every request still answers 2xx at once."""
    dead = f"rabbit://guest:guest@127.0.0.1:{rabbitmq.free_port()}/"
    conf = write_conf(tmp_path, dead, **{"oslo_messaging_notifications.retry": "0",
                                         "controller_worker.event_notifications_queue": "2"})
    app, client = make_app(conf)
    core = app.extensions["lbaas_core"]
    caplog.set_level(logging.WARNING)
    project = "p-" + uuid.uuid4().hex[:12]
    slowest = 0.0
    for _ in range(4):
        started = time.monotonic()
        lb_id = create_lb(client, project)
        wait_status(client, lb_id, "ACTIVE")
        status = client.delete(f"{LBS}/{lb_id}").status_code
        slowest = max(slowest, time.monotonic() - started)
        assert status == 204
        wait_status(client, lb_id, "DELETED")
    assert slowest < 2.0, f"a create-to-delete cycle took {slowest:.2f} s"

    def settled():
        counts = core.notifier.counters()
        return counts if counts["sent"] + counts["failed"] + counts["dropped"] == 8 else None
    counts = wait_for(settled, 30, "every notification failed or dropped")
    assert counts["sent"] == 0 and counts["failed"] >= 1
    assert any(r.name == "lbaas.core.notifier_messaging" and "not sent" in r.getMessage()
               for r in caplog.records)


def test_a_provider_reporting_through_the_driver_agent_is_announced(tmp_path, rabbitmq_url,
                                                                    listener, make_app,
                                                                    monkeypatch):
    """An out-of-tree provider's report (octavia-lib's DriverLibrary on the driver agent's
    status socket) completes the create like an in-tree one: one create.end."""
    from octavia_lib.api.drivers import driver_lib
    from lbaas.driver_agent.server import DriverAgent
    app, client = make_app(write_conf(tmp_path, rabbitmq_url))
    core = app.extensions["lbaas_core"]
    monkeypatch.setattr(core.drivers.get("noop"), "_touch", lambda *a, **kw: None)
    agent_conf = lbaas_conf.make_conf()
    for name in ("status", "stats", "get"):
        agent_conf.set_override(f"{name}_socket_path", str(tmp_path / f"{name}.sock"),
                                group="driver_agent")
    agent = DriverAgent(core, agent_conf).start()
    try:
        lib = driver_lib.DriverLibrary(status_socket=agent.paths["status"],
                                       stats_socket=agent.paths["stats"],
                                       get_socket=agent.paths["get"])
        lb_id = create_lb(client, "p-" + uuid.uuid4().hex[:12])
        report = {"loadbalancers": [{"id": lb_id, "provisioning_status": "ACTIVE",
                                     "operating_status": "ONLINE"}]}
        lib.update_loadbalancer_status(report)
        lib.update_loadbalancer_status(report)   # a provider repeating itself
        wait_for(lambda: listener.types(), 10, "create.end")
        time.sleep(0.5)   # room for a wrong second event to arrive
        assert listener.types() == ["octavia.loadbalancer.create.end"]
        assert listener.items[0]["payload"]["loadbalancer_id"] == lb_id
    finally:
        agent.stop()


def test_the_amphora_provider_announces_each_operation_once(tmp_path, rabbitmq_url, listener,
                                                            make_app):
    """The amphora worker (noop compute, network and agent: its whole reconcile, nothing
    booted) reports through core like any provider: create, update, delete, once each."""
    amphora = {"api_settings.enabled_provider_drivers": "amphora:amphora",
               "api_settings.default_provider_driver": "amphora",
               "DEFAULT.state_path": str(tmp_path / "state"),
               "controller_worker.amphora_driver": "amphora_noop_driver",
               "amphora_compute.driver": "noop", "network.driver": "noop",
               "certificates.cert_manager": "noop"}
    app, client = make_app(write_conf(tmp_path, rabbitmq_url, **amphora))
    lb_id = create_lb(client, "p-" + uuid.uuid4().hex[:12])
    wait_status(client, lb_id, "ACTIVE")
    assert client.put(f"{LBS}/{lb_id}", json={"loadbalancer": {"description": "x"}}) \
        .status_code == 200
    wait_status(client, lb_id, "ACTIVE")
    assert client.delete(f"{LBS}/{lb_id}").status_code == 204
    wait_status(client, lb_id, "DELETED")
    wait_for(lambda: len(listener.types()) >= 3, 10, "three events")
    assert listener.types() == ["octavia.loadbalancer.create.end",
                                "octavia.loadbalancer.update.end",
                                "octavia.loadbalancer.delete.end"]
    assert {item["payload"]["loadbalancer_id"] for item in listener.items} == {lb_id}
