"""Every metric family lbaas exports (docs/operators.md "Metrics" lists them for operators).

Imported once per process, after lbaas.metrics.multiproc.prepare() when the process is a
gunicorn worker (prometheus-client picks its value store at import). Gauges say how
gunicorn's workers combine (`multiprocess_mode`); other processes ignore it.
Figures that another object already counts (the heartbeat receiver's counters, the amphora
rows) are read at scrape time by collectors (lbaas.metrics.collectors), never duplicated.
"""
from prometheus_client import Counter, Gauge, Histogram, disable_created_metrics

disable_created_metrics()   # no *_created series: half the samples, nothing operators page on

RECONCILE_BUCKETS = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)

# -- the API (lbaas.api.metrics) ---------------------------------------------------------
API_REQUESTS = Counter(
    "lbaas_api_requests", "API requests answered, by URL rule, method and status code.",
    ["route", "method", "status"])
API_LATENCY = Histogram(
    "lbaas_api_request_duration_seconds",
    "Time from a request's arrival in the application to its answer, by URL rule and method.",
    ["route", "method"])

# -- the amphora worker ------------------------------------------------------------------
RECONCILES = Counter(
    "lbaas_amphora_reconciles",
    "Reconcile attempts of load balancers, by outcome: succeeded, failed (retried), "
    "error (attempts exhausted: objects set ERROR), lost (the lease was taken over), "
    "deferred (another worker holds the load balancer).", ["outcome"])
RECONCILE_DURATION = Histogram(
    "lbaas_amphora_reconcile_duration_seconds",
    "Duration of one reconcile attempt, by outcome (succeeded, failed).", ["outcome"],
    buckets=RECONCILE_BUCKETS)
RECONCILE_QUEUE = Gauge(
    "lbaas_amphora_reconcile_queue_depth",
    "Load balancers queued or being reconciled by this worker.",
    multiprocess_mode="livesum")
LEASES_HELD = Gauge(
    "lbaas_amphora_leases_held", "Load balancer leases this worker holds.",
    multiprocess_mode="livesum")

# -- failovers (the health manager's scanner, the API) ------------------------------------
FAILOVERS = Counter(
    "lbaas_amphora_failovers",
    "Amphora failovers requested, by cause: heartbeat (silent amphora), "
    "loadbalancer_api (PUT .../loadbalancers/{id}/failover), amphora_api "
    "(PUT .../amphorae/{id}/failover).", ["cause"])
BREAKER_OPEN = Gauge(
    "lbaas_amphora_failover_circuit_breaker_open",
    "1 while the failover circuit breaker holds failovers back, else 0.",
    multiprocess_mode="max")
BREAKER_TRIPS = Counter(
    "lbaas_amphora_failover_circuit_breaker_trips",
    "Times the failover circuit breaker opened.")

# -- the OVN sync ------------------------------------------------------------------------
OVN_SYNCS = Counter(
    "lbaas_ovn_syncs", "Full OVN syncs, by outcome (succeeded, failed).", ["outcome"])
OVN_SYNC_DURATION = Histogram(
    "lbaas_ovn_sync_duration_seconds", "Duration of one full OVN sync.",
    buckets=RECONCILE_BUCKETS)
OVN_REPAIRS = Counter(
    "lbaas_ovn_sync_repairs",
    "What a sync repaired, by kind: stray_loadbalancer (NB rows of a load balancer lbaas no "
    "longer has, deleted), health_source (a health-check source port no load balancer "
    "uses, released).", ["repair"])

# -- the driver agent --------------------------------------------------------------------
DRIVER_AGENT_REQUESTS = Counter(
    "lbaas_driver_agent_requests",
    "Requests on the driver agent's sockets, by socket (status, stats, get) and outcome "
    "(ok, bad_request, closed).", ["socket", "outcome"])
DRIVER_AGENT_LATENCY = Histogram(
    "lbaas_driver_agent_request_duration_seconds",
    "Time to answer one driver agent request, by socket.", ["socket"])

# -- the database pool (lbaas.core.db) ---------------------------------------------------
DB_POOL_SIZE = Gauge(
    "lbaas_db_pool_size", "Connections the pool keeps ([database] max_pool_size).",
    multiprocess_mode="livesum")
DB_POOL_CHECKED_OUT = Gauge(
    "lbaas_db_pool_checked_out", "Database connections in use.",
    multiprocess_mode="livesum")
DB_POOL_OVERFLOW = Gauge(
    "lbaas_db_pool_overflow", "Connections open beyond the pool size.",
    multiprocess_mode="livesum")

# -- main loops (lbaas.metrics.liveness) -------------------------------------------------
LOOP_BEAT = Gauge(
    "lbaas_loop_last_beat_timestamp_seconds",
    "When each main loop of the process last went round (Unix time).", ["loop"],
    multiprocess_mode="max")
