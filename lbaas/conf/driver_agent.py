"""The `[driver_agent]` options, with Octavia's names and octavia-lib's socket paths."""
from oslo_config import cfg

# DriverLibrary() without arguments connects to these; an operator who keeps them lets an
# unmodified driver work as it would beside Octavia. `lbaas serve` without a configuration
# file puts the sockets in its state directory instead (see lbaas.driver_agent.service).
DEFAULT_STATUS_SOCKET = "/var/run/octavia/status.sock"
DEFAULT_STATS_SOCKET = "/var/run/octavia/stats.sock"
DEFAULT_GET_SOCKET = "/var/run/octavia/get.sock"

driver_agent_opts = [
    cfg.StrOpt("status_socket_path", default=DEFAULT_STATUS_SOCKET,
               help="Unix socket drivers send status updates to "
                    "(DriverLibrary(status_socket=...))."),
    cfg.StrOpt("stats_socket_path", default=DEFAULT_STATS_SOCKET,
               help="Unix socket drivers send listener statistics to "
                    "(DriverLibrary(stats_socket=...))."),
    cfg.StrOpt("get_socket_path", default=DEFAULT_GET_SOCKET,
               help="Unix socket drivers read objects from (DriverLibrary(get_socket=...))."),
    cfg.IntOpt("status_request_timeout", default=5, min=1,
               help="Seconds a status request may take to arrive before it is dropped."),
    cfg.IntOpt("stats_request_timeout", default=5, min=1,
               help="Seconds a statistics request may take to arrive before it is dropped."),
    cfg.IntOpt("get_request_timeout", default=5, min=1,
               help="Seconds a get request may take to arrive before it is dropped."),
    cfg.IntOpt("status_max_processes", default=50, min=1,
               help="Status requests served at once (one thread each); more wait."),
    cfg.IntOpt("stats_max_processes", default=50, min=1,
               help="Statistics requests served at once (one thread each); more wait."),
    cfg.IntOpt("get_max_processes", default=50, min=1,
               help="Get requests served at once (one thread each); more wait."),
    cfg.FloatOpt("max_process_warning_percent", default=0.75, min=0.01, max=1.0,
                 help="Log a warning when a socket serves this fraction of its maximum."),
    cfg.IntOpt("provider_agent_shutdown_timeout", default=60, min=0,
               help="Seconds a provider agent has to exit after being told to, before it is "
                    "killed."),
    cfg.ListOpt("enabled_provider_agents", default=[],
                help="Provider agents to run and supervise: entry-point names in the "
                     "octavia.driver_agent.provider_agents namespace."),
]
