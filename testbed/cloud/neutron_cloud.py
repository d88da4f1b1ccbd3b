"""A cloud with a real Neutron: Keystone, OVN's NB and SB databases, Neutron (ML2/OVN) on MariaDB.

Keystone (testbed/cloud/keystone.py) holds the users of keystone.USERS plus Neutron's
service user, and its catalog has one `network` service: this Neutron. OVN runs its two
databases and ovn-northd (testbed/cloud/ovn_nb.py; Neutron needs the NB_Global row northd makes),
but no ovn-vswitchd and no ovn-controller, so no chassis: no port is ever bound (ports stay
DOWN). What Neutron writes to the northbound database (logical switches and their ports,
routers, port groups and ACLs, DHCP options, QoS rows) is there to read, and northd turns it
into southbound datapaths and logical flows. A test that needs the data plane passes
`ovn_stack=` an OvnStack (testbed/ovn_stack.py, not started): Neutron then runs on its NB/SB,
where ovs-vswitchd and ovn-controller run, so ports bound to this host
(testbed/cloud/neutron_dataplane.py) carry traffic. The session fixture `neutron_cloud`
does so wherever an OvnStack can run: one cloud serves the control-plane and the
data-plane tests.

Keystone and Neutron start at once: Neutron's schema migration and application load need no
Keystone (auth_token looks it up on the first request), and the catalog entry needs only
Neutron's port, chosen in advance.
"""
import time
import types
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from testbed.cloud import keystone, neutron, ovn_nb
from testbed.cloud.keystone import REGION, USERS, Keystone, password

# keystone.USERS, plus Neutron's own user for auth_token (role service: it may validate
# tokens, and nothing more).
NEUTRON_USERS = dict(USERS, neutron=[("service", "service")])


class NeutronCloud:
    """Keystone + OVN databases + Neutron, started together; `connection()` for openstacksdk.

    database: the URL of an empty MariaDB database for Neutron (MariaDB is Neutron's one
    supported database; `mariadb_server.create_database(name)` makes one).
    """

    def __init__(self, state_dir, database, ovn_stack=None):
        state_dir = Path(state_dir)
        self.keystone = Keystone(state_dir / "keystone")
        self.stack = ovn_stack
        if ovn_stack is None:
            self.ovn = ovn_nb.Databases(state_dir / "ovn")
            self.northd = ovn_nb.Northd(self.ovn)
            (state_dir / "ovn").mkdir(parents=True, exist_ok=True)
        else:  # the stack runs its own databases and northd
            self.ovn = _StackDatabases(ovn_stack)
            self.northd = None
        self.neutron = neutron.Neutron(
            state_dir / "neutron", database, auth_url=self.keystone.auth_url,
            ovn_nb=self.ovn.nb.connection, ovn_sb=self.ovn.sb.connection,
            password=password("neutron"), region=REGION)
        self.timings = {}
        self._tokens = {}

    @property
    def auth_url(self):
        return self.keystone.auth_url

    def start(self):
        """The OVN databases and northd, then Keystone (+ users and catalog) beside Neutron."""
        started = time.monotonic()
        try:
            if self.stack is None:
                self.ovn.start()
                self.northd.start()
            else:
                self.stack.start()
            self.timings["ovn"] = time.monotonic() - started
            with ThreadPoolExecutor(2) as pool:
                neutron_started = pool.submit(self.neutron.start)
                self.keystone.start()
                with self.keystone.timed("users, projects, catalog"):
                    keystone.populate(self.keystone, NEUTRON_USERS,
                                      [("neutron", "network", self.neutron.url)])
                neutron_started.result()
        except BaseException:
            self.stop()
            raise
        self.timings.update({f"keystone {k}": v for k, v in self.keystone.timings.items()})
        self.timings.update({f"neutron {k}": v for k, v in self.neutron.timings.items()})
        self.timings["total"] = time.monotonic() - started
        return self

    def stop(self):
        """Stop Neutron, Keystone, northd and the OVN databases, or the OVN stack (each even
        if another fails)."""
        try:
            self.neutron.stop()
        finally:
            try:
                self.keystone.stop()
            finally:
                if self.stack is not None:
                    self.stack.stop()
                else:
                    try:
                        self.northd.stop()
                    finally:
                        self.ovn.stop()

    def project_id(self, name):
        return self.keystone.ids[name]

    def connection(self, user, project=None):
        """An openstacksdk Connection of a user (keystone.USERS) scoped to a project (default:
        the first of its grants), finding Neutron through the catalog; nothing read from the
        environment or a clouds.yaml."""
        from openstack import connection
        if project is None:
            project = NEUTRON_USERS[user][0][0]
        return connection.Connection(
            auth_type="password", region_name=REGION, identity_api_version="3",
            auth={"auth_url": self.auth_url, "username": user, "password": password(user),
                  "project_name": project, "user_domain_name": "Default",
                  "project_domain_name": "Default"})

    def token(self, user, project=None):
        """A token of the user scoped to a project (default: the first of its grants), cached."""
        if project is None:
            project = NEUTRON_USERS[user][0][0]
        key = (user, project)
        if key not in self._tokens:
            self._tokens[key] = self.keystone.token(user, password(user), project=project)[0]
        return self._tokens[key]


class _StackDatabases:
    """An OvnStack's NB and SB seen as ovn_nb.Databases are (`nb.connection`, nbctl, sbctl)."""

    def __init__(self, stack):
        self.stack = stack
        self.nb = types.SimpleNamespace(connection=stack.nb)
        self.sb = types.SimpleNamespace(connection=stack.sb)

    def nbctl(self, *args):
        return self.stack.nbctl(*args)

    def sbctl(self, *args):
        return self.stack.sbctl(*args)
