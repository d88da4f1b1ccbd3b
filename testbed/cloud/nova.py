"""A real Nova on loopback for the nova compute backend's tests: nova from PyPI in .venv-nova.

`scripts/setup.sh --test` installs it with Placement (testbed/cloud/placement.py), one venv.
`Nova(state_dir, databases, transport_url, auth_url, password, hosts).start()` writes
nova.conf, builds the three databases of cells v2 (the API database, cell0, cell1) and maps
the cells, then starts nova-api (the WSGI application `nova.wsgi.osapi_compute:application`
under gunicorn), nova-conductor, nova-scheduler and one nova-compute per host name, all at
once. Waiting for the computes is the caller's (testbed/cloud/nova_cloud.py): a compute is
ready when its resource provider is in Placement (which needs a token) and nova-scheduler's
periodic discovery has mapped its host to cell1 (a row of the API database).

Nova 34 runs the API, conductor, scheduler and compute in native threads by default (no
eventlet: `monkey_patch.patch(backend='threading')` in each entry point); nova-manage still
monkey-patches with eventlet. Each compute runs a virt driver (default `fake.FakeDriver`:
every spawn succeeds at once, 1000 vCPUs, 800000 MB of RAM, 600000 GB of disk) with
Neutron ports bound to its host name (`[DEFAULT] host`), which must be an OVN chassis'
hostname for ML2/OVN to bind them. The metadata API is not run. docs/testing.md ("Nova")
has the pitfalls and timings.
"""
import os
import shutil
import textwrap
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from testbed.cloud import openstack_service
from testbed.service import GunicornService, clean_env, free_port, venv_unavailable

ROOT = Path(__file__).resolve().parents[2]
# scripts/setup.sh --test makes it; LBAAS_NOVA_VENV names another (or a missing) one.
VENV = Path(os.environ.get("LBAAS_NOVA_VENV") or ROOT / ".venv-nova")
FAILED = VENV / ".lbaas-nova-failed"  # written by scripts/setup.sh when the install failed

WRAPPER = """\
import sys
sys.argv = sys.argv[:1]  # gunicorn's arguments are not nova's
from nova.wsgi.osapi_compute import application  # noqa: E402,F401
"""


def unavailable():
    """Why the real Nova (and Placement) cannot run here, or None when it can."""
    reason = venv_unavailable(VENV, FAILED, ("nova-manage", "nova-compute", "nova-conductor",
                                             "nova-scheduler", "placement-manage", "gunicorn"))
    if reason:
        return reason
    if not (VENV / "etc" / "nova" / "api-paste.ini").exists():
        return f"{VENV}/etc/nova/api-paste.ini is missing (reinstall nova)"
    return None


class Nova(openstack_service.Timed):
    """nova-api, nova-conductor, nova-scheduler and nova-compute(s): one state directory.

    databases: SQLAlchemy URLs of three empty MariaDB databases, {"api": ..., "cell0": ...,
    "cell1": ...}. transport_url: a RabbitMQ virtual host of their own. auth_url: Keystone's
    v3 URL; `username`/`password` are Nova's service user there (it also acts on Placement
    and Neutron: admin and service on project `service`). hosts: one nova-compute per name.
    compute_driver: `fake.FakeDriver`, or another of nova.virt (`extra_compute_config` is
    added to each compute's file, e.g. a [libvirt] section).
    """

    def __init__(self, state_dir, databases, transport_url, auth_url, password,
                 hosts=("nova-fake-1",), compute_driver="fake.FakeDriver", username="nova",
                 region="RegionOne", threads=4, extra_compute_config=""):
        super().__init__()
        self.dir = Path(state_dir)
        self.databases = dict(databases)
        self.transport_url = transport_url
        self.auth_url, self.username, self.password, self.region = (auth_url, username,
                                                                    password, region)
        self.hosts = tuple(hosts)
        self.compute_driver = compute_driver
        self.extra_compute_config = extra_compute_config
        self.threads = threads
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.endpoint = self.url + "/v2.1"  # the catalog's compute URL
        self.conf_path = self.dir / "nova.conf"
        self.db_conf_path = self.dir / "db.conf"
        self.api = None
        self.daemons = {}  # name (conductor, scheduler, compute-<host>) -> Daemon

    # --- set-up ------------------------------------------------------------------------------

    def write_config(self):
        """nova.conf, db.conf, cell0.conf, compute-<host>.conf, api-paste.ini, the wrapper."""
        for sub in ("state", "instances", "lock"):
            (self.dir / sub).mkdir(parents=True, exist_ok=True)
        auth = (self.auth_url, self.username, self.password, self.region)
        self.conf_path.write_text(textwrap.dedent(f"""\
            [DEFAULT]
            debug = false
            use_stderr = true
            transport_url = {self.transport_url}
            compute_driver = {self.compute_driver}
            state_path = {self.dir / "state"}
            instances_path = {self.dir / "instances"}
            my_ip = 127.0.0.1
            # the compute API only: no metadata API
            enabled_apis = osapi_compute
            # a stop waits at most this long for RPC calls in flight (default 180 s)
            graceful_shutdown_timeout = 5
            # periodic tasks start at once, not after a random delay of up to 60 s: the
            # scheduler's host discovery below waited 44 s for its first run
            periodic_fuzzy_delay = 0

            [api]
            auth_strategy = keystone

            [conductor]
            workers = 1

            [scheduler]
            workers = 1
            # maps each new compute host to cell1 (nova-manage cell_v2 discover_hosts takes
            # 10-17 s here, mostly its imports); a query of cell1's unmapped nodes each time
            discover_hosts_in_cells_interval = 2

            [glance]
            region_name = {self.region}
            valid_interfaces = public

            [vnc]
            enabled = false

            [oslo_concurrency]
            lock_path = {self.dir / "lock"}

            """)
            + openstack_service.authtoken(*auth) + "\n"
            + openstack_service.keystone_auth("placement", *auth) + "\n"
            + openstack_service.keystone_auth("neutron", *auth) + "\n"
            # Neutron lets only a request with a service token (role service) delete or
            # unbind a compute port: without it a server's delete fails with "rule:delete_port
            # is disallowed by policy" and the server goes ERROR
            + openstack_service.keystone_auth("service_user", *auth)
            + "send_service_user_token = true\n")
        # The databases, for every process but nova-compute: a compute with a [database]
        # connection logs "No DB access allowed in nova-compute" (it must use the conductor).
        self.db_conf_path.write_text(textwrap.dedent(f"""\
            [api_database]
            connection = {self.databases["api"]}

            [database]
            connection = {self.databases["cell1"]}
            """))
        (self.dir / "cell0.conf").write_text(
            f"[database]\nconnection = {self.databases['cell0']}\n")
        for host in self.hosts:
            (self.dir / f"compute-{host}").mkdir(exist_ok=True)
            self.compute_conf(host).write_text(textwrap.dedent(f"""\
                [DEFAULT]
                host = {host}
                # the node's identity (compute_id) is kept here: one directory per compute
                state_path = {self.dir / f"compute-{host}"}
                """) + textwrap.dedent(self.extra_compute_config))
        shutil.copy(VENV / "etc" / "nova" / "api-paste.ini", self.dir / "api-paste.ini")
        (self.dir / "nova_wsgi_wrapper.py").write_text(WRAPPER)

    def compute_conf(self, host):
        return self.dir / f"compute-{host}.conf"

    def add_compute(self, host, config, env=None):
        """Start one more nova-compute (Nova already serving) with its own file: `host`
        as [DEFAULT] host and state_path, then `config` (e.g. another driver); -> Daemon.
        env: more environment variables for it."""
        (self.dir / f"compute-{host}").mkdir(exist_ok=True)
        self.compute_conf(host).write_text(textwrap.dedent(f"""\
            [DEFAULT]
            host = {host}
            state_path = {self.dir / f"compute-{host}"}
            """) + textwrap.dedent(config))
        daemon = openstack_service.Daemon(
            f"nova-compute {host}",
            [VENV / "bin" / "nova-compute", "--config-file", self.conf_path,
             "--config-file", self.compute_conf(host)],
            self.dir / f"nova-compute-{host}.log", dict(self._env(), **(env or {}))).start()
        self.daemons[f"compute-{host}"] = daemon
        return daemon

    def _env(self):
        # the first file is the paste file the application loads; the rest are oslo.config's
        return clean_env(OS_NOVA_CONFIG_DIR=str(self.dir),
                         OS_NOVA_CONFIG_FILES="api-paste.ini;nova.conf;db.conf",
                         PYTHONDONTWRITEBYTECODE="1")

    def manage(self, *args, conf=()):
        """`nova-manage --config-file nova.conf --config-file db.conf [--config-file C...]
        ARGS`; its output."""
        files = [arg for path in (self.conf_path, self.db_conf_path, *conf)
                 for arg in ("--config-file", path)]
        return openstack_service.run([VENV / "bin" / "nova-manage", *files, *args],
                                     self._env())

    def migrate(self):
        """The three schemas at once (each database on its own: `db sync --local_cell`
        for cell1 and, through cell0.conf, for cell0); cell0's and cell1's mappings as soon
        as the API database has its schema."""
        with self.timed("db sync (api, cell0, cell1), map cells"), \
                ThreadPoolExecutor(4) as pool:
            steps = [pool.submit(self.manage, "db", "sync", "--local_cell"),
                     pool.submit(self.manage, "db", "sync", "--local_cell",
                                 conf=(self.dir / "cell0.conf",))]
            self.manage("api_db", "sync")
            steps += [pool.submit(self.manage, "cell_v2", "map_cell0", "--database_connection",
                                  self.databases["cell0"]),
                      pool.submit(self.manage, "cell_v2", "create_cell", "--name", "cell1")]
            for step in steps:
                step.result()

    def serve(self, timeout=120.0):
        """nova-conductor, nova-scheduler and the computes, then gunicorn with nova-api;
        returns once the API answers `GET /` (the computes may still be starting)."""
        bin_dir = VENV / "bin"
        conf = ("--config-file", self.conf_path)
        db_conf = ("--config-file", self.db_conf_path)
        self.daemons["conductor"] = openstack_service.Daemon(
            "nova-conductor", [bin_dir / "nova-conductor", *conf, *db_conf],
            self.dir / "nova-conductor.log", self._env()).start()
        self.daemons["scheduler"] = openstack_service.Daemon(
            "nova-scheduler", [bin_dir / "nova-scheduler", *conf, *db_conf],
            self.dir / "nova-scheduler.log", self._env()).start()
        for host in self.hosts:
            self.daemons[f"compute-{host}"] = openstack_service.Daemon(
                f"nova-compute {host}",
                [bin_dir / "nova-compute", *conf, "--config-file", self.compute_conf(host)],
                self.dir / f"nova-compute-{host}.log", self._env()).start()
        self.api = GunicornService(
            "nova-api", openstack_service.gunicorn_argv(
                VENV, self.dir, self.port, "nova_wsgi_wrapper:application",
                threads=self.threads),
            self.port, self.dir / "nova-api.log", env=self._env())
        with self.timed("nova-api start"):
            self.api.start(timeout)
        return self

    def start(self, before_serve=None):
        """Configure, migrate, map the cells and start every process; returns self.
        before_serve: called (waited for) between the migration and the processes' start."""
        self.write_config()
        self.migrate()
        if before_serve is not None:
            before_serve()
        return self.serve()

    def check_daemons(self):
        """Fail with its log when a conductor, scheduler or compute has exited."""
        for daemon in self.daemons.values():
            daemon.check()

    def stop(self):
        """SIGTERM to every daemon at once, gunicorn's SIGINT to the API, then wait."""
        for daemon in self.daemons.values():
            daemon.terminate()
        try:
            if self.api is not None:
                self.api.stop()
        finally:
            for daemon in self.daemons.values():
                daemon.stop()

    def log_tail(self, limit=20000):
        return self.api.log_tail(limit) if self.api else "(not started)"
