"""Shared fixtures: one PostgreSQL cluster and one MariaDB server per session; the API on
SQLite and on PostgreSQL; one RabbitMQ node per session (shared by the xdist workers) with a virtual host per test."""
import os
import re
import time
import uuid

import pytest

from lbaas import conf as lbaas_conf
from lbaas.db import migrate
from testbed import mariadb, pg
from testbed import rabbitmq


# Modules that share an expensive session fixture run on one pytest-xdist worker, so the
# session starts it once; every other module is a unit of its own, as --dist loadfile makes it.
SHARED_WORKER = {
    "tests/functional/test_neutron_fixture.py": "neutron",   # neutron_cloud: 35-110 s to start
    "tests/functional/test_neutron_backend.py": "neutron",
    "tests/functional/test_neutron_security_groups.py": "neutron",
    "tests/functional/test_ovn_on_neutron.py": "neutron",
    "tests/functional/test_neutron_dataplane.py": "neutron",
    "tests/functional/test_neutron_amphora.py": "neutron",
    "tests/functional/test_nova_fixture.py": "neutron",  # nova_cloud: on neutron_cloud
    "tests/functional/test_nova_backend.py": "neutron",
    "tests/functional/test_nova_amphora.py": "neutron",  # a libvirt compute on it
}


# The longest units of work (a module or a SHARED_WORKER group), longest first. They are
# handed out first, so the run does not end with one worker alone on a ten-minute unit while
# the other idles (xdist's own order, most tests first, put upstream's one-test suite last).
LONGEST_FIRST = (
    "neutron",                                        # Neutron + Nova clouds: ~15 min
    "tests/functional/test_upstream_suites.py",       # tempest + the SDK suite: ~10 min
    "tests/functional/test_amphora_image.py",         # builds the image on a clean machine
    "tests/functional/test_scaleout_chaos.py",
)


def _unit_of_work(path):
    """The scope a test module runs in: its SHARED_WORKER group, or itself."""
    return SHARED_WORKER.get(path, path)


def pytest_collection_modifyitems(config, items):
    """The units of LONGEST_FIRST first, in that order; the rest as collected."""
    rank = {unit: i for i, unit in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(_unit_of_work(item.nodeid.split("::", 1)[0]),
                                         len(rank)))


def pytest_xdist_make_scheduler(config, log):
    """--dist loadfile, with the modules of SHARED_WORKER grouped (xdist 3.8's loadgroup
    ignores xdist_group marks under pytest 9: nodeids no longer take its suffix), handed out
    in collection order (pytest_collection_modifyitems puts the longest first)."""
    if config.getoption("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadScopeScheduling
    config.option.loadscopereorder = False

    class ModuleGroups(LoadScopeScheduling):
        def _split_scope(self, nodeid):
            return _unit_of_work(nodeid.split("::", 1)[0])

    return ModuleGroups(config, log)


def pytest_report_header(config):
    return [f"PostgreSQL binaries: {pg.binaries() or 'not installed (PostgreSQL tests skip)'}",
            f"MariaDB server: {mariadb.binaries() or 'not installed (MariaDB tests skip)'}",
            f"RabbitMQ: {rabbitmq.installed() or rabbitmq.RABBITMQ_SERVER}"]


def pytest_configure(config):
    rabbitmq.configure(config)        # the controller's session dir, inherited by xdist workers


def pytest_terminal_summary(terminalreporter):
    """Print the counts of upstream's API test suite when it ran; say why the identity,
    Neutron and amphora tests were skipped, even without -rs (also under xdist)."""
    # here, not in tests/functional/conftest.py: under xdist the controller prints the
    # summary, and it loads only this conftest
    from tests.functional.conftest import SKIP_KINDS
    from tests.functional.test_upstream_suites import summary_path
    tempest_summary = summary_path(os.getpid())
    if tempest_summary.exists():
        terminalreporter.write_line(tempest_summary.read_text().strip(), bold=True)
        tempest_summary.unlink()
    reasons = set()
    for report in terminalreporter.stats.get("skipped", []):
        longrepr = report.longrepr
        if isinstance(longrepr, tuple) and any(
                prefix in str(longrepr[2]) for prefix in SKIP_KINDS):
            reasons.add(str(longrepr[2]).replace("Skipped: ", "", 1))
    for reason in sorted(reasons):
        kind = next(k for prefix, k in SKIP_KINDS.items() if reason.startswith(prefix))
        terminalreporter.write_line(f"{kind} tests SKIPPED, {reason}", yellow=True)


def pytest_sessionfinish(session):
    rabbitmq.finish(session.config)   # the controller stops the session's node, if one started


UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I)


def pytest_make_parametrize_id(config, val, argname):
    """Spell every UUID inside a string parameter's id as "uuid".

    pytest-xdist (scripts/test.sh runs two workers) requires every worker to
    collect the same test ids, and a `str(uuid.uuid4())` in a parametrize list
    (alone or inside a URL) would give each worker a different one.
    """
    if isinstance(val, str) and UUID_RE.search(val):
        return UUID_RE.sub("uuid", val)
    return None


@pytest.fixture(scope="session")
def pg_cluster():
    """A running PostgreSQL cluster, or a skip that says why there is none (a failure in CI).

    One cluster per session, so one per pytest-xdist worker. It listens on a unix
    socket in its own temporary directory only, so the port number names the
    socket file there and clusters of parallel workers cannot collide.
    """
    try:
        cluster = pg.Cluster(port=15432 + (os.getpid() % 1000)).start()
    except Exception as exc:  # printed in the skip reason, never silent
        if os.environ.get("CI"):  # CI installs PostgreSQL (scripts/setup.sh --test): no skips
            pytest.fail(f"PostgreSQL not available in CI: {exc}")
        pytest.skip(f"PostgreSQL not available: {exc}")
    yield cluster
    cluster.stop()


@pytest.fixture(scope="session")
def mariadb_server():
    """A running MariaDB server (testbed.mariadb.Server), or a skip that says why there is none
    (a failure in CI).

    One server per session, so one per pytest-xdist worker, on a unix socket in its own
    temporary directory and no TCP port, so servers of parallel workers cannot collide.
    `mariadb_server.create_database(name)` makes a utf8mb4 database and returns its URL.
    """
    try:
        server = mariadb.Server().start()
    except Exception as exc:  # printed in the skip reason, never silent
        if os.environ.get("CI"):  # CI installs mariadb-server (scripts/setup.sh --test)
            pytest.fail(f"MariaDB not available in CI: {exc}")
        pytest.skip(f"MariaDB not available: {exc}")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def rabbitmq_broker():
    """The session's RabbitMQ node (testbed.rabbitmq.Broker), or a skip that says why there is
    none (a failure in CI). One node for the whole session, shared by all xdist workers, on
    127.0.0.1 and a port chosen at run time; stopped by the controller at session end. Do not
    stop or restart it in a test (other workers use it): start a `Broker` of your own."""
    try:
        return rabbitmq.session_broker()
    except Exception as exc:  # printed in the skip reason, never silent
        if os.environ.get("CI"):  # CI installs rabbitmq-server (scripts/setup.sh --test)
            pytest.fail(f"RabbitMQ not available in CI: {exc}")
        pytest.skip(f"RabbitMQ not available: {exc}")


@pytest.fixture
def rabbitmq_url(rabbitmq_broker):
    """`rabbit://guest:guest@127.0.0.1:<port>/<vhost>` on a virtual host of this test's own.

    Isolation is by virtual host (add_vhost + set_permissions, about 0.6 s): exchanges, queues
    and messages of one test never reach another, even with the same topic. The default vhost
    is `rabbitmq_broker.url()`; vhosts are not deleted (the node is thrown away at the end).
    """
    return rabbitmq_broker.add_vhost()


def make_conf(url, **overrides):
    """A configuration on a database URL with test-friendly overrides."""
    conf = lbaas_conf.make_conf()
    conf.set_override("connection", url, group="database")
    for key, value in overrides.items():
        group, _, name = key.rpartition(".")
        conf.set_override(name, value, group=group or None)
    return conf


# The session fixture of each database server backend (each has create_database(name) -> URL).
SERVER_FIXTURES = {"postgresql": "pg_cluster", "mariadb": "mariadb_server"}
BACKENDS = ["sqlite", *SERVER_FIXTURES]


def database_url(backend, request, name):
    """A fresh, migrated database of the given backend."""
    if backend == "sqlite":
        folder = request.getfixturevalue("tmp_path_factory").mktemp("lbaas-db")
        path = os.path.join(folder, f"{name}.sqlite")
        url = f"sqlite:///{path}"
    else:
        server = request.getfixturevalue(SERVER_FIXTURES[backend])
        url = server.create_database(f"{name}_{uuid.uuid4().hex[:8]}")
    migrate.upgrade(url)
    return url


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request):
    """The database engine a test runs on."""
    return request.param


@pytest.fixture(scope="session")
def app(backend, request):
    """The API application on a fresh database of the current backend (one per session)."""
    from lbaas.api import create_app
    conf = make_conf(database_url(backend, request, "api"))
    application = create_app(conf)
    yield application
    application.extensions["lbaas_core"].close()


@pytest.fixture
def client(app):
    """A test client of the API that sends JSON by default."""
    return ApiClient(app.test_client())


@pytest.fixture
def project():
    """A project of its own for each test, so lists are not shared."""
    return "p-" + uuid.uuid4().hex[:12]


class ApiClient:
    """Thin JSON helpers over Flask's test client."""

    def __init__(self, raw):
        self.raw = raw

    def get(self, url, **kw):
        return self.raw.get(url, **kw)

    def post(self, url, body=None, **kw):
        return self.raw.post(url, json=body, **kw)

    def put(self, url, body=None, **kw):
        return self.raw.put(url, json=body, **kw)

    def delete(self, url, **kw):
        return self.raw.delete(url, **kw)

    def wait(self, url, key, status="ACTIVE", timeout=10.0):
        """Poll an object until its provisioning_status is `status` (or it is gone for DELETED)."""
        deadline = time.monotonic() + timeout
        while True:
            resp = self.raw.get(url)
            if status == "DELETED" and resp.status_code == 404:
                return None
            body = resp.get_json()
            if resp.status_code == 200 and body[key]["provisioning_status"] == status:
                return body[key]
            if time.monotonic() > deadline:
                raise AssertionError(f"{url} did not reach {status}: {resp.status_code} {body}")
            time.sleep(0.005)

    def create_lb(self, project, **fields):
        """Create a load balancer in a project and wait until it is ACTIVE."""
        body = {"vip_subnet_id": str(uuid.uuid4()), "project_id": project}
        body.update(fields)
        resp = self.post("/v2/lbaas/loadbalancers", {"loadbalancer": body})
        assert resp.status_code == 201, resp.get_json()
        lb = resp.get_json()["loadbalancer"]
        return self.wait(f"/v2/lbaas/loadbalancers/{lb['id']}", "loadbalancer")

    def create(self, collection, key, body, lb_id, parent_url=None):
        """Create a child object, then wait for it and its load balancer to be ACTIVE."""
        url = parent_url or f"/v2/lbaas/{collection}"
        resp = self.post(url, {key: body})
        assert resp.status_code == 201, resp.get_json()
        obj = resp.get_json()[key]
        self.wait(f"/v2/lbaas/loadbalancers/{lb_id}", "loadbalancer")
        return self.wait(f"{url}/{obj['id']}", key)
