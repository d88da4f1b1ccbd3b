"""The pytest plugin: options, the session's lbaas and bench, and the report at the end."""
import os
import tempfile
import time

import pytest

from lbaas.conformance import certs, report
from lbaas.conformance.api import Api
from lbaas.conformance.bench import Bench
from lbaas.conformance.server import Lbaas


def pytest_addoption(parser):
    group = parser.getgroup("lbaas-conformance", "lbaas driver conformance")
    group.addoption("--provider", help="the provider (octavia.api.drivers entry point) to certify")
    group.addoption("--lbaas-url", help="use this running lbaas instead of starting one")
    group.addoption("--lbaas-config-file",
                    help="start lbaas serve with this configuration (it must enable the "
                         "provider); with --lbaas-url, only used to import certificates")
    group.addoption("--report-dir", help="write report.json and report.md here")
    group.addoption("--status-timeout", type=float, default=60.0,
                    help="seconds an object may take to reach ACTIVE or DELETED (default 60)")


class Session:
    """What one run collects: the bench, probe results and contract outcomes."""

    def __init__(self, config):
        self.config = config
        self.started = time.monotonic()
        self.bench = self.lbaas = None
        self.results = []
        self.contract = []

    def open(self):
        """Start (or attach to) lbaas and build the bench; once per run."""
        opt = self.config.getoption
        provider = opt("provider")
        if not provider:
            raise pytest.UsageError("--provider NAME is required")
        workdir = tempfile.mkdtemp(prefix="lbaas-conformance-")
        if opt("lbaas_url"):
            self.lbaas = Lbaas(opt("lbaas_url"), opt("lbaas_config_file"))
        else:
            self.lbaas = Lbaas.start(provider, workdir, opt("lbaas_config_file"))
        files = certs.write(os.path.join(workdir, "certs"))
        refs = {"cert": self.lbaas.import_certificate(files["cert"], files["key"]),
                "ca": self.lbaas.import_certificate(files["ca"])}
        api = Api(self.lbaas.url, opt("status_timeout"))
        self.bench = Bench(api, provider, refs if all(refs.values()) else None)
        self.bench.lbaas = self.lbaas
        return self.bench

    def close(self):
        problems = self.bench.cleanup() if self.bench else []
        if self.lbaas is not None:
            self.lbaas.stop()
        return problems


def pytest_configure(config):
    config.addinivalue_line("markers", "contract: a check of the provider-driver contract")
    config.pluginmanager.register(Session(config), "lbaas-conformance-session")


def _session(config):
    return config.pluginmanager.get_plugin("lbaas-conformance-session")


@pytest.fixture(scope="session")
def conformance_bench(request):
    """The provider's bench: an lbaas enabling it and one shared load balancer."""
    session = _session(request.config)
    session.open()
    yield session.bench
    problems = session.close()
    assert not problems, "cleaning up failed: " + "; ".join(problems)


@pytest.fixture(scope="session")
def conformance_record(request):
    """Append a probe Result to the report."""
    return _session(request.config).results.append


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Keep each contract check's outcome (with the failure's last line) for the report."""
    outcome = yield
    rep = outcome.get_result()
    if "contract" not in item.keywords:
        return
    if rep.when == "call" or (rep.when == "setup" and not rep.passed):
        message = ""
        if rep.failed:
            message = str(call.excinfo.value).strip().splitlines()[0][:300] \
                if call.excinfo else ""
        elif rep.skipped and isinstance(rep.longrepr, tuple):
            message = rep.longrepr[2].replace("Skipped: ", "")
        doc = (item.function.__doc__ or item.name).strip().splitlines()[0]
        if getattr(item, "callspec", None) is not None:
            doc += f" ({item.callspec.id})"
        _session(item.config).contract.append(
            {"check": doc, "outcome": rep.outcome, "message": message})


def pytest_sessionfinish(session):
    """Write the capability report (when --report-dir is given)."""
    state = _session(session.config)
    if state is None or state.bench is None:
        return
    built = report.build(state.bench.provider, state.results, state.contract,
                         time.monotonic() - state.started)
    directory = session.config.getoption("report_dir")
    if directory:
        json_path, md_path = report.write(built, directory)
        state.written = (json_path, md_path)


def pytest_terminal_summary(terminalreporter, config):
    state = _session(config)
    if state is None or state.bench is None:
        return
    counts = {}
    for result in state.results:
        counts[result.state] = counts.get(result.state, 0) + 1
    terminalreporter.write_line(
        f"lbaas conformance, provider {state.bench.provider}: "
        + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())))
    for result in state.results:
        if result.state == "broken":
            terminalreporter.write_line(f"  BROKEN {result.category} {result.option}: "
                                        f"{result.detail}", red=True)
    failed = [c["check"] for c in state.contract if c["outcome"] == "failed"]
    broken = [r for r in state.results if r.state == "broken"]
    if failed or broken:
        terminalreporter.write_line(
            f"lbaas conformance: provider {state.bench.provider} does NOT conform: "
            f"{len(failed)} contract checks failed, {len(broken)} options broken", red=True)
        for check in state.contract:
            if check["outcome"] == "failed":
                terminalreporter.write_line(f"  FAILED {check['check']}: {check['message']}",
                                            red=True)
    else:
        terminalreporter.write_line(f"lbaas conformance: provider {state.bench.provider} "
                                    f"conforms", green=True)
    for path in getattr(state, "written", ()):
        terminalreporter.write_line(f"  report: {path}")
