"""A real Nova on a NeutronCloud: Placement, Glance and Nova (cells v2, fake virt driver).

`NovaCloud(neutron_cloud, mariadb_server, transport_url, state_dir).start()` adds to the
neutron cloud's Keystone the service users `nova`, `placement` and `glance` and the catalog
entries `compute`, `placement` and `image`; makes five databases on the session's MariaDB
(nova_api, nova_cell0, nova, placement, glance); registers each compute host as an OVN
chassis in the southbound database (so ML2/OVN binds Nova's ports to it: no ovn-controller
runs, see `add_chassis`); starts Placement, Glance and Nova at once; then waits until every
nova-compute has its resource provider in Placement, is `up` in Nova's service list and has
its host mapped to cell1 (by nova-scheduler's periodic discovery: a row of `host_mappings`
in the API database).

Use `connection(user)` (keystone.USERS, as NeutronCloud's) for an openstacksdk Connection
that finds Nova, Glance, Placement and Neutron through the catalog. docs/testing.md ("Nova")
has what was found and the timings.
"""
import os
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

from testbed.cloud import glance, keystone, nova, placement
from testbed.cloud.keystone import REGION, password
from testbed.service import wait_for

# Nova's user acts on Placement (resource providers, allocations) and on Neutron (port
# bindings: binding:host_id is admin-only); Placement's and Glance's validate tokens only.
SERVICE_USERS = {
    "nova": [("service", "admin"), ("service", "service")],
    "placement": [("service", "service")],
    "glance": [("service", "service")],
}
# One nova-compute per name, each an OVN chassis of that hostname; two, so that a server
# group with anti-affinity can place two servers (an ACTIVE_STANDBY pair).
HOSTS = ("nova-fake-1", "nova-fake-2")
# A fake chassis' nb_cfg: far ahead of any NB_Global nb_cfg Neutron will reach (add_chassis)
ALWAYS_ALIVE_NB_CFG = 1 << 60


def unavailable():
    """Why Nova, Placement or Glance cannot run here, or None."""
    return nova.unavailable() or glance.unavailable()


class NovaCloud:
    """Placement, Glance and Nova beside a started NeutronCloud (its Keystone and Neutron)."""

    def __init__(self, neutron_cloud, mariadb_server, transport_url, state_dir, hosts=HOSTS,
                 compute_driver="fake.FakeDriver", extra_compute_config="", suffix=None):
        """suffix: of the databases' names (default: this process's id)."""
        state_dir = Path(state_dir)
        self.neutron_cloud = neutron_cloud
        self.keystone = neutron_cloud.keystone
        self.hosts = tuple(hosts)
        suffix = suffix or os.getpid()
        self.mariadb = mariadb_server
        self.api_database = f"nova_api_{suffix}"
        db = {name: mariadb_server.create_database(f"{name}_{suffix}")
              for name in ("nova_api", "nova_cell0", "nova", "placement", "glance")}
        auth_url = self.keystone.auth_url
        self.placement = placement.Placement(state_dir / "placement", db["placement"],
                                             auth_url, password("placement"), region=REGION)
        self.glance = glance.Glance(state_dir / "glance", db["glance"], auth_url,
                                    password("glance"), region=REGION)
        self.nova = nova.Nova(
            state_dir / "nova",
            {"api": db["nova_api"], "cell0": db["nova_cell0"], "cell1": db["nova"]},
            transport_url, auth_url, password("nova"), hosts=self.hosts,
            compute_driver=compute_driver, region=REGION,
            extra_compute_config=extra_compute_config)
        self.timings = {}

    def start(self, timeout=180.0):
        """Everything at once, then wait for the computes and map them; returns self."""
        started = time.monotonic()
        try:
            with ThreadPoolExecutor(4) as pool:
                users = pool.submit(self._timed_call, "keystone users, catalog",
                                    self._populate)
                steps = [users, pool.submit(self.placement.start),
                         pool.submit(self.glance.start),
                         # Nova's daemons authenticate as they start: the user must exist
                         pool.submit(self.nova.start, users.result)]
                for host in self.hosts:
                    self.add_chassis(host)
                for step in steps:
                    step.result()
            wait_started = time.monotonic()
            self.wait_computes(timeout)
            self.timings["computes up and mapped"] = time.monotonic() - wait_started
        except BaseException:
            self.stop()
            raise
        for prefix, service in (("placement", self.placement), ("glance", self.glance),
                                ("nova", self.nova)):
            self.timings.update({f"{prefix} {k}": v for k, v in service.timings.items()})
        self.timings["total"] = time.monotonic() - started
        return self

    def _populate(self):
        """The service users and catalog entries; then one password login of each user, one
        at a time (see below)."""
        catalog = [("nova", "compute", self.nova.endpoint),
                   ("placement", "placement", self.placement.url),
                   ("glance", "image", self.glance.url)]
        # A second NovaCloud on the same Keystone replaces the first one's entries.
        for _, service_type, _ in catalog:
            for service in self.keystone.admin("GET", "/services",
                                               params={"type": service_type})["services"]:
                self.keystone.admin("DELETE", f"/services/{service['id']}")
        users = {name: grants for name, grants in SERVICE_USERS.items()
                 if not self.keystone.admin("GET", "/users", params={"name": name})["users"]}
        keystone.populate(self.keystone, users, catalog)
        # Keystone writes a user's last_active_at at its first login of the (UTC) day. On
        # SQLite (the neutron cloud's Keystone) two such writes at once fail with "database
        # is locked" (a 500): nova's conductor, scheduler and computes log in at the same
        # instant as they start, and one of them died of it. Logged in once here, later
        # logins of the day write nothing.
        for user in SERVICE_USERS:
            self.token(user, "service")

    def _timed_call(self, step, func, *args):
        started = time.monotonic()
        try:
            return func(*args)
        finally:
            self.timings[step] = time.monotonic() - started

    def add_chassis(self, host):
        """An OVN chassis whose hostname is `host`, so ML2/OVN binds ports to that host.

        Neutron lists a chassis as an "OVN Controller agent" and binds ports only to a live
        one: its Chassis_Private nb_cfg at most 1 behind NB_Global's, or its row changed
        less than agent_down_time (75 s) ago. ovn-controller would copy NB_Global's nb_cfg
        (which Neutron bumps now and then, e.g. when the agents are listed); none runs here,
        so the chassis' nb_cfg is set far ahead, where Neutron's check (a difference)
        always finds it alive. The encapsulation IP must be unique per chassis: a loopback
        address derived from the host name.
        """
        encap_ip = "127." + ".".join(
            str(byte) for byte in zlib.crc32(host.encode()).to_bytes(4, "big")[1:])
        ovn = self.neutron_cloud.ovn
        ovn.sbctl("--may-exist", "chassis-add", host, "geneve", encap_ip)
        ovn.sbctl("set", "Chassis", host, f"hostname={host}")
        if not ovn.sbctl("--bare", "--columns=_uuid", "find", "Chassis_Private",
                         f"name={host}").strip():
            chassis = ovn.sbctl("--bare", "--columns=_uuid", "find", "Chassis",
                                f"name={host}").strip()
            ovn.sbctl("create", "Chassis_Private", f"name={host}", f"chassis={chassis}")
        ovn.sbctl("set", "Chassis_Private", host, f"nb_cfg={ALWAYS_ALIVE_NB_CFG}")

    def wait_computes(self, timeout, hosts=None):
        """Until every host (default: self.hosts) has its resource provider in Placement, its nova-compute is `up`
        in Nova's service list and its host is mapped to cell1 (failing at once if a Nova
        daemon exited)."""
        token = self.token("nova", "service")
        hosts = set(hosts or self.hosts)

        def providers():  # each host's compute nodes (a node may be named otherwise)
            self.nova.check_daemons()
            nodes = requests.get(self.nova.endpoint + "/os-hypervisors/detail",
                                 headers={"X-Auth-Token": token,
                                          "OpenStack-API-Version": "compute 2.53"},
                                 timeout=30)
            nodes.raise_for_status()
            resp = requests.get(self.placement.url + "/resource_providers",
                                headers={"X-Auth-Token": token}, timeout=30)
            resp.raise_for_status()
            known = {rp["uuid"] for rp in resp.json()["resource_providers"]}
            return {node["service"]["host"] for node in nodes.json()["hypervisors"]
                    if node["id"] in known} >= hosts

        def services_up():
            self.nova.check_daemons()
            resp = requests.get(self.nova.endpoint + "/os-services",
                                params={"binary": "nova-compute"},
                                headers={"X-Auth-Token": token}, timeout=30)
            resp.raise_for_status()
            up = {s["host"] for s in resp.json()["services"] if s["state"] == "up"}
            return up >= hosts

        def mapped():
            self.nova.check_daemons()
            return set(self.mariadb.sql("SELECT host FROM host_mappings",
                                        self.api_database).split()) >= hosts

        wait_for(providers, timeout, f"the resource providers of {hosts}", 0.5)
        wait_for(services_up, timeout, f"nova-compute up on {hosts}", 0.5)
        wait_for(mapped, timeout, f"{hosts} mapped to cell1", 0.5)

    def stop(self):
        """Stop Nova, Glance and Placement (each even if another fails)."""
        try:
            self.nova.stop()
        finally:
            try:
                self.glance.stop()
            finally:
                self.placement.stop()

    def token(self, user, project):
        """A token of a user (keystone.USERS or SERVICE_USERS) scoped to a project."""
        return self.keystone.token(user, password(user), project=project)[0]

    def connection(self, user, project=None):
        """An openstacksdk Connection of a user of keystone.USERS (see NeutronCloud)."""
        return self.neutron_cloud.connection(user, project)

    def project_id(self, name):
        return self.keystone.ids[name]
