"""The background services `lbaas serve` runs beside the API when the amphora provider is on."""
import logging
import os
import secrets

LOG = logging.getLogger(__name__)
KEY_FILE = "heartbeat.key"


def ensure_heartbeat_key(conf):
    """Use [health_manager] heartbeat_key, or a random one kept in the state directory."""
    if conf.health_manager.heartbeat_key:
        return
    path = os.path.join(conf.state_path, KEY_FILE)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        os.fchmod(fd, 0o600)  # whatever the umask took
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32))
    with open(path) as f:
        conf.set_override("heartbeat_key", f.read().strip(), group="health_manager")


def heartbeat_bind(conf, compute):
    """Where the in-process health manager listens: amphorae must reach it.

    With the local compute backend and a loopback bind_ip (the default), that is the
    management bridge's own address, which the amphorae use as their controller address.
    """
    hm = conf.health_manager
    gateway = getattr(compute, "gateway", None)
    if gateway and hm.bind_ip in ("127.0.0.1", "::1") and not hm.controller_ip_port_list:
        return gateway.split("/")[0], hm.bind_port
    return hm.bind_ip, hm.bind_port


def start_health(core):
    """Start the health manager and failover scanner beside the in-process amphora worker;
    returns the heartbeat server (its `scanner` attribute the scanner) or None."""
    driver = core.drivers._drivers.get("amphora")
    worker = getattr(driver, "worker", None)
    if worker is None:
        return None
    from lbaas.drivers.amphora.health.manager import HealthManager
    from lbaas.drivers.amphora.health.server import HeartbeatServer
    from lbaas.drivers.amphora.health.failover import FailoverScanner
    host, port = heartbeat_bind(core.conf, worker.compute)
    server = HeartbeatServer(core.conf, HealthManager(core, delete_zombie=worker.delete_amphora),
                             bind_ip=host, bind_port=port)
    server.start()
    server.scanner = FailoverScanner(core, worker.failover).start()
    return server


def start_housekeeping(core):
    """Start housekeeping (purge, orphans, certificate rotation) beside the in-process
    amphora worker, on its compute backend and reconciler; returns it, or None."""
    driver = core.drivers._drivers.get("amphora")
    worker = getattr(driver, "worker", None)
    if worker is None:
        return None
    from lbaas.drivers.amphora.housekeeping import Housekeeper
    return Housekeeper(core, worker.compute, worker.reconciler).start()


def start_ovn(core):
    """Start the OVN sync service (periodic sync, member health from Southbound) beside an
    in-process OVN driver; returns it, or None."""
    if not any(type(d).__module__.startswith("lbaas.drivers.ovn.")
               for d in core.drivers._drivers.values()):
        return None
    from lbaas.drivers.ovn.service import start_in_process
    return start_in_process(core)


def start_driver_agent(core, embedded=False):
    """Start the driver agent (octavia-lib's sockets, provider agents) when drivers need it;
    returns it, or None (lbaas.driver_agent.service.start_in_process says when)."""
    from lbaas.driver_agent.service import start_in_process
    return start_in_process(core, embedded)
