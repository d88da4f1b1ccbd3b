"""A real Neutron on loopback for the network backend's tests: neutron from PyPI in .venv-neutron.

`scripts/setup.sh --test` installs it (its own venv: neutron pins much of the oslo stack).
`Neutron(state_dir, database, auth_url, ovn_nb, ovn_sb).start()` writes neutron.conf and
ml2_conf.ini (ML2 with the OVN mechanism driver, the ovn-router and qos service plugins,
keystonemiddleware against `auth_url`), runs `neutron-db-manage upgrade heads` on the
database (MariaDB: Neutron supports no other), then serves the API under gunicorn on a free
port of 127.0.0.1 and waits until `GET /` answers.

Neutron 29 has no eventlet server any more (no `neutron-server` script): the API is the WSGI
application `neutron.wsgi.api:application`, which parses sys.argv as oslo.config arguments
(gunicorn's, under gunicorn: the wrapper module empties it) and reads its configuration files
from OS_NEUTRON_CONFIG_DIR and OS_NEUTRON_CONFIG_FILES. The OVN driver's hash ring must know
how many API processes there are; it asks uWSGI or mod_wsgi, else reads ASGI_WORKERS, which
the environment sets to gunicorn's worker count. Its API workers elect a first worker through
files in the temporary directory, so TMPDIR points into the state directory.

Only the API process runs: no neutron-rpc-server (no agent exists: ML2/OVN programs OVN
itself, from the API process), no neutron-periodic-workers and no
neutron-ovn-maintenance-worker (it periodically repairs NB rows that drift from the database
and applies some NB_Global settings). RPC casts go to oslo.messaging's in-process `fake`
transport, where nobody listens. docs/testing.md ("Neutron") has the pitfalls and timings.
"""
import os
import shutil
import subprocess
import textwrap
from pathlib import Path

from testbed.cloud import openstack_service
from testbed.service import GunicornService, clean_env, free_port, venv_unavailable

ROOT = Path(__file__).resolve().parents[2]
# scripts/setup.sh --test makes it; LBAAS_NEUTRON_VENV names another (or a missing) one.
VENV = Path(os.environ.get("LBAAS_NEUTRON_VENV") or ROOT / ".venv-neutron")
FAILED = VENV / ".lbaas-neutron-failed"  # written by scripts/setup.sh when the install failed

# Service plugins beyond Neutron's defaults (which bring tags, timestamps, revisions, network
# IP availability, flavors, auto-allocated topology): routers and floating IPs programmed into
# OVN, and QoS policies.
SERVICE_PLUGINS = ("ovn-router", "qos")
# ML2 extension drivers: port_security (allowed_address_pairs needs it on a port), qos.
EXTENSION_DRIVERS = ("port_security", "qos")

WRAPPER = """\
import sys
sys.argv = sys.argv[:1]  # gunicorn's arguments are not neutron's
from neutron.wsgi.api import application  # noqa: E402,F401
"""


def unavailable():
    """Why the real Neutron cannot run here, or None when it can."""
    reason = venv_unavailable(VENV, FAILED, ("neutron-db-manage", "gunicorn"))
    if reason:
        return reason
    if not (VENV / "etc" / "neutron" / "api-paste.ini").exists():
        return f"{VENV}/etc/neutron/api-paste.ini is missing (reinstall neutron)"
    return None


class Neutron(openstack_service.Timed):
    """One Neutron API: a state directory, its configuration, a gunicorn process.

    database: an SQLAlchemy URL of an empty MariaDB database (mysql+pymysql). auth_url:
    Keystone's v3 URL; `username`/`password` are Neutron's own service user there (a
    `service` role on the `service` project lets auth_token validate tokens). ovn_nb, ovn_sb:
    OVSDB connection strings of OVN's northbound and southbound databases.
    """

    def __init__(self, state_dir, database, auth_url, ovn_nb, ovn_sb, password,
                 username="neutron", region="RegionOne", workers=1, threads=4):
        self.dir = Path(state_dir)
        self.database = database
        self.auth_url = auth_url
        self.ovn_nb, self.ovn_sb = ovn_nb, ovn_sb
        self.username, self.password, self.region = username, password, region
        self.workers, self.threads = workers, threads
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.conf_path = self.dir / "neutron.conf"
        self.ml2_conf_path = self.dir / "ml2_conf.ini"
        self.service = None
        super().__init__()   # timings: step -> seconds

    # --- set-up ------------------------------------------------------------------------------

    def write_config(self):
        """neutron.conf, ml2_conf.ini, api-paste.ini (found beside them) and the WSGI wrapper."""
        for sub in ("state", "lock", "tmp"):
            (self.dir / sub).mkdir(parents=True, exist_ok=True)
        self.conf_path.write_text(textwrap.dedent(f"""\
            [DEFAULT]
            debug = false
            use_stderr = true
            core_plugin = ml2
            service_plugins = {",".join(SERVICE_PLUGINS)}
            auth_strategy = keystone
            state_path = {self.dir / "state"}
            # No agent listens: ML2/OVN programs OVN from this process.
            transport_url = fake:/
            dhcp_agent_notification = false
            # No Nova to tell about port changes.
            notify_nova_on_port_status_changes = false
            notify_nova_on_port_data_changes = false

            [database]
            connection = {self.database}

            [keystone_authtoken]
            www_authenticate_uri = {self.auth_url}
            auth_url = {self.auth_url}
            auth_type = password
            username = {self.username}
            password = {self.password}
            project_name = service
            user_domain_name = Default
            project_domain_name = Default
            region_name = {self.region}
            # no memcached_servers: tokens are cached in the process

            [oslo_concurrency]
            lock_path = {self.dir / "lock"}
            """))
        self.ml2_conf_path.write_text(textwrap.dedent(f"""\
            [ml2]
            type_drivers = geneve,flat
            project_network_types = geneve
            mechanism_drivers = ovn
            extension_drivers = {",".join(EXTENSION_DRIVERS)}
            overlay_ip_version = 4

            [ml2_type_geneve]
            vni_ranges = 1:65536
            # OVN's Geneve header needs 38 bytes; the ovn driver refuses to start on less.
            max_header_size = 38

            [ml2_type_flat]
            # external (provider) networks for floating IPs, on any physical network name
            flat_networks = *

            [ovn]
            ovn_nb_connection = {self.ovn_nb}
            ovn_sb_connection = {self.ovn_sb}
            ovn_metadata_enabled = false
            """))
        shutil.copy(VENV / "etc" / "neutron" / "api-paste.ini", self.dir / "api-paste.ini")
        (self.dir / "neutron_wsgi_wrapper.py").write_text(WRAPPER)

    def _env(self):
        return clean_env(OS_NEUTRON_CONFIG_DIR=str(self.dir),
                         OS_NEUTRON_CONFIG_FILES=f"{self.conf_path.name};{self.ml2_conf_path.name}",
                         ASGI_WORKERS=str(self.workers),  # the hash ring's API worker count
                         TMPDIR=str(self.dir / "tmp"),
                         PYTHONDONTWRITEBYTECODE="1")

    def upgrade(self, timeout=600):
        """`neutron-db-manage upgrade heads`: the whole schema; fail with its output."""
        with self.timed("db upgrade"):
            proc = subprocess.run(
                [str(VENV / "bin" / "neutron-db-manage"), "--config-file", str(self.conf_path),
                 "--config-file", str(self.ml2_conf_path), "upgrade", "heads"],
                env=self._env(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT, text=True, timeout=timeout, check=False)
        if proc.returncode != 0:
            raise RuntimeError(f"neutron-db-manage upgrade heads exited {proc.returncode}:\n"
                               f"{proc.stdout[-5000:]}")

    def serve(self, timeout=120.0):
        """Start gunicorn on the prepared state; returns once `GET /` answers."""
        argv = [str(VENV / "bin" / "gunicorn"), "--chdir", str(self.dir),
                "-b", f"127.0.0.1:{self.port}", "-w", str(self.workers), "-k", "gthread",
                "--threads", str(self.threads), "--timeout", "120",
                "--no-control-socket",  # gunicorn 23+'s default socket is one per user
                "--graceful-timeout", "5", "neutron_wsgi_wrapper:application"]
        self.service = GunicornService("neutron", argv, self.port, self.dir / "neutron.log",
                                       env=self._env())
        with self.timed("gunicorn start"):
            self.service.start(timeout)
        return self

    def start(self, timeout=120.0):
        """Configure, build the schema and serve; returns self."""
        self.write_config()
        self.upgrade()
        return self.serve(timeout)

    def stop(self):
        if self.service is not None:
            self.service.stop()

    def log_tail(self, limit=20000):
        return self.service.log_tail(limit) if self.service else "(not started)"

