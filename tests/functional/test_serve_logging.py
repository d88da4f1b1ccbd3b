"""What `lbaas serve` writes: no warning at start, oslo.log records, one access line per request.

Each run keeps its standard output (the banner) and standard error (the log, when no
log_file is set) apart, so "nothing on stderr but records" is checked as the operator sees it.
"""
import json
import os
import re
import socket
import subprocess
import uuid

import pytest
import requests

from lbaas import conf as lbaas_conf
from lbaas.cmd import embedded as embedded_defaults
from testbed import embedded
from testbed.service import (Service, clean_env, free_port, health_manager_section, venv_command,
                             wait_for)

pytestmark = pytest.mark.functional

# a WARNING (or worse) record, or a Python warning (CryptographyDeprecationWarning: ...)
WARNING = re.compile(r"\b(WARNING|ERROR|CRITICAL)\b|Warning\b")
ANSI = "\x1b"


class Serve(Service):
    """`lbaas serve ARGS --port P`, its stdout and stderr in two files."""

    def __init__(self, tmp_path, *args):
        port = free_port()
        super().__init__("lbaas serve", [venv_command("lbaas"), "serve", *args,
                                         "--port", str(port)], port, tmp_path / "serve.out")
        self.err_path = tmp_path / "serve.err"

    def start(self, timeout=60.0):
        with open(self.log_path, "ab") as out, open(self.err_path, "ab") as err:
            self.proc = subprocess.Popen(self.argv, stdout=out, stderr=err,
                                         stdin=subprocess.DEVNULL, env=self.env,
                                         start_new_session=True)
        Service.running.append(self)
        try:
            wait_for(self._answers, timeout, f"lbaas serve to answer on {self.url}", 0.05)
        except (AssertionError, RuntimeError) as exc:
            self.stop()
            raise RuntimeError(f"{exc}\n{self.stderr()}") from None
        return self

    def stderr(self):
        return self.err_path.read_text(errors="replace")

    def stdout(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()


def warning_lines(serve):
    """The lines of either stream that carry a warning."""
    return [line for line in (serve.stdout() + serve.stderr()).splitlines()
            if WARNING.search(line)]


def access_lines(text, request_id):
    """The access lines (plain format) of one request."""
    return [line for line in text.splitlines()
            if request_id in line and "lbaas.api.access" in line]


def test_noop_start_prints_no_warning_and_access_lines_carry_request_id_and_project(tmp_path):
    serve = Serve(tmp_path, "--driver", "noop", "--state-path", str(tmp_path / "state")).start()
    try:
        project = "proj-" + uuid.uuid4().hex[:8]
        resp = requests.get(serve.url + "/v2/lbaas/loadbalancers",
                            headers={"X-Project-Id": project}, timeout=10)
        rid = resp.headers["X-Openstack-Request-Id"]
        # a path with an escape sequence in it must not colour the log
        bad = requests.get(serve.url + "/v2/lbaas/%1b[31mred", timeout=10)
        wait_for(lambda: access_lines(serve.stderr(), bad.headers["X-Openstack-Request-Id"]),
                 10, "the second access line")
    finally:
        serve.stop()
    assert warning_lines(serve) == []
    lines = access_lines(serve.stderr(), rid)
    assert len(lines) == 1, serve.stderr()
    assert re.search(rf'\[None {rid} - {project} .*\] 127\.0\.0\.1 "GET /v2/lbaas/loadbalancers '
                     rf'HTTP/1\.1" status: 200 len: \d+ time: \d+\.\d+$', lines[0]), lines[0]
    assert ANSI not in serve.stderr()
    assert r'"GET /v2/lbaas/\x1b[31mred HTTP/1.1" status: 404' in serve.stderr()


def test_amphora_start_as_root_prints_no_warning(tmp_path):
    reason = embedded_defaults.amphora_unavailable(lbaas_conf.make_conf())
    if reason:
        message = f"the embedded amphora defaults cannot run here: {reason}"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(message, pytrace=False)   # this machine kind has root and HAProxy
        pytest.skip(message)
    state = tmp_path / "state"
    with embedded.exclusive():
        serve = Serve(tmp_path, "--driver", "amphora", "--state-path", str(state))
        try:
            serve.start()

            def spare_ready():
                rows = requests.get(serve.url + "/v2/octavia/amphorae",
                                    timeout=10).json()["amphorae"]
                return [a for a in rows if a["status"] == "READY"]
            wait_for(spare_ready, 60, "the spare amphora to be READY", 0.2)
        finally:
            serve.stop()
            embedded.remove_leftovers(state)
    assert "amphora provider" in serve.stdout()
    assert warning_lines(serve) == [], serve.stderr()


def test_config_file_after_serve_on_rabbitmq_prints_no_warning(tmp_path, rabbitmq_url):
    """`lbaas serve --config-file F` (the README's order) with the amphora provider on noop
    backends, and `lbaas-worker` reconciling over RabbitMQ: a load balancer goes ACTIVE
    through the bus, and neither process warns (kombu, oslo.messaging, eventlet)."""
    config = tmp_path / "lbaas.conf"
    config.write_text(
        f"[DEFAULT]\ntransport_url = {rabbitmq_url}\nstate_path = {tmp_path / 'state'}\n"
        "[api_settings]\nenabled_provider_drivers = amphora:Amphorae on noop backends.\n"
        "default_provider_driver = amphora\n"
        "[controller_worker]\namphora_driver = amphora_noop_driver\n"
        "[amphora_compute]\ndriver = noop\n[network]\ndriver = noop\n"
        "[certificates]\ncert_manager = noop\n" + health_manager_section())
    serve = Serve(tmp_path, "--config-file", str(config)).start()   # migrates the database
    worker_out, worker_err = tmp_path / "worker.out", tmp_path / "worker.err"
    with open(worker_out, "wb") as out, open(worker_err, "wb") as err:
        worker = subprocess.Popen([venv_command("lbaas-worker"), "--config-file", str(config)],
                                  stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                  env=clean_env(), start_new_session=True)
    try:
        wait_for(lambda: "reconciling" in worker_out.read_text() or worker.poll() is not None,
                 60, "lbaas-worker to start")
        resp = requests.post(serve.url + "/v2/lbaas/loadbalancers", headers={
            "X-Project-Id": "rabbit-project"}, json={"loadbalancer": {
                "name": "bus", "vip_subnet_id": str(uuid.uuid4())}}, timeout=30)
        assert resp.status_code == 201, resp.text
        lb = resp.json()["loadbalancer"]["id"]
        wait_for(lambda: requests.get(f"{serve.url}/v2/lbaas/loadbalancers/{lb}", timeout=10)
                 .json()["loadbalancer"]["provisioning_status"] == "ACTIVE", 60,
                 "the load balancer to be ACTIVE")
        # until here: its start and first reconcile (at stop, amqp may warn that it drops a
        # delivery arriving on a closing channel; RabbitMQ redelivers it)
        worker_lines = (worker_out.read_text() + worker_err.read_text()).splitlines()
    finally:
        worker.terminate()
        worker.wait(30)
        serve.stop()
    assert f"embedded:  none: {config} enables only the providers it names" in serve.stdout()
    assert warning_lines(serve) == [], serve.stderr()
    assert [line for line in worker_lines if WARNING.search(line)] == []
    rid = resp.headers["X-Openstack-Request-Id"]
    [line] = access_lines(serve.stderr(), rid)
    assert "rabbit-project" in line and '"POST /v2/lbaas/loadbalancers HTTP/1.1" status: 201' \
        in line, line


def test_log_file_gets_json_records_with_request_id_and_project(tmp_path):
    log = tmp_path / "lbaas.log"
    config = tmp_path / "lbaas.conf"
    config.write_text(f"[DEFAULT]\nlog_file = {log}\nuse_json = true\n"
                      "[api_settings]\nenabled_provider_drivers = noop:The noop provider.\n"
                      "default_provider_driver = noop\n")
    serve = Serve(tmp_path, "--config-file", str(config), "--state-path",
                  str(tmp_path / "state")).start()
    try:
        resp = requests.get(serve.url + "/v2/lbaas/pools", headers={"X-Project-Id": "json-p"},
                            timeout=10)
        rid = resp.headers["X-Openstack-Request-Id"]
        wait_for(lambda: rid in log.read_text(), 10, "the access record in the log file")
    finally:
        serve.stop()
    records = [json.loads(line) for line in log.read_text().splitlines()]  # JSON, every line
    access = [r for r in records if r["name"] == "lbaas.api.access"
              and r["context"].get("request_id") == rid]
    assert len(access) == 1, records[-3:]
    assert access[0]["context"]["project_id"] == "json-p"
    assert '"GET /v2/lbaas/pools HTTP/1.1" status: 200' in access[0]["message"]
    assert serve.stderr() == ""   # with a log file, records go there only


def test_driver_with_a_config_file_is_a_one_line_error(tmp_path):
    config = tmp_path / "lbaas.conf"
    config.write_text("[api_settings]\n")
    proc = subprocess.run([venv_command("lbaas"), "serve", "--config-file", str(config),
                           "--driver", "amphora", "--state-path", str(tmp_path / "state")],
                          capture_output=True, text=True, env=clean_env(), timeout=60,
                          check=False)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1, proc.stderr
    assert proc.stderr.startswith("lbaas serve: error: --driver applies only without a "
                                  f"configuration file, and {config} is given"), proc.stderr
    assert not (tmp_path / "state").exists()   # refused before anything was written


def test_a_taken_heartbeat_port_is_a_one_line_error(tmp_path):
    """Another process on [health_manager] bind_port: serve names the option and stops,
    where it printed an unhandled-error traceback."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]
        config = tmp_path / "lbaas.conf"
        config.write_text(
            "[api_settings]\nenabled_provider_drivers = amphora:Amphorae on noop backends.\n"
            "default_provider_driver = amphora\n"
            "[controller_worker]\namphora_driver = amphora_noop_driver\n"
            "[amphora_compute]\ndriver = noop\n[network]\ndriver = noop\n"
            "[certificates]\ncert_manager = noop\n"
            f"[health_manager]\nbind_ip = 127.0.0.1\nbind_port = {port}\n")
        proc = subprocess.run([venv_command("lbaas"), "serve", "--config-file", str(config),
                               "--port", str(free_port()),
                               "--state-path", str(tmp_path / "state")],
                              capture_output=True, text=True, env=clean_env(), timeout=60,
                              check=False)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr and "CRITICAL" not in proc.stderr, proc.stderr
    assert proc.stderr.splitlines()[-1] == (f"lbaas serve: the health manager cannot listen on 127.0.0.1:{port} "
                           "([health_manager] bind_ip, bind_port): Address already in use")
