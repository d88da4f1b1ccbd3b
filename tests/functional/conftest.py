"""Functional fixtures: `lbaas serve` as a real process, shared by the tests of one session."""
import pytest

from tests.functional.service import Service, free_port, venv_command


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
    service = Service("lbaas serve", [venv_command("lbaas"), "serve", "--state-path", str(state),
                                      "--port", str(port)],
                      port, state / "lbaas-serve.log")
    service.start()
    yield service
    service.stop()
