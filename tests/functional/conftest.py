"""Functional fixtures: `lbaas serve` as a real process, shared by the tests of one session."""
import os

import pytest

from testbed.cloud import keystone, neutron, ovn_nb
from testbed.cloud import nova_cloud as nova_cloud_module
from testbed.cloud.neutron_cloud import NeutronCloud
from testbed.service import Service, free_port, venv_command
from tests.functional import amphora_env

NO_KEYSTONE = "no real Keystone: "  # how the identity tests' skip reasons start
NO_AMPHORA = "no amphorae on this host: "  # how the amphora traffic tests' skip reasons start
NO_NEUTRON = "no real Neutron: "  # how the Neutron tests' skip reasons start
NO_NOVA = "no real Nova: "  # how the Nova tests' skip reasons start
SKIP_KINDS = {NO_KEYSTONE: "identity", NO_AMPHORA: "amphora", NO_NEUTRON: "Neutron",
              NO_NOVA: "Nova"}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Attach the logs of the running services to the report of a failed test."""
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        for service in Service.running:
            report.sections.append((f"{service.name} log ({service.log_path})",
                                    service.log_tail()))


@pytest.fixture(scope="session")
def lbaas_server(tmp_path_factory):
    """`lbaas serve` on a fresh state directory and a free port; stopped at the end."""
    state = tmp_path_factory.mktemp("lbaas-serve")
    port = free_port()
    service = Service("lbaas serve", [venv_command("lbaas"), "serve", "--driver", "noop",
                                      "--state-path", str(state),
                                      "--port", str(port)],
                      port, state / "lbaas-serve.log")
    service.start()
    yield service
    service.stop()


@pytest.fixture(scope="session")
def keystone_cloud(tmp_path_factory):
    """A real Keystone (from .venv-keystone) and `lbaas serve` with auth_strategy = keystone,
    registered in its catalog; one per session (per xdist worker that needs it)."""
    reason = keystone.unavailable()
    if reason:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"the identity tests need the real Keystone in CI, but {reason}",
                        pytrace=False)
        pytest.skip(NO_KEYSTONE + reason)
    cloud = keystone.Cloud(tmp_path_factory.mktemp("keystone-cloud"))
    try:
        cloud.start()
        yield cloud
    finally:
        cloud.stop()


@pytest.fixture(scope="session")
def neutron_cloud(mariadb_server, tmp_path_factory):
    """Keystone, OVN and a real Neutron (ML2/OVN, on a database of the session's MariaDB) in
    Keystone's catalog as `network` (testbed.cloud.neutron_cloud.NeutronCloud); one per
    session (per xdist worker that needs it). OVN is a full OvnStack (ovs-vswitchd, br-int,
    ovn-controller) where one can run, so bound ports carry traffic; else only its databases
    and northd (`cloud.stack` is None)."""
    from testbed import ovn_stack
    reason = (keystone.unavailable() or neutron.unavailable() or ovn_nb.unavailable()
              or ovn_nb.northd_unavailable())
    if reason:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"the Neutron tests need a real Neutron in CI, but {reason}",
                        pytrace=False)
        pytest.skip(NO_NEUTRON + reason)
    root = tmp_path_factory.mktemp("neutron-cloud")
    database = mariadb_server.create_database(f"neutron_{os.getpid()}")
    stack = None if ovn_stack.unavailable() else ovn_stack.OvnStack(root / "ovn")
    cloud = NeutronCloud(root, database, ovn_stack=stack)
    cloud.start()
    try:
        yield cloud
    finally:
        cloud.stop()


@pytest.fixture(scope="session")
def nova_cloud(neutron_cloud, mariadb_server, rabbitmq_broker, tmp_path_factory):
    """Placement, Glance and a real Nova (cells v2; nova-api, -conductor, -scheduler and a
    nova-compute with the fake virt driver; on databases of the session's MariaDB and a vhost
    of the session's RabbitMQ) beside `neutron_cloud`, in its Keystone's catalog as
    `placement`, `image` and `compute` (testbed.cloud.nova_cloud.NovaCloud); one per
    session (per xdist worker that needs it)."""
    reason = nova_cloud_module.unavailable()
    if reason:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"the Nova tests need a real Nova in CI, but {reason}", pytrace=False)
        pytest.skip(NO_NOVA + reason)
    cloud = nova_cloud_module.NovaCloud(neutron_cloud, mariadb_server,
                                        rabbitmq_broker.add_vhost(),
                                        tmp_path_factory.mktemp("nova-cloud"))
    cloud.start()
    try:
        yield cloud
    finally:
        cloud.stop()


@pytest.fixture(scope="session")
def neutron_dataplane(neutron_cloud):
    """The session's neutron_cloud, which must run on a full OvnStack: ports bound to this
    host carry traffic (testbed/cloud/neutron_dataplane.py)."""
    if neutron_cloud.stack is None:
        from testbed import ovn_stack
        reason = ovn_stack.unavailable()
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"the Neutron data plane tests need {reason!r} fixed in CI",
                        pytrace=False)
        pytest.skip(NO_NEUTRON + reason)
    return neutron_cloud


@pytest.fixture(scope="session")
def amphora_host():
    """A guard: root, /usr/sbin/haproxy, namespaces and bridges; else a skip that says why
    (a failure under CI=true)."""
    reason = amphora_env.unavailable()
    if reason:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"the amphora traffic tests need {reason!r} fixed in CI", pytrace=False)
        print(f"skipping amphora traffic tests: {reason}")
        pytest.skip(NO_AMPHORA + reason)


def _amphora_env(root, database_url=None, label="sqlite"):
    env = amphora_env.AmphoraEnv(root, database_url, label)
    try:
        env.start()
        yield env
    finally:
        env.stop()  # deletes every load balancer, then asserts nothing is left behind


@pytest.fixture(scope="session")
def amphora_cloud(amphora_host, tmp_path_factory):
    """`lbaas serve` with the amphora provider on SQLite (tests.functional.amphora_env)."""
    yield from _amphora_env(tmp_path_factory.mktemp("amphora-sqlite"))


@pytest.fixture(scope="session")
def amphora_cloud_pg(amphora_host, pg_cluster, tmp_path_factory):
    """The same on a PostgreSQL database of the session's cluster."""
    url = pg_cluster.create_database(f"amphora_{os.getpid()}")
    yield from _amphora_env(tmp_path_factory.mktemp("amphora-pg"), url, "postgresql")
