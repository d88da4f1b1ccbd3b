"""The fleet's boot on both kinds of compute backend: one it runs the agent in (spawn), one
whose amphorae start their agent at boot (agent_at_boot: the nova backend), and the nova
backend's options.

The database (SQLite), the CA and the fleet are real; the compute backends are the noop
one and a recording subclass of it with agent_at_boot (what is under test is what the
fleet asks of a backend; tests/functional/test_nova_backend.py drives a real Nova).
"""
import json

import pytest

from lbaas import conf as lbaas_conf
from lbaas.core import models
from lbaas.core.controller import Core
from lbaas.drivers.amphora.compute import ComputeError, nova_errors
from lbaas.drivers.amphora.compute.noop import NoopCompute
from lbaas.drivers.amphora.fleet import Fleet
from lbaas.drivers.amphora.store import Amphorae
from tests.conftest import database_url, make_conf

CONTROLLER = "127.0.0.1:5555"


class SpawnRecorder(NoopCompute):
    """The noop backend, recording what the fleet runs in its amphorae."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.spawned, self.deleted = [], []

    def spawn(self, amphora_id, argv, log_path=None):
        self.spawned.append((amphora_id, argv))
        return super().spawn(amphora_id, argv, log_path)

    def delete(self, amphora_id):
        self.deleted.append(amphora_id)
        super().delete(amphora_id)


class BootingCompute(SpawnRecorder):
    """A backend whose amphorae start their agent at boot; fail_boot: its boot fails."""

    agent_at_boot = True

    def __init__(self, fail_boot=False, **kwargs):
        super().__init__(**kwargs)
        self.creates, self.fail_boot = [], fail_boot

    def create(self, amphora_id, management=None, files=None, boot=None):
        self.creates.append({"files": files, "boot": boot})
        instance = super().create(amphora_id, management, files)
        if files is not None and self.fail_boot:
            raise ComputeError("Nova server x went ERROR: 500 No valid host was found.",
                               nova_errors.NO_HOST)
        return instance

    def spawn(self, amphora_id, argv, log_path=None):
        raise AssertionError("a backend that starts the agent at boot is never asked to spawn")


@pytest.fixture(scope="module")
def core(request, tmp_path_factory):
    url = database_url("sqlite", request, "fleet_boot")
    made = Core(make_conf(url, state_path=str(tmp_path_factory.mktemp("state")), **{
        "controller_worker.amphora_driver": "amphora_noop_driver",
        "controller_worker.agent_timeout": 1.0}))
    yield made
    made.close()


def _lb(core, topology="SINGLE", zone=None, flavor=None):
    """A load balancer row, with an availability zone and a flavor of the given metadata."""
    lb_id = models.new_id()
    with core.db.write() as session:
        az_name = fl_id = None
        if zone is not None:
            profile = models.AvailabilityZoneProfile(
                name=f"azp-{lb_id}", provider_name="amphora",
                availability_zone_data=json.dumps(zone))
            session.add(profile)
            session.flush()
            az_name = f"az-{lb_id[:8]}"
            session.add(models.AvailabilityZone(name=az_name, enabled=True,
                                                availability_zone_profile_id=profile.id))
        if flavor is not None:
            profile = models.FlavorProfile(name=f"fp-{lb_id}", provider_name="amphora",
                                           flavor_data=json.dumps(flavor))
            session.add(profile)
            session.flush()
            fl_id = models.new_id()
            session.add(models.Flavor(id=fl_id, name=f"f-{lb_id}", enabled=True,
                                      flavor_profile_id=profile.id))
        session.flush()
        session.add(models.LoadBalancer(id=lb_id, project_id="p", provider="amphora",
                                        provisioning_status="PENDING_CREATE",
                                        operating_status="OFFLINE", topology=topology,
                                        availability_zone=az_name, flavor_id=fl_id))
    return lb_id


def _status(core, amphora_id):
    with core.db.read() as session:
        return session.get(models.Amphora, amphora_id).status


def test_the_spawning_path_runs_the_agent_as_before(core):
    compute = SpawnRecorder()
    fleet = Fleet(core.context, compute, controller=CONTROLLER)
    want = fleet.want(_lb(core))
    amphora = fleet.new_row(want.loadbalancer_id)
    fleet.ready(amphora, want)
    [(spawned_id, argv)] = compute.spawned
    assert spawned_id == amphora.id
    assert argv[argv.index("--amphora-id") + 1] == amphora.id
    assert argv[argv.index("--bind") + 1] == compute.get(amphora.id).management_ip
    assert _status(core, amphora.id) == "ALLOCATED"


def test_an_agent_at_boot_backend_gets_the_agent_settings_and_no_spawn(core):
    compute = BootingCompute()
    fleet = Fleet(core.context, compute, controller=CONTROLLER)
    want = fleet.want(_lb(core))
    amphora = fleet.new_row(want.loadbalancer_id)
    fleet.ready(amphora, want)
    first, second = compute.creates
    assert first["files"] is None and second["files"]   # the address first, then the boot
    assert set(second["files"]) == {"ca.pem", "server.pem", "heartbeat.key"}
    boot = second["boot"]
    assert (boot.agent_port, boot.controllers) == (
        core.conf.controller_worker.agent_port, (CONTROLLER,))
    assert boot.heartbeat_interval == core.conf.health_manager.heartbeat_interval
    assert boot.loadbalancer_id == want.loadbalancer_id
    assert (boot.zone, boot.flavor, boot.anti_affinity) == (None, None, False)
    assert _status(core, amphora.id) == "ALLOCATED"


def test_a_failed_boot_removes_the_amphora_and_marks_it_error(core):
    compute = BootingCompute(fail_boot=True)
    fleet = Fleet(core.context, compute, controller=CONTROLLER)
    want = fleet.want(_lb(core))
    amphora = fleet.new_row(want.loadbalancer_id)
    with pytest.raises(ComputeError) as caught:
        fleet.ready(amphora, want)
    assert caught.value.user_message == nova_errors.NO_HOST
    assert compute.deleted == [amphora.id] and not compute.exists(amphora.id)
    assert _status(core, amphora.id) == "ERROR"


def test_an_agent_that_never_answers_fails_the_boot_and_removes_the_amphora(core, monkeypatch):
    compute = BootingCompute()
    fleet = Fleet(core.context, compute, controller=CONTROLLER)
    monkeypatch.setattr(fleet.agents, "ready", lambda ip, timeout=1.0: False)
    want = fleet.want(_lb(core))
    amphora = fleet.new_row(want.loadbalancer_id)
    with pytest.raises(TimeoutError):
        fleet.ready(amphora, want)
    assert not compute.exists(amphora.id)
    assert _status(core, amphora.id) == "ERROR"


def test_the_retry_after_a_failed_boot_boots_a_new_amphora(core):
    compute = BootingCompute(fail_boot=True)
    fleet = Fleet(core.context, compute, controller=CONTROLLER)
    want = fleet.want(_lb(core))
    with pytest.raises(ComputeError):
        fleet.ensure(want)
    compute.fail_boot = False
    [amphora], _ = fleet.ensure(fleet.want(want.loadbalancer_id))
    rows = Amphorae(core.context).of_loadbalancer(want.loadbalancer_id)
    assert sorted(a.status for a in rows) == ["ALLOCATED", "ERROR"]
    assert compute.exists(amphora.id)


def test_boot_settings_carry_the_zone_the_flavor_and_anti_affinity(core):
    core.conf.set_override("enable_anti_affinity", True, group="nova")
    try:
        fleet = Fleet(core.context, BootingCompute(), controller=CONTROLLER)
        want = fleet.want(_lb(core, "ACTIVE_STANDBY",
                              zone={"compute_zone": "az1", "management_network": "net-m"},
                              flavor={"compute_flavor": "f1", "amp_image_tag": "amp-t"}))
        boot = fleet.boot_settings(want)
        assert (boot.zone, boot.management_network) == ("az1", "net-m")
        assert (boot.flavor, boot.image_tag, boot.anti_affinity) == ("f1", "amp-t", True)
        assert not fleet._spare_fits(want)   # a spare is in no zone and no group
    finally:
        core.conf.clear_override("enable_anti_affinity", group="nova")


def test_spares_still_serve_a_load_balancer_with_no_placement(core):
    fleet = Fleet(core.context, BootingCompute(), controller=CONTROLLER)
    assert fleet._spare_fits(fleet.want(_lb(core, "ACTIVE_STANDBY")))   # anti-affinity off


# -- the nova backend's options --------------------------------------------------------------
def test_octavias_nova_options_have_octavias_defaults():
    conf = lbaas_conf.make_conf()
    worker = conf.controller_worker
    assert (worker.amp_active_retries, worker.amp_active_wait_sec) == (30, 10)
    assert (worker.amp_boot_network_list, worker.amp_secgroup_list) == ([], [])
    assert worker.user_data_config_drive is False
    assert (conf.nova.enable_anti_affinity, conf.nova.anti_affinity_policy) == (
        False, "anti-affinity")
    assert conf.nova.availability_zone is None


def test_the_nova_policy_refuses_an_unknown_policy(tmp_path):
    path = tmp_path / "lbaas.conf"
    path.write_text("[nova]\nanti_affinity_policy = affinity\n")
    conf = lbaas_conf.make_conf(config_files=[str(path)])
    with pytest.raises(ValueError):
        _ = conf.nova.anti_affinity_policy


def test_choosing_the_nova_backend_registers_novas_endpoint_options(tmp_path):
    path = tmp_path / "lbaas.conf"
    path.write_text("[amphora_compute]\ndriver = nova\n[nova]\nvalid_interfaces = internal\n")
    conf = lbaas_conf.make_conf(config_files=[str(path)])
    assert conf.nova.valid_interfaces == ["internal"]
    assert conf.service_auth.auth_type is None


def test_the_nova_backend_loads_by_name_and_starts_the_agent_at_boot(tmp_path):
    from lbaas.drivers.amphora.compute import load_from_conf
    path = tmp_path / "lbaas.conf"
    path.write_text("[amphora_compute]\ndriver = nova\n")
    compute = load_from_conf(lbaas_conf.make_conf(config_files=[str(path)]))
    assert type(compute).__name__ == "NovaCompute"
    assert compute.agent_at_boot and compute.host is None


@pytest.mark.parametrize("text, status, user", [
    ("Quota exceeded for instances: Requested 1, but already used 10 of 10 instances",
     403, nova_errors.QUOTA),
    ("No valid host was found. There are not enough hosts available.", None,
     nova_errors.NO_HOST),
    ("Flavor 42 could not be found.", 400, nova_errors.FLAVOR_MISSING),   # Nova 34's words
    ("Image 0c6d could not be found.", 400, nova_errors.IMAGE_MISSING),
    ("Can not find requested image", 400, nova_errors.IMAGE_MISSING),   # Nova 34's words
    ("Unexpected API Error.", 500, nova_errors.UNREACHABLE),
    ("Invalid key_name provided.", 400, nova_errors.FAILED),
])
def test_novas_refusals_get_a_reason_the_user_may_read(text, status, user):
    assert nova_errors.user_message(text, status) == user
