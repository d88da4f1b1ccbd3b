"""The options of the other built-in providers: noop and OVN."""
from oslo_config import cfg

noop_opts = [
    cfg.FloatOpt("report_delay", default=0.0, min=0.0,
                 help="Seconds the noop driver waits before reporting (0: at once)."),
    cfg.StrOpt("operating_status", default="healthy", choices=[
        ("healthy", "as a healthy data plane shows them: ONLINE (OFFLINE when admin-down), "
                    "members NO_MONITOR without a monitor"),
        ("unmeasured", "as upstream Octavia's noop backends leave them, which its API tests "
                       "assert: measured statuses (load balancer, listener, pool, monitored "
                       "member) stay as created; monitors and L7 policies and rules follow "
                       "their admin state")],
               help="The operating statuses the noop provider reports."),
]

ovn_opts = [
    cfg.StrOpt("ovn_nb_connection", default="tcp:127.0.0.1:6641",
               help="The OVN Northbound database the driver writes load balancers into: "
                    "unix:PATH or tcp:IP:PORT (several, comma-separated, for a cluster)."),
    cfg.StrOpt("ovn_sb_connection", default="tcp:127.0.0.1:6642",
               help="The OVN Southbound database whose Service_Monitor rows give member "
                    "health (read only): unix:PATH or tcp:IP:PORT. Empty: no health "
                    "following; members of monitored pools keep the status the driver set."),
    cfg.IntOpt("ovsdb_connection_timeout", default=30, min=1,
               help="Seconds to wait for an OVSDB server when connecting and for one "
                    "transaction to commit; a commit that times out reports ERROR."),
    cfg.IntOpt("sync_interval", default=60, min=0,
               help="Seconds between two full comparisons of the database with the "
                    "Northbound rows, which repair any drift (0: only at start and after a "
                    "reconnection)."),
    cfg.FloatOpt("status_debounce", default=0.05, min=0.0,
                 help="Seconds Service_Monitor changes are gathered before member operating "
                      "statuses are recomputed (one pass for a burst of changes)."),
]

