"""lbaas's Prometheus metrics and health checks, importable by every layer but the agent.

`definitions` holds every metric family (names prefixed `lbaas_`); `labels` bounds label
values; `liveness` records the beats of the processes' main loops; `health` holds the
oslo.middleware health-check backends; `server` serves /metrics and /healthcheck on a port of
its own; `multiproc` is prometheus-client's multiprocess mode for gunicorn's workers.
The package imports nothing of lbaas but lbaas.conf.
"""
