"""ACTIVE_STANDBY: the keepalived VRRP configuration of a pair of amphorae."""
