"""Restart a HAProxy that died on its own, within a second, before anyone fails it over.

Without it a crashed HAProxy leaves the agent sending heartbeats without listeners until
the health manager replaces the whole amphora (about 3 s, and a new amphora). HAProxy the
controller stopped on purpose stays stopped (HAProxyManager remembers the stop).
"""
import logging
import threading

LOG = logging.getLogger("lbaas.agent")


class Supervisor(threading.Thread):
    """A daemon thread that revives every load balancer's HAProxy once per interval."""

    def __init__(self, manager, interval=1.0):
        super().__init__(name="haproxy-supervisor", daemon=True)
        self.manager, self.interval = manager, interval
        self._stopped = threading.Event()

    def check_once(self):
        """Start every installed HAProxy that should run and does not; -> their lb ids."""
        revived = []
        for lb_id in self.manager.lb_ids():
            try:
                if self.manager.revive(lb_id):
                    revived.append(lb_id)
            except Exception as exc:   # noqa: BLE001 - one broken LB must not stop the rest
                LOG.warning("could not restart the HAProxy of %s: %s", lb_id, exc)
        return revived

    def run(self):
        while not self._stopped.wait(self.interval):
            self.check_once()

    def stop(self, timeout=None):
        """Stop checking."""
        self._stopped.set()
        self.join(timeout)
