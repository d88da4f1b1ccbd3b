"""Restart a HAProxy (or keepalived) that died on its own, within a second, before anyone
fails the amphora over.

Without it a crashed HAProxy leaves the agent sending heartbeats without listeners until
the health manager replaces the whole amphora (about 3 s, and a new amphora). HAProxy the
controller stopped on purpose stays stopped (HAProxyManager remembers the stop). A
keepalived that died is started again after the VIPs it left behind are removed.
"""
import logging
import threading

LOG = logging.getLogger("lbaas.agent")


class Supervisor(threading.Thread):
    """A daemon thread that revives every load balancer's HAProxy once per interval."""

    def __init__(self, manager, interval=1.0, vrrp=None):
        super().__init__(name="haproxy-supervisor", daemon=True)
        self.manager, self.interval, self.vrrp = manager, interval, vrrp
        self._stopped = threading.Event()

    def check_once(self):
        """Start every installed HAProxy (and keepalived) that should run and does not;
        -> their lb ids (and "keepalived")."""
        revived = []
        for lb_id in self.manager.lb_ids():
            try:
                if self.manager.revive(lb_id):
                    revived.append(lb_id)
            except Exception as exc:   # noqa: BLE001 - one broken LB must not stop the rest
                LOG.warning("could not restart the HAProxy of %s: %s", lb_id, exc)
        if self.vrrp is not None:
            try:
                if self.vrrp.revive():
                    revived.append("keepalived")
            except Exception as exc:   # noqa: BLE001 - retried at the next interval
                LOG.warning("could not restart keepalived: %s", exc)
        return revived

    def run(self):
        while not self._stopped.wait(self.interval):
            self.check_once()

    def stop(self, timeout=None):
        """Stop checking."""
        self._stopped.set()
        self.join(timeout)
