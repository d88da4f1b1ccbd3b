"""The health manager as a background service of `lbaas serve`: heartbeats in, silent
amphorae failed over by the in-process worker."""
from lbaas.drivers.amphora.health.failover import FailoverScanner
from lbaas.drivers.amphora.health.manager import HealthManager
from lbaas.drivers.amphora.health.server import HeartbeatServer
from lbaas.drivers.amphora.store.rows import Amphorae
from lbaas.metrics import collectors


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


class HealthService:
    """The heartbeat receiver and the failover scanner beside an in-process worker."""

    def __init__(self, context, worker):
        host, port = heartbeat_bind(context.conf, worker.compute)
        self.server = HeartbeatServer(context.conf,
                                      HealthManager(context, delete_zombie=worker.delete_amphora),
                                      bind_ip=host, bind_port=port)
        self.scanner = FailoverScanner(context, worker.failover)
        self.started = False
        collectors.set_amphora_counts(Amphorae(context).counts)

    @property
    def address(self):
        """(host, port) heartbeats are received on."""
        return self.server.address

    def start(self):
        """Receive heartbeats and scan for silent amphorae; -> self."""
        self.server.start()
        self.scanner.start()
        self.started = True
        return self

    def stop(self):
        """Stop scanning and receiving, and close the socket (also if never started)."""
        if self.started:
            self.scanner.stop()
            self.started = False
        self.server.stop()

    def describe(self):
        """One line for `lbaas serve`'s start-up message."""
        host, port = self.address
        return f"health:    heartbeats on udp {host}:{port}"
