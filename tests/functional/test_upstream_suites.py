"""The test suites of upstream's clients gate lbaas: octavia-tempest-plugin's api.v2 and
openstacksdk's functional load-balancer tests.

One cloud for both, configured as upstream's `octavia-v2-dsvm-noop-api` job
(tests/functional/tempest.py): a real Keystone with dynamic credentials and Keystone's
default roles, lbaas in keystone mode with the amphora provider on noop compute, network
and agent backends (how upstream's job runs Octavia), the noop certificate manager. Every
test must pass, or be skipped for a reason upstream's own job skips it for
(EXPECTED_SKIPS); the counts are printed at the end of the session.
"""
import os
import re
import tempfile
import time
from pathlib import Path

import pytest

from testbed.cloud.keystone import Cloud
from testbed.service import health_manager_section
from tests.functional import sdk_suite, tempest

pytestmark = pytest.mark.functional

REGEX = r"^octavia_tempest_plugin\.tests\.api\.v2"

# The skips upstream's own job has too (octavia-tempest-plugin 3.5.0, noop API job): each
# pattern is a whole skip reason, with why upstream skips the same tests.
EXPECTED_SKIPS = {
    # "the reference driver does not support SOURCE-IP-PORT" (the plugin's own comment): it
    # skips a test when the amphora provider refuses the algorithm on an HAProxy pool
    r"Provider 'amphora' does not support a requested option: The amphora provider does "
    r"not support lb_algorithm 'SOURCE_IP_PORT' yet\.": "SOURCE_IP_PORT on HAProxy pools",
    # skipped by the plugin in every job until upstream bugs are fixed
    r"Skipped until bug: \S+ is resolved\.": "upstream bugs",
    # test_admin_log needs a real amphora's log files
    r"Log offload tests will not work in noop mode\.": "noop mode",
    # (the noop provider's run) test_amphora is for amphora providers only
    r"Amphora tests only run with the amphora provider enabled\.": "not an amphora provider",
}


def summary_path(controller_pid=None):
    """Where this session's summary goes, for the terminal summary of the pytest process
    that controls the session (an xdist worker's parent)."""
    if controller_pid is None:
        controller_pid = os.getppid() if os.environ.get("PYTEST_XDIST_WORKER") else os.getpid()
    return Path(tempfile.gettempdir()) / f"lbaas-tempest-summary-{controller_pid}.txt"


@pytest.fixture(scope="module")
def tempest_cloud(tmp_path_factory, pg_cluster):
    """Keystone (on PostgreSQL: dynamic credentials write in parallel) and lbaas as
    upstream's noop API job runs Octavia."""
    reason = tempest.unavailable()
    if reason:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"upstream's API test suite must run in CI, but {reason}",
                        pytrace=False)
        pytest.skip(f"no tempest: {reason}")
    cloud = Cloud(tmp_path_factory.mktemp("tempest-cloud"),
                  extra_config=tempest.LBAAS_CONFIG + health_manager_section(),
                  keystone_database=pg_cluster.create_database("keystone_tempest"))
    try:
        cloud.start()
        yield cloud
    finally:
        cloud.stop()


def _unexpected_skip(result):
    return not any(re.fullmatch(pattern, result["reason"], re.S)
                   for pattern in EXPECTED_SKIPS)


def _verdict(line, results, minimum, log_tail):
    """Fail on too few tests, any failure or any unexpected skip, naming them."""
    assert len(results) >= minimum, f"{line}: too few tests ran\n{log_tail()}"
    failed = [r for r in results if r["status"] not in ("success", "skip")]
    skipped = [r for r in results if r["status"] == "skip" and _unexpected_skip(r)]
    problems = [f"FAILED {r['id']}\n{r['reason'][-1500:]}" for r in failed[:15]]
    problems += [f"SKIPPED {r['id']}: {r['reason']}" for r in skipped[:30]]
    assert not (failed or skipped), f"{line}; {len(skipped)} unexpected skips\n" + \
        "\n".join(problems)


def _report(line):
    with summary_path().open("a") as summary:
        summary.write(line + "\n")


# Upstream's job runs the amphora provider, and so does CI. LBAAS_TEMPEST_PROVIDERS=amphora,noop
# also holds lbaas's noop provider to the suite (in its `unmeasured` mode): 627 passed, 2 skipped
# when last run; it repeats most of the amphora run's 505 tests and costs CI about 7 minutes.
PROVIDERS = os.environ.get("LBAAS_TEMPEST_PROVIDERS", "amphora").split(",")


@pytest.mark.parametrize("provider", PROVIDERS)
def test_upstream_api_suite_passes(tempest_cloud, tmp_path, provider):
    """Every api.v2 test passes with the provider, or is skipped for a reason upstream's job
    shares."""
    suite = tempest.Suite(tempest_cloud, tmp_path / "workspace", provider=provider)
    started = time.monotonic()
    results = suite.run(REGEX, concurrency=4)
    line = f"provider {provider}: " + tempest.summary(results, time.monotonic() - started)
    _report(line)
    _verdict(line, results, 600, suite.log_tail)


def test_openstacksdk_functional_suite_passes(tempest_cloud, tmp_path):
    """openstacksdk's own functional tests of its load_balancer proxy, every one of them."""
    started = time.monotonic()
    results = sdk_suite.run(tempest_cloud, tmp_path / "sdk")
    tally = tempest.counts(results)
    line = (f"openstacksdk functional load_balancer: {tally.get('success', 0)} passed, "
            f"{tally.get('fail', 0)} failed, {tally.get('skip', 0)} skipped, "
            f"{len(sdk_suite.DESELECTED)} left out ({len(results)} run, "
            f"{time.monotonic() - started:.0f} s)")
    _report(line)
    _verdict(line, results, 58 - len(sdk_suite.DESELECTED),
             lambda: sdk_suite.log_tail(tmp_path / "sdk"))
