"""The amphora provider as separate processes: lbaas-api under gunicorn, lbaas-worker,
lbaas-health, RabbitMQ and PostgreSQL; and a worker killed in the middle of reconciles.

Nothing runs in-process: the API casts reconcile requests over the session's real
RabbitMQ (a virtual host of its own), the worker builds amphorae in namespaces, the
health manager receives their heartbeats on the management bridge.
"""
import os
import signal
import subprocess

import pytest

from testbed import backends
from tests.functional.amphora_env import BACKEND_PORT, AmphoraEnv, wait_until
from testbed.service import Service, clean_env, venv_command

pytestmark = pytest.mark.functional

HM = {"type": "HTTP", "delay": 1, "timeout": 1, "max_retries": 1, "max_retries_down": 2,
      "url_path": "/health", "http_method": "GET", "expected_codes": "200"}


class LoggedService(Service):
    """A service without an HTTP port: ready once its log shows `marker`."""

    def __init__(self, name, argv, marker, log_path, env=None):
        super().__init__(name, argv, 0, log_path, env)
        self.marker = marker

    def _answers(self):
        if self.proc.poll() is not None:
            raise RuntimeError(f"{self.name} exited with {self.proc.returncode}")
        with open(self.log_path, "rb") as f:
            return self.marker.encode() in f.read()

    def kill(self):
        """SIGKILL the process (and nothing it spawned into other sessions)."""
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)
        if self in Service.running:
            Service.running.remove(self)


class SplitEnv(AmphoraEnv):
    """AmphoraEnv with the API, the worker and the health manager as their own processes."""

    def __init__(self, root, database_url, transport_url):
        super().__init__(root, database_url, "split", {"DEFAULT": {
            "transport_url": transport_url}})
        self.hm_host = str(next(self.mgmt_cidr.hosts()))
        self.extra_config["health_manager"] = {"bind_ip": self.hm_host,
                                               "controller_ip_port_list":
                                               f"{self.hm_host}:{self.hm_port}"}
        self.worker = self.health = None

    def start(self):
        os.makedirs(self.state_path, exist_ok=True)
        self.config_path = os.path.join(self.root, "lbaas.conf")
        with open(self.config_path, "w") as f:
            f.write(self.config_text())
        env = clean_env(PYTHONUNBUFFERED="1")
        subprocess.run([venv_command("lbaas-db-manage"), "--config-file", self.config_path,
                        "upgrade", "head"], check=True, env=env, capture_output=True,
                       timeout=120)
        self.worker = self._worker().start()   # makes the management bridge and its address
        self.health = LoggedService(
            "lbaas-health", [venv_command("lbaas-health"), "--config-file", self.config_path],
            "receiving heartbeats", os.path.join(self.root, "lbaas-health.log"), env).start()
        self.service = Service("lbaas-api", [venv_command("lbaas-api"), "--config-file",
                                             self.config_path, "--workers", "2"],
                               self.port, os.path.join(self.root, "lbaas-api.log"), env).start()
        self.vip_subnet_id = self.subnet_id(self.vip_subnet_name)
        self.member_subnet_id = self.subnet_id(self.member_subnet_name)
        return self

    def _worker(self):
        return LoggedService("lbaas-worker", [venv_command("lbaas-worker"), "--config-file",
                                              self.config_path],
                             "reconciling", os.path.join(self.root, "lbaas-worker.log"),
                             clean_env(PYTHONUNBUFFERED="1"))

    def restart_worker(self):
        self.worker = self._worker().start()

    def stop(self):
        try:
            if self.service is not None and self.service.proc.poll() is None:
                for lb in self.get("/v2/lbaas/loadbalancers")["loadbalancers"]:
                    self.delete_lb(lb["id"])
        finally:
            for service in (self.worker, self.health):
                if service is not None:
                    service.stop()
            super().stop()

    def log_excerpt(self, limit=6000):
        parts = [super().log_excerpt(limit)] if self.service is not None else []
        for service in (self.worker, self.health):
            if service is not None:
                parts.append(f"--- {service.name} log ---\n{service.log_tail(limit)}")
        return "\n".join(parts)


@pytest.fixture(scope="module")
def split(amphora_host, pg_cluster, rabbitmq_broker, tmp_path_factory):
    url = pg_cluster.create_database(f"amphora_split_{os.getpid()}")
    env = SplitEnv(tmp_path_factory.mktemp("amphora-split"), url, rabbitmq_broker.add_vhost())
    try:
        env.start()
        yield env
    except Exception:
        print(env.log_excerpt())
        raise
    finally:
        env.stop()


def _graph(env, name, members):
    pool = {"name": f"{name}-pool", "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN",
            "healthmonitor": dict(HM),
            "members": [{"address": env.member_host(200 + k), "protocol_port": BACKEND_PORT,
                         "subnet_id": env.member_subnet_id} for k in members]}
    return {"loadbalancer": {"name": name, "vip_subnet_id": env.vip_subnet_id, "listeners": [
        {"protocol": "HTTP", "protocol_port": 80, "connection_limit": 500,
         "default_pool": pool}]}}


def test_api_worker_and_health_as_processes_carry_traffic(split):
    for k, name in ((1, "alpha"), (2, "beta")):
        split.backend(name, k)
    lb = split.post("/v2/lbaas/loadbalancers", _graph(split, "split", (1, 2)))["loadbalancer"]
    lb = split.wait_active("loadbalancers", lb["id"])
    split.remember_amphorae(lb["id"])
    split.wait_vip(lb["vip_address"])
    seen = backends.names(lb["vip_address"], 20, "/", 80)
    assert sorted(set(seen)) == ["alpha", "beta"] and seen.count("alpha") == 10
    # the health manager (its own process) turns heartbeats into operating statuses
    pool_id = split.show("loadbalancers", lb["id"])["pools"][0]["id"]
    for member in split.get(f"/v2/lbaas/pools/{pool_id}/members")["members"]:
        split.wait_operating("members", member["id"], "ONLINE", member_of=pool_id)
    stats = wait_until(lambda: (s := split.get(f"/v2/lbaas/loadbalancers/{lb['id']}/stats")
                                ["stats"])["total_connections"] >= 20 and s, 15,
                       "heartbeat statistics to count the 20 requests")
    assert stats["bytes_out"] > 0
    # the worker holds a lease (the bus is RabbitMQ): its agent recorded its generation
    _assert_fenced_by_the_lease(split, lb["id"])


def _assert_fenced_by_the_lease(env, lb_id):
    """The amphora's agent has seen exactly the lease generation of the last reconcile."""
    import json

    import sqlalchemy

    from lbaas.drivers.amphora.compute.local import short_id
    engine = sqlalchemy.create_engine(env.database_url)
    try:
        with engine.connect() as conn:
            generation = conn.execute(sqlalchemy.text(
                "SELECT generation FROM amphora_lease WHERE loadbalancer_id = :id"),
                {"id": lb_id}).scalar_one()
    finally:
        engine.dispose()
    [amphora] = env.get(f"/v2/octavia/amphorae?loadbalancer_id={lb_id}")["amphorae"]
    with open(os.path.join(env.amphora_dir, short_id(amphora["id"]), "lb",
                           "fences.json")) as f:
        assert json.load(f) == {lb_id: generation}


def test_a_worker_killed_mid_reconcile_is_healed_by_its_successor(split):
    for k, name in ((3, "gamma"), (4, "delta")):
        split.backend(name, k)
    lbs = [split.post("/v2/lbaas/loadbalancers", _graph(split, f"crash{i}", (3, 4)))
           ["loadbalancer"] for i in range(3)]
    # kill the worker as soon as the first amphora namespace of these exists: reconciles
    # are under way, and the others are queued or not even received
    wait_until(lambda: any(split.get(f"/v2/octavia/amphorae?loadbalancer_id={lb['id']}")
                           ["amphorae"] for lb in lbs), 30, "a first amphora to be recorded")
    split.worker.kill()
    states = [split.show("loadbalancers", lb["id"])["provisioning_status"] for lb in lbs]
    assert "PENDING_CREATE" in states, states   # the kill did interrupt something
    split.restart_worker()   # its start-up sweep finds what is PENDING and finishes it
    for lb in lbs:
        done = wait_until(lambda: split.show("loadbalancers", lb["id"])["provisioning_status"]
                          in ("ACTIVE", "ERROR") and split.show("loadbalancers", lb["id"]),
                          90, f"load balancer {lb['id']} to reach ACTIVE or ERROR")
        split.remember_amphorae(lb["id"])
        assert done["provisioning_status"] == "ACTIVE", split.log_excerpt()
        split.wait_vip(done["vip_address"])
        assert set(backends.names(done["vip_address"], 6, "/", 80)) == {"gamma", "delta"}
    # one amphora per load balancer, and no namespace the database does not know
    amphorae = [a for lb in lbs for a in
                split.get(f"/v2/octavia/amphorae?loadbalancer_id={lb['id']}")["amphorae"]]
    assert len(amphorae) == 3 and all(a["status"] == "ALLOCATED" for a in amphorae)
    known = {a["id"] for a in split.get("/v2/octavia/amphorae")["amphorae"]}
    on_disk = {e[:-5] for e in os.listdir(split.amphora_dir) if e.endswith(".json")}
    assert on_disk <= known, on_disk - known
