"""Two `lbaas-worker` processes on one RabbitMQ and one PostgreSQL: each load balancer is
reconciled by one lease holder at a time, the work is spread over both, and when one worker
is SIGKILLed in the middle of reconciles the other takes its load balancers over once their
leases expire; and a worker paused (SIGSTOP) past its lease in the middle of a reconcile is
taken over, and changes nothing once it resumes.

The API is a real `lbaas-api`, the bus a real RabbitMQ (a virtual host of its own), the
database a real PostgreSQL. Compute, network and agent are the noop backends: this test is
about the control plane (who reconciles what), and the noop compute's boot delay stands in
for a cloud's boot time so that reconciles are under way when the worker dies.
"""
import collections
import concurrent.futures
import os
import re
import signal
import subprocess
import time
import uuid

import pytest
import requests
from sqlalchemy import create_engine, text

from tests.functional.scrape import value
from testbed.service import Service, clean_env, free_port, venv_command, wait_for

pytestmark = pytest.mark.functional

LEASE, RENEW, SWEEP, BOOT = 3.0, 0.5, 2, 0.4
RECONCILED = re.compile(r"reconciled load balancer (\S+) \(lease generation (\d+)\)")
REGISTERED = re.compile(r"amphora worker (\S+) registered")


class WorkerProcess(Service):
    """An `lbaas-worker`: ready once its log says it consumes from the bus."""

    def _answers(self):
        if self.proc.poll() is not None:
            raise RuntimeError(f"{self.name} exited with {self.proc.returncode}")
        with open(self.log_path, "rb") as f:
            return b"reconciling" in f.read()

    def log(self):
        with open(self.log_path, encoding="utf-8", errors="replace") as f:
            return f.read()

    @property
    def worker_id(self):
        return REGISTERED.search(self.log()).group(1)

    def reconciled(self):
        """[(load balancer id, lease generation)] in the order this worker reconciled them."""
        return [(m.group(1), int(m.group(2))) for m in RECONCILED.finditer(self.log())]

    def pause(self):
        os.kill(self.proc.pid, signal.SIGSTOP)

    def resume(self):
        os.kill(self.proc.pid, signal.SIGCONT)

    def kill(self):
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)
        if self in Service.running:
            Service.running.remove(self)


class Cluster:
    """lbaas-api and two lbaas-worker processes sharing a database and a bus."""

    def __init__(self, root, database_url, transport_url):
        self.root, self.database_url = str(root), database_url
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.config_path = os.path.join(self.root, "lbaas.conf")
        with open(self.config_path, "w") as f:
            f.write("\n".join([
                "[DEFAULT]", f"state_path = {self.root}/state",
                f"transport_url = {transport_url}",
                "[api_settings]", "bind_host = 127.0.0.1", f"bind_port = {self.port}",
                "enabled_provider_drivers = amphora:The amphora driver",
                "default_provider_driver = amphora",
                "[database]", f"connection = {database_url}",
                "[network]", "driver = noop",
                "[certificates]", "cert_manager = noop",
                "[amphora_compute]", "driver = noop", f"noop_boot_delay = {BOOT}",
                "[controller_worker]", "amphora_driver = amphora_noop_driver",
                f"lease_duration = {LEASE}", f"lease_renew_interval = {RENEW}",
                f"sweep_interval = {SWEEP}", "workers = 4",
                "[metrics]", "enabled = true", f"bind_port = {free_port()}", ""]))
        self.env = clean_env(PYTHONUNBUFFERED="1")
        self.engine = create_engine(database_url)
        self.api = self.workers = None

    def start(self):
        subprocess.run([venv_command("lbaas-db-manage"), "--config-file", self.config_path,
                        "upgrade", "head"], check=True, env=self.env, capture_output=True,
                       timeout=120)
        self.workers = [self._worker(name) for name in ("worker-a", "worker-b")]
        self.api = Service("lbaas-api", [venv_command("lbaas-api"), "--config-file",
                                         self.config_path, "--workers", "1"],
                           self.port, os.path.join(self.root, "lbaas-api.log"),
                           self.env).start()
        return self

    def live_workers(self, count):
        """At least `count` running workers (new ones started after earlier tests' kills)."""
        live = [w for w in self.workers if w.proc.poll() is None]
        while len(live) < count:
            live.append(self._worker(f"worker-{len(self.workers) + 1}"))
            self.workers.append(live[-1])
        return live

    def _worker(self, name):
        metrics_port = free_port()   # one each: two workers share this host
        worker = WorkerProcess(name, [venv_command("lbaas-worker"), "--config-file",
                                      self.config_path, "--metrics-port", str(metrics_port)],
                               0, os.path.join(self.root, f"{name}.log"), self.env).start()
        worker.metrics_url = f"http://127.0.0.1:{metrics_port}"
        return worker

    def stop(self):
        for service in [self.api, *(self.workers or [])]:
            if service is not None:
                service.stop()
        self.engine.dispose()

    def create_lbs(self, count, prefix):
        """Create `count` load balancers from 8 concurrent clients; -> their ids."""
        def create(i):
            body = {"loadbalancer": {"name": f"{prefix}{i}", "project_id": "scaleout",
                                     "vip_subnet_id": str(uuid.uuid4())}}
            resp = requests.post(f"{self.url}/v2/lbaas/loadbalancers", json=body, timeout=30)
            assert resp.status_code == 201, resp.text
            return resp.json()["loadbalancer"]["id"]
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            return list(pool.map(create, range(count)))

    def statuses(self, ids):
        """{id: provisioning_status} read from the database."""
        with self.engine.connect() as conn:
            rows = conn.execute(text("SELECT id, provisioning_status FROM load_balancer"))
            found = dict(rows.all())
        return {i: found.get(i) for i in ids}

    def amphorae(self, ids):
        """{id: number of amphora rows of that load balancer, DELETED ones included}."""
        with self.engine.connect() as conn:
            counts = dict(conn.execute(text(
                "SELECT loadbalancer_id, count(*) FROM amphora GROUP BY loadbalancer_id")).all())
        return {i: counts.get(i, 0) for i in ids}

    def held_by(self, worker_id):
        """Load balancers whose lease the worker holds now."""
        with self.engine.connect() as conn:
            return {r[0] for r in conn.execute(text(
                "SELECT loadbalancer_id FROM amphora_lease WHERE holder = :w"),
                {"w": worker_id})}

    def lease(self, loadbalancer_id):
        """(holder, generation) of the load balancer's lease row, or None."""
        with self.engine.connect() as conn:
            return conn.execute(text(
                "SELECT holder, generation FROM amphora_lease WHERE loadbalancer_id = :lb"),
                {"lb": loadbalancer_id}).first()

    def rows_of(self, loadbalancer_id):
        """(the load balancer's row, its amphora rows DELETED ones included) as tuples."""
        with self.engine.connect() as conn:
            lb = conn.execute(text("SELECT * FROM load_balancer WHERE id = :lb"),
                              {"lb": loadbalancer_id}).first()
            amps = conn.execute(text("SELECT * FROM amphora WHERE loadbalancer_id = :lb "
                                     "ORDER BY id"), {"lb": loadbalancer_id}).all()
        return tuple(lb), [tuple(a) for a in amps]

    def log_excerpt(self):
        return "\n".join(f"--- {s.name} ---\n{s.log_tail(4000)}"
                         for s in [self.api, *self.workers] if s is not None)


@pytest.fixture(scope="module")
def cluster(pg_cluster, rabbitmq_broker, tmp_path_factory):
    url = pg_cluster.create_database(f"scaleout_{os.getpid()}")
    env = Cluster(tmp_path_factory.mktemp("scaleout"), url, rabbitmq_broker.add_vhost())
    try:
        env.start()
        yield env
    except Exception:
        print(env.log_excerpt())
        raise
    finally:
        env.stop()


def _wait_active(cluster, ids, timeout):
    wait_for(lambda: set(cluster.statuses(ids).values()) == {"ACTIVE"}, timeout,
             f"{len(ids)} load balancers to be ACTIVE", interval=0.1)


def test_each_load_balancer_gets_one_amphora_and_both_workers_work(cluster, capsys):
    begin = time.monotonic()
    ids = cluster.create_lbs(24, "spread")
    try:
        _wait_active(cluster, ids, 60)
    except AssertionError:
        raise AssertionError(f"{cluster.statuses(ids)}\n{cluster.log_excerpt()}") from None
    took = time.monotonic() - begin
    # one owner at a time: never a second amphora row, not even one removed later
    assert set(cluster.amphorae(ids).values()) == {1}, cluster.amphorae(ids)
    done = {w.name: collections.Counter(lb for lb, _ in w.reconciled() if lb in ids)
            for w in cluster.workers}
    assert all(done.values()), done            # both workers reconciled some of them
    assert set(done["worker-a"]) | set(done["worker-b"]) == set(ids)
    assert not any("stopped reconciling" in w.log() for w in cluster.workers)
    # each worker's metrics port counts what its log says it reconciled, and once idle it
    # holds no lease and queues nothing; its /healthcheck sees the database and the bus
    for worker in cluster.workers:
        wait_for(lambda: value(worker.metrics_url, "lbaas_amphora_leases_held") == 0
                 and value(worker.metrics_url, "lbaas_amphora_reconcile_queue_depth") == 0,
                 10, f"{worker.name} to hold no lease and queue nothing", interval=0.1)
        assert value(worker.metrics_url, "lbaas_amphora_reconciles_total",
                     outcome="succeeded") == len(worker.reconciled())
        resp = requests.get(worker.metrics_url + "/healthcheck", timeout=10,
                            headers={"Accept": "application/json"})
        assert resp.status_code == 200, resp.text
        assert {"database: OK", "message bus: OK"} <= set(resp.json()["reasons"])
    with capsys.disabled():
        print(f"\n24 load balancers ACTIVE in {took:.1f} s on 2 workers "
              f"({BOOT} s noop boot each); reconciles: "
              + ", ".join(f"{n} {sum(c.values())}" for n, c in done.items()))


def test_a_killed_workers_load_balancers_are_taken_over_after_its_leases_expire(cluster,
                                                                                 capsys):
    doomed, survivor = cluster.workers[1], cluster.workers[0]
    ids = cluster.create_lbs(24, "takeover")
    # kill the worker while it holds leases: reconciles of its are under way
    wait_for(lambda: cluster.held_by(doomed.worker_id) & set(ids), 30,
             f"{doomed.name} to hold a lease", interval=0.02)
    doomed.kill()
    killed = time.monotonic()
    pending = {i for i, s in cluster.statuses(ids).items() if s != "ACTIVE"}
    # as the kill left them (one reported ACTIVE just before its release is done with)
    held = cluster.held_by(doomed.worker_id) & pending
    assert held, (cluster.held_by(doomed.worker_id), pending)
    try:
        _wait_active(cluster, ids, LEASE + SWEEP + 30)
    except AssertionError:
        raise AssertionError(f"{cluster.statuses(ids)}\n{cluster.log_excerpt()}") from None
    took = time.monotonic() - killed
    # within the lease's expiry and a sweep, plus the survivor's own reconciles of them
    budget = LEASE + SWEEP + BOOT * len(pending) / 4 + 3
    assert took <= budget, (took, budget)
    assert set(cluster.amphorae(ids).values()) == {1}, cluster.amphorae(ids)
    # the survivor took each of them over: a claim after the dead holder's, one generation on
    after = {lb: gen for lb, gen in survivor.reconciled() if lb in held}
    assert set(after) == held and min(after.values()) >= 2, after
    with capsys.disabled():
        print(f"\nworker SIGKILLed holding {len(held)} leases ({len(pending)} of 24 pending): "
              f"all ACTIVE {took:.1f} s later (lease {LEASE} s, sweep {SWEEP} s, "
              f"budget {budget:.1f} s)")


def _pause_holder_while_booting(cluster, workers):
    """Create a load balancer and SIGSTOP the worker holding its lease while its amphora
    boots (the noop boot delay: row BOOTING, no management address yet); -> (lb id, the
    paused worker, its lease generation), or None when the reconcile got past the boot
    before the pause (the caller tries again)."""
    by_id = {w.worker_id: w for w in workers}
    lb_id = cluster.create_lbs(1, "paused")[0]

    def booting():
        with cluster.engine.connect() as conn:
            return conn.execute(text(
                "SELECT a.id FROM amphora a JOIN amphora_lease l ON "
                "l.loadbalancer_id = a.loadbalancer_id WHERE a.loadbalancer_id = :lb AND "
                "a.status = 'BOOTING' AND a.lb_network_ip IS NULL AND l.holder IS NOT NULL"),
                {"lb": lb_id}).first()
    wait_for(booting, 30, "an amphora to boot", interval=0.01)
    holder, generation = cluster.lease(lb_id)
    paused = by_id[holder]
    paused.pause()
    if booting() is None or cluster.lease(lb_id) != (holder, generation):
        paused.resume()   # too late: its boot had ended; it finishes this one normally
        _wait_active(cluster, [lb_id], 30)
        return None
    return lb_id, paused, generation


def test_a_worker_paused_past_its_lease_is_taken_over_and_changes_nothing_on_resuming(
        cluster, capsys):
    workers = cluster.live_workers(2)
    for _ in range(3):
        found = _pause_holder_while_booting(cluster, workers)
        if found is not None:
            break
    else:
        pytest.fail("the lease holder could not be paused during the amphora's boot")
    lb_id, paused, generation = found
    paused_at = time.monotonic()
    try:
        try:
            _wait_active(cluster, [lb_id], LEASE + SWEEP + 30)
        except AssertionError:
            raise AssertionError(f"{cluster.statuses([lb_id])}\n{cluster.log_excerpt()}") \
                from None
        took = time.monotonic() - paused_at
        # taken over by another worker, one generation on, after the lease expired
        taker = [w for w in workers if w is not paused
                 and any(lb == lb_id and gen > generation for lb, gen in w.reconciled())]
        assert taker, cluster.log_excerpt()
        assert took >= LEASE - 0.5, took
        before = cluster.rows_of(lb_id)
        assert len(before[1]) == 1 and before[1][0] is not None, before
        time.sleep(1.1)   # rows keep updated_at in whole seconds: a write would show
    finally:
        paused.resume()
    wait_for(lambda: f"stopped reconciling load balancer {lb_id}" in paused.log(), 15,
             "the resumed worker to stop", interval=0.05)
    time.sleep(RENEW * 2)   # its renewal and sweep threads ran meanwhile too
    assert cluster.rows_of(lb_id) == before   # no new amphora row, no change to either row
    assert cluster.statuses([lb_id]) == {lb_id: "ACTIVE"}
    assert (lb_id, generation) not in paused.reconciled()
    with capsys.disabled():
        print(f"\nworker paused holding a booting load balancer: taken over and ACTIVE "
              f"{took:.1f} s later (lease {LEASE} s, sweep {SWEEP} s); resumed, it stopped "
              "with no write")
