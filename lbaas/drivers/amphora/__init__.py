"""The amphora driver: HAProxy (and keepalived) in amphorae managed by a worker."""
