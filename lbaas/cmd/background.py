"""What `lbaas serve` runs beside the API: the drivers' declared background services (the
amphora health manager and housekeeping, the OVN sync) and the driver agent."""
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


def start_services(core):
    """Start the background services the enabled drivers declare (lbaas.core.drivers);
    -> them, started."""
    return [service.start() for service in core.drivers.background_services()]


def start_driver_agent(core, embedded=False):
    """Start the driver agent (octavia-lib's sockets, provider agents) when drivers need it;
    returns it, or None (lbaas.driver_agent.service.start_in_process says when)."""
    from lbaas.driver_agent.service import start_in_process
    return start_in_process(core, embedded)
