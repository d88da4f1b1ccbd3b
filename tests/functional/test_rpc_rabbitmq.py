"""The amphora reconcile bus (lbaas.drivers.amphora.rpc) over a real RabbitMQ, across processes.

The RPC servers run in child processes (SERVER below: `rpc.bus(conf).server(rpc.Endpoint(h))`,
one line per message into a file); the casts come from this process (`Bus.reconcile`).
What these tests establish about oslo.messaging 18.3.1 with the defaults lbaas uses
(amqp_durable_queues = False, amqp_auto_delete = False):

* a cast is published to the topic exchange only; the client never declares the topic queue.
  The first RPC server on a topic declares it. Casts sent before any server ever ran on the
  topic are dropped by RabbitMQ (unroutable), silently;
* once declared, the queue outlives its servers (not auto-delete): casts sent while no worker
  runs wait in the broker and the next worker receives all of them;
* the queue is not durable: it and its waiting messages vanish when the broker restarts, and
  the first server to reconnect declares it again.
"""
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter

import pytest

from lbaas import conf as lbaas_conf
from lbaas.drivers.amphora import rpc
from testbed import rabbitmq
from testbed.service import wait_for

pytestmark = pytest.mark.functional

TOPIC = "lbaas_amphora"  # lbaas's default [oslo_messaging] topic, the queue's name

SERVER = r"""
import os, signal, sys, threading, warnings
warnings.simplefilter("ignore")
from lbaas import conf as lbaas_conf
from lbaas.drivers.amphora import rpc

url, name, out, ready, topic = sys.argv[1:6]
conf = lbaas_conf.make_conf()
rpc._register(conf)
conf.set_override("transport_url", url)
conf.set_override("topic", topic, group="oslo_messaging")
fd = os.open(out, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)


def handle(loadbalancer_id):
    os.write(fd, f"{name} {loadbalancer_id}\n".encode())   # one write per line: atomic


stop = threading.Event()
signal.signal(signal.SIGTERM, lambda *args: stop.set())
server = rpc.bus(conf).server(rpc.Endpoint(handle), name)
server.start()                  # the topic queue and the consumer exist when this returns
open(ready, "w").close()
stop.wait()
server.stop()
server.wait()
rpc.bus(conf).close()
"""


class ServerProcess:
    """An RPC server of the reconcile bus in a child process, writing what it handles."""

    def __init__(self, url, name, out_path, topic=TOPIC):
        self.url, self.name, self.out, self.topic = url, name, str(out_path), topic
        self.log = f"{self.out}.{name}.log"
        self.proc = None

    @property
    def ready_path(self):
        return f"{self.out}.{self.name}.ready"

    def launch(self):
        """Start the process (returns at once; `wait_ready()` waits for it to consume)."""
        if os.path.exists(self.ready_path):
            os.unlink(self.ready_path)
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen([sys.executable, "-c", SERVER, self.url, self.name,
                                          self.out, self.ready_path, self.topic], stdout=log,
                                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         start_new_session=True)
        return self

    def wait_ready(self, timeout=60.0):
        wait_for(lambda: os.path.exists(self.ready_path) or self.proc.poll() is not None,
                 timeout, f"RPC server {self.name} to start")
        if self.proc.poll() is not None:
            raise AssertionError(f"RPC server {self.name} exited {self.proc.returncode}:\n"
                                 f"{open(self.log).read()[-3000:]}")
        return self

    def stop(self, timeout=30.0):
        """SIGTERM: the server stops consuming and finishes what it is handling, then exits."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
            raise AssertionError(f"RPC server {self.name} ignored SIGTERM for {timeout} s")


def received(out_path):
    """[(server name, load balancer id)] in the order the servers handled them."""
    try:
        with open(out_path) as out:
            return [tuple(line.split()) for line in out.read().splitlines()]
    except FileNotFoundError:
        return []


def ids(count):
    return [str(uuid.uuid4()) for _ in range(count)]


def wait_received(out_path, expected_ids, timeout=30.0):
    """Wait until every id has been handled by some server."""
    expected = set(expected_ids)
    wait_for(lambda: expected <= {lb for _, lb in received(out_path)}, timeout,
             f"{len(expected)} reconcile messages to arrive")


@pytest.fixture
def client_bus(request):
    """A factory: the reconcile Bus of a fresh lbaas configuration on a transport_url."""
    buses = []

    def make(url, topic=TOPIC):
        conf = lbaas_conf.make_conf()
        rpc._register(conf)
        conf.set_override("transport_url", url)
        conf.set_override("topic", topic, group="oslo_messaging")
        bus = rpc.bus(conf)
        buses.append(bus)
        return bus

    yield make
    for bus in buses:
        bus.close()


@pytest.fixture
def servers(tmp_path):
    """A factory of RPC server processes writing to tmp_path/received; all stopped at the end."""
    started = []

    def start(url, *names, topic=TOPIC):
        """Start a server per name (default "worker-1") at once; wait until all consume."""
        launched = [ServerProcess(url, name, tmp_path / "received", topic).launch()
                    for name in names or ("worker-1",)]
        started.extend(launched)
        for server in launched:
            server.wait_ready()
        return launched[0] if len(launched) == 1 else launched

    start.out = tmp_path / "received"
    yield start
    for server in started:
        server.stop()


def vhost_of(url):
    return url.rsplit("/", 1)[1] or "/"


def test_cast_reaches_rpc_server_in_another_process(rabbitmq_url, client_bus, servers):
    servers(rabbitmq_url)
    bus = client_bus(rabbitmq_url)
    lb_id = str(uuid.uuid4())
    bus.reconcile(lb_id)
    wait_received(servers.out, [lb_id])
    assert received(servers.out) == [("worker-1", lb_id)]


def test_200_casts_are_each_delivered_exactly_once(rabbitmq_url, client_bus, servers, capsys):
    server = servers(rabbitmq_url)
    bus = client_bus(rabbitmq_url)
    bus.reconcile("warm-up")           # connect and declare the exchange outside the timing
    wait_received(servers.out, ["warm-up"])
    sent = ids(200)
    begin = time.monotonic()
    for lb_id in sent:
        bus.reconcile(lb_id)
    cast_seconds = time.monotonic() - begin
    wait_received(servers.out, sent)
    total_seconds = time.monotonic() - begin
    server.stop()                      # anything still in flight is written before it exits
    counts = Counter(lb for _, lb in received(servers.out))
    assert set(counts) == set(sent) | {"warm-up"}
    assert max(counts.values()) == 1
    with capsys.disabled():
        print(f"\n200 casts over RabbitMQ: published in {cast_seconds * 1000:.0f} ms, "
              f"all handled by the other process after {total_seconds * 1000:.0f} ms")


def test_two_servers_on_one_topic_share_the_casts(rabbitmq_url, client_bus, servers):
    first, second = servers(rabbitmq_url, "worker-1", "worker-2")
    bus = client_bus(rabbitmq_url)
    sent = ids(100)
    for lb_id in sent:
        bus.reconcile(lb_id)
    wait_received(servers.out, sent)
    first.stop()
    second.stop()
    got = received(servers.out)
    assert sorted(lb for _, lb in got) == sorted(sent)            # each exactly once
    by_server = Counter(name for name, _ in got)
    assert set(by_server) == {"worker-1", "worker-2"}             # RabbitMQ round-robins


def test_casts_before_any_server_ever_ran_are_dropped(rabbitmq_url, rabbitmq_broker,
                                                      client_bus, servers):
    """The client does not declare the topic queue: with no queue bound yet, RabbitMQ drops
    the casts (no error to the caller). A worker that starts later never sees them."""
    bus = client_bus(rabbitmq_url)
    early = ids(20)
    for lb_id in early:
        bus.reconcile(lb_id)
    assert TOPIC not in rabbitmq_broker.queues(vhost_of(rabbitmq_url))
    servers(rabbitmq_url)
    marker = str(uuid.uuid4())
    bus.reconcile(marker)              # one FIFO queue: anything sent earlier would come first
    wait_received(servers.out, [marker])
    assert received(servers.out) == [("worker-1", marker)]


def test_casts_while_no_server_runs_wait_for_the_next_server(rabbitmq_url, rabbitmq_broker,
                                                             client_bus, servers):
    """A worker restart loses nothing: the topic queue, once a server declared it, outlives
    its servers (not auto-delete) and keeps the casts until the next server consumes them."""
    servers(rabbitmq_url, "worker-1").stop()
    bus = client_bus(rabbitmq_url)
    sent = ids(50)
    for lb_id in sent:
        bus.reconcile(lb_id)
    ready, consumers, durable = rabbitmq_broker.queues(vhost_of(rabbitmq_url))[TOPIC]
    assert (ready, consumers, durable) == (50, 0, False)
    servers(rabbitmq_url, "worker-2")
    wait_received(servers.out, sent)
    assert sorted(received(servers.out)) == sorted(("worker-2", lb) for lb in sent)


@pytest.fixture
def own_broker(tmp_path):
    """A RabbitMQ node for this test alone (restarting the session's would disturb the tests
    that other xdist workers run on it at the same time)."""
    reason = rabbitmq.installed()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"RabbitMQ not available in CI: {reason}")
        pytest.skip(f"RabbitMQ not available: {reason}")
    broker = rabbitmq.Broker(tmp_path / "rabbitmq").start()
    yield broker
    broker.destroy()


def test_broker_restart_client_and_server_reconnect(own_broker, client_bus, servers, capsys):
    """Stop and start the broker on the same data dir: a running server re-declares its queue
    and consumes again, the client's next cast reconnects, later casts are delivered; casts
    that were waiting in a queue at the restart are lost with it (the queue is not durable)."""
    url = own_broker.url()
    servers(url, "worker-1")
    servers(url, "parked-worker", topic="lbaas_parked").stop()   # its queue now exists, idle
    bus, parked_bus = client_bus(url), client_bus(url, topic="lbaas_parked")
    before = ids(10)
    for lb_id in before:
        bus.reconcile(lb_id)
    for lb_id in ids(5):
        parked_bus.reconcile(lb_id)
    wait_received(servers.out, before)
    assert own_broker.queues()["lbaas_parked"] == (5, 0, False)

    begin = time.monotonic()
    own_broker.restart()
    restarted = time.monotonic()
    # the old node took the non-durable queues along; wait for the server to declare its own
    wait_for(lambda: own_broker.queues().get(TOPIC, (0, 0, False))[1] >= 1, 60,
             "the RPC server to reconnect and consume again", interval=0.2)
    consuming = time.monotonic()
    assert "lbaas_parked" not in own_broker.queues()     # its 5 waiting casts are gone
    after = ids(10)
    for lb_id in after:
        bus.reconcile(lb_id)           # the client's connection died with the node
    wait_received(servers.out, after)
    delivered = time.monotonic()
    assert sorted(lb for name, lb in received(servers.out) if name == "worker-1") == \
        sorted(before + after)
    with capsys.disabled():
        print(f"\nbroker restart: down and up again in {restarted - begin:.1f} s, server "
              f"consuming {consuming - restarted:.1f} s later, first casts after it delivered "
              f"in {delivered - consuming:.2f} s")
