"""`lbaas serve` answering from several processes ([api_settings] serve_api_processes): every
process answers, the first alone runs the amphora worker and the others' casts reach it at
once over its unix socket, and the extra processes stop (or are replaced) with the first.

The amphora provider runs on noop backends here (compute, network and agent: the control
flow of amphora rows and casts without namespaces), as upstream's API job runs it.
"""
import os
import signal
import time

import pytest
import requests

from testbed.service import (Service, children, cpu_ticks, free_port, health_manager_section,
                             venv_command, wait_for)

pytestmark = pytest.mark.functional
LBS = "/v2/lbaas/loadbalancers"


@pytest.fixture(scope="module")
def serve(tmp_path_factory):
    state = tmp_path_factory.mktemp("serve-processes")
    port, metrics_port = free_port(), free_port()
    config = state / "lbaas.conf"
    config.write_text(
        f"[DEFAULT]\nstate_path = {state}\n"
        f"[api_settings]\nbind_host = 127.0.0.1\nbind_port = {port}\n"
        "serve_api_processes = 3\nenabled_provider_drivers = amphora:amphora\n"
        "default_provider_driver = amphora\n"
        "[controller_worker]\namphora_driver = amphora_noop_driver\nsweep_interval = 600\n"
        "[amphora_compute]\ndriver = noop\n[network]\ndriver = noop\n"
        "[certificates]\ncert_manager = noop\n"
        f"[metrics]\nenabled = true\nbind_port = {metrics_port}\n" + health_manager_section())
    service = Service("lbaas serve", [venv_command("lbaas"), "--config-file", str(config),
                                      "serve"], port, state / "serve.log").start()
    service.metrics_url = f"http://127.0.0.1:{metrics_port}/metrics"
    wait_for(lambda: len(children(service.proc.pid)) >= 2, 30, "two API processes", 0.05)
    yield service
    service.stop()


def test_every_process_answers_and_casts_reach_the_one_worker(serve):
    readers = [p for p in children(serve.proc.pid)
               if b"lbaas" in open(f"/proc/{p}/cmdline", "rb").read()]
    assert len(readers) == 2, readers
    before = {pid: cpu_ticks(pid) for pid in readers}
    lbs = []
    for i in range(12):   # fresh connections: the kernel spreads them over the processes
        with requests.Session() as s:
            resp = s.post(serve.url + LBS, json={"loadbalancer": {
                "name": f"p{i}", "vip_subnet_id": "0b3c1d2e-0000-4000-8000-000000000001"}},
                timeout=30)
        assert resp.status_code == 201, resp.text
        lbs.append(resp.json()["loadbalancer"]["id"])
    for _ in range(60):
        with requests.Session() as s:
            assert s.get(serve.url + LBS + "?limit=1", timeout=30).status_code == 200
    assert all(cpu_ticks(pid) > before[pid] for pid in readers), "a process answered nothing"
    # the first process's scrape sums every process's requests
    answered = sum(float(line.rsplit(" ", 1)[1]) for line in
                   requests.get(serve.metrics_url, timeout=30).text.splitlines()
                   if line.startswith("lbaas_api_requests_total{") and 'method="GET"' in line
                   and "/v2/lbaas/loadbalancers" in line)
    assert answered >= 60, answered
    # the sweep runs every 600 s: only the casts can bring these to ACTIVE this fast
    wait_for(lambda: all(requests.get(f"{serve.url}{LBS}/{lb}", timeout=30).json()
                         ["loadbalancer"]["provisioning_status"] == "ACTIVE" for lb in lbs),
             30, "every load balancer ACTIVE", 0.1)
    amphorae = requests.get(serve.url + "/v2/octavia/amphorae", timeout=30).json()["amphorae"]
    assert sorted(a["loadbalancer_id"] for a in amphorae if a["loadbalancer_id"]) == \
        sorted(lbs)   # one worker: one amphora each, never two


def test_a_reader_that_dies_is_replaced_and_all_stop_with_the_first(serve):
    [victim, *_] = sorted(children(serve.proc.pid))
    os.kill(victim, signal.SIGKILL)
    wait_for(lambda: victim not in children(serve.proc.pid) and
             len(children(serve.proc.pid)) >= 2, 30, "a replacement process", 0.05)
    assert requests.get(serve.url + LBS, timeout=30).status_code == 200
    readers = children(serve.proc.pid)
    serve.proc.send_signal(signal.SIGINT)
    serve.proc.wait(30)
    deadline = time.monotonic() + 10
    while any(os.path.exists(f"/proc/{p}") and
              open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()[0] != "Z"
              for p in readers) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [p for p in readers if os.path.exists(f"/proc/{p}")]
