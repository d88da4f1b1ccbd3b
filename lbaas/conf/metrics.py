"""The options of the metrics port ([metrics]): Prometheus figures and /healthcheck per process."""
from oslo_config import cfg

metrics_opts = [
    cfg.BoolOpt("enabled", default=False,
                help="Serve GET /metrics (Prometheus) and /healthcheck on a port of each "
                     "process's own, never on the public API's port."),
    cfg.HostAddressOpt("bind_host", default="127.0.0.1",
                       help="Address the metrics ports listen on."),
    cfg.PortOpt("bind_port", default=9877,
                help="Metrics port of `lbaas serve` and of `lbaas-api` (served by gunicorn's "
                     "arbiter, summing its workers)."),
    cfg.PortOpt("worker_port", default=9878,
                help="Metrics port of lbaas-worker (0: any free port, printed at start; "
                     "several workers on one host need --metrics-port each)."),
    cfg.PortOpt("health_port", default=9879, help="Metrics port of lbaas-health."),
    cfg.StrOpt("multiprocess_dir",
               help="Directory where lbaas-api's gunicorn workers keep their figures for the "
                    "arbiter to sum (emptied at start). Default: <state_path>/metrics-api."),
]
