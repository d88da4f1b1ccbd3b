"""Upstream Octavia's API test suite (octavia-tempest-plugin) run against lbaas.

`scripts/setup.sh --test` installs tempest and octavia-tempest-plugin (pinned) in
.venv-tempest. A `Suite` writes a tempest workspace whose tempest.conf is what upstream's
`octavia-v2-dsvm-noop-api` job sets (noop mode, dynamic credentials with Keystone's
default roles, bogus availability zones), pointed at a `keystone.Cloud`, runs a regex of
tests with `tempest run`, and reads the results from the workspace's stestr repository
(tempest_results.py, in the tempest venv). Capability descriptions and the enabled
providers are read from lbaas itself, as an operator would copy them.
"""
import json
import os
import subprocess
import textwrap
from pathlib import Path

import requests

from testbed.cloud.keystone import ADMIN_PASSWORD, REGION
from testbed.service import clean_env, venv_unavailable

ROOT = Path(__file__).resolve().parents[2]
# scripts/setup.sh --test makes it; LBAAS_TEMPEST_VENV names another (or a missing) one.
VENV = Path(os.environ.get("LBAAS_TEMPEST_VENV") or ROOT / ".venv-tempest")
FAILED = VENV / ".lbaas-tempest-failed"   # written by scripts/setup.sh when the install failed
RESULTS = Path(__file__).with_name("tempest_results.py")

# lbaas as upstream's job runs Octavia: the amphora provider on noop compute, network and
# amphora (agent) backends, the noop certificate manager; the noop provider beside it, with
# the operating statuses upstream's noop backends leave (its tests assert them).
LBAAS_CONFIG = """
[api_settings]
enabled_provider_drivers = amphora:The amphora provider (here on noop backends).,noop:The no-op provider.
default_provider_driver = amphora

[controller_worker]
amphora_driver = amphora_noop_driver

[amphora_compute]
driver = noop

[network]
driver = noop

[certificates]
cert_manager = noop

[noop_driver]
operating_status = unmeasured
"""


def unavailable():
    """Why tempest cannot run here, or None when it can."""
    return venv_unavailable(VENV, FAILED, ("tempest",))


def _comma_free(name, text):
    """tempest reads these from comma-separated settings (oslo.config DictOpt)."""
    if "," in text:
        raise ValueError(f"{name} {text!r} contains a comma, which tempest cannot read")
    return text


class Suite:
    """A tempest workspace against one cloud, and the results of its last run."""

    def __init__(self, cloud, workspace, provider="amphora", interval=0.1):
        """interval: seconds between status polls (upstream's job: 0.5; lbaas is done sooner)."""
        self.cloud, self.dir = cloud, Path(workspace)
        self.provider, self.interval = provider, interval
        self.results = []

    def _admin_get(self, path):
        token = self.cloud.keystone.token("admin", ADMIN_PASSWORD, project="admin")[0]
        resp = requests.get(self.cloud.lbaas_url + path, headers={"X-Auth-Token": token},
                            timeout=30)
        resp.raise_for_status()
        return resp.json()

    def _capability(self, kind, name):
        listed = self._admin_get(f"/v2/lbaas/providers/{self.provider}/{kind}")[kind]
        description = next(c["description"] for c in listed if c["name"] == name)
        return f"{name}:{_comma_free(name, description)}"

    def config(self):
        """tempest.conf: upstream's noop API job, for this cloud."""
        providers = ",".join(
            f"{p['name']}:{_comma_free(p['name'], p['description'])}"
            for p in self._admin_get("/v2/lbaas/providers")["providers"])
        interval = self.interval
        return textwrap.dedent(f"""\
            [DEFAULT]
            log_dir = {self.dir}
            log_file = tempest.log
            use_stderr = false

            [oslo_concurrency]
            lock_path = {self.dir}/locks

            [auth]
            use_dynamic_credentials = true
            create_isolated_networks = false
            admin_username = admin
            admin_password = {ADMIN_PASSWORD}
            admin_project_name = admin
            admin_domain_name = Default
            default_credentials_domain_name = Default
            tempest_roles =

            [identity]
            uri_v3 = {self.cloud.auth_url}
            auth_version = v3
            region = {REGION}
            v3_endpoint_type = public

            [identity-feature-enabled]
            api_v3 = true

            [service_available]
            load_balancer = true
            neutron = false
            nova = false
            glance = false
            cinder = false
            swift = false
            barbican = false

            [network]
            project_networks_reachable = true

            [enforce_scope]
            octavia = false

            [load_balancer]
            region = {REGION}
            catalog_type = load-balancer
            endpoint_type = publicURL
            provider = {self.provider}
            enabled_provider_drivers = {providers}
            expected_flavor_capability = {self._capability("flavor_capabilities",
                                                            "loadbalancer_topology")}
            expected_availability_zone_capability = {self._capability(
                "availability_zone_capabilities", "compute_zone")}
            test_with_noop = true
            RBAC_test_type = keystone_default_roles
            build_interval = {interval}
            check_interval = {interval}
            lb_build_interval = {interval}
            build_timeout = 120
            check_timeout = 120
            lb_build_timeout = 120
            availability_zone = bogus-az-1
            availability_zone2 = bogus-az-2
            availability_zone3 = bogus-az-3

            [loadbalancer-feature-enabled]
            not_implemented_is_error = true
            """)

    def write(self):
        """The workspace: etc/tempest.conf and the stestr configuration tempest runs with."""
        (self.dir / "etc").mkdir(parents=True, exist_ok=True)
        (self.dir / "locks").mkdir(exist_ok=True)
        (self.dir / "etc" / "tempest.conf").write_text(self.config())
        package = subprocess.run(
            [str(VENV / "bin" / "python"), "-c", "import tempest, os; "
             "print(os.path.dirname(tempest.__file__))"],
            check=True, capture_output=True, text=True).stdout.strip()
        (self.dir / ".stestr.conf").write_text(
            f"[DEFAULT]\ntest_path={package}/test_discover\ntop_dir={package}\n"
            "group_regex=([^\\.]*\\.)*\n")

    def run(self, regex, concurrency=2, timeout=1800):
        """Run the tests matching regex; -> the results (dicts: id, status, seconds, reason).

        Test classes (each with its load balancer and credentials) are spread over
        `concurrency` processes. The output goes to tempest-run.log in the workspace.
        """
        self.write()
        env = clean_env(TEMPEST_CONFIG_DIR=str(self.dir / "etc"), PYTHONDONTWRITEBYTECODE="1")
        with open(self.dir / "tempest-run.log", "wb") as log:
            subprocess.run([str(VENV / "bin" / "tempest"), "run", "--regex", regex,
                            "--concurrency", str(concurrency)], cwd=self.dir, env=env,
                           stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                           timeout=timeout, check=False)
        stream = subprocess.run([str(VENV / "bin" / "stestr"), "last", "--subunit"],
                                cwd=self.dir, env=env, capture_output=True, timeout=300)
        parsed = subprocess.run([str(VENV / "bin" / "python"), str(RESULTS)],
                                input=stream.stdout, capture_output=True, timeout=300,
                                check=True)
        self.results = [json.loads(line) for line in parsed.stdout.decode().splitlines()
                        if line.strip()]
        return self.results

    def log_tail(self, limit=4000):
        """The end of tempest's own output."""
        try:
            return (self.dir / "tempest-run.log").read_text(errors="replace")[-limit:]
        except OSError as exc:
            return f"(no log: {exc})"


def counts(results):
    """{status: number of tests} ("success", "fail", "skip")."""
    tally = {}
    for result in results:
        tally[result["status"]] = tally.get(result["status"], 0) + 1
    return tally


def summary(results, seconds):
    """One line for the terminal: the counts and the wall time."""
    tally = counts(results)
    return (f"octavia-tempest-plugin api.v2: {tally.get('success', 0)} passed, "
            f"{tally.get('fail', 0)} failed, {tally.get('skip', 0)} skipped "
            f"({len(results)} in all, {seconds:.0f} s)")

