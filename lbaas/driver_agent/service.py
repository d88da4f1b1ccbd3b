"""Running the driver agent: inside `lbaas serve`, or as `lbaas-driver-agent`.

Where the sockets are is told to drivers (and to provider agents, which inherit it) in
the environment: LBAAS_DRIVER_AGENT_STATUS_SOCKET, _STATS_SOCKET and _GET_SOCKET. A driver
passes them to `DriverLibrary(status_socket=..., stats_socket=..., get_socket=...)`; one
that uses DriverLibrary() unchanged needs the paths left at octavia-lib's defaults.
"""
import logging
import os

LOG = logging.getLogger(__name__)
SOCKETS = ("status", "stats", "get")
EMBEDDED_DIR = "driver-agent"  # under state_path, for `lbaas serve` without a config file


def use_state_path(conf):
    """Put the three sockets in <state_path>/driver-agent/ (the embedded default)."""
    folder = os.path.join(conf.state_path, EMBEDDED_DIR)
    for name in SOCKETS:
        conf.set_override(f"{name}_socket_path", os.path.join(folder, f"{name}.sock"),
                          group="driver_agent")


def export(agent, environ=None):
    """Publish the socket paths in the environment (os.environ unless given)."""
    environ = os.environ if environ is None else environ
    environ.update(agent.environment)


def out_of_tree_providers(core):
    """Names of the loaded provider drivers that report through the sockets (those without
    lbaas's in-process port)."""
    return core.drivers.reporting_elsewhere()


def start_in_process(core, embedded):
    """The driver agent of `lbaas serve`; returns it, or None when it is not started.

    Embedded (no configuration file): always, with the sockets under the state path.
    With a configuration file: when an enabled provider driver is not lbaas's own or a
    provider agent is enabled (built-in drivers report in-process), at the configured paths;
    failing to bind is then fatal.
    """
    from lbaas.driver_agent.server import DriverAgent
    conf = core.conf
    if embedded:
        use_state_path(conf)
    needed = out_of_tree_providers(core) or conf.driver_agent.enabled_provider_agents
    if not embedded and not needed:
        return None
    agent = DriverAgent(core)
    try:
        agent.start()
    except Exception as exc:
        if needed:
            raise SystemExit(f"lbaas serve: the driver agent cannot start: {exc}") from exc
        LOG.warning("driver agent not started: %s", exc)
        return None
    export(agent)
    return agent
