"""The event-notification seam: where core hands the events of completed operations.

This base class sends nothing; lbaas.core.notifier_messaging sends through oslo.messaging;
lbaas.core.notifiers.load picks one from the configuration.
"""


class Notifier:
    """Sends nothing: notifications are off. Implementations never block nor raise."""

    enabled = False

    def notify(self, event):
        """Hand one lbaas.core.events.Event over for sending, without waiting."""

    def counters(self):
        """How many events were sent, dropped (queue full) and failed (bus refused)."""
        return {"sent": 0, "dropped": 0, "failed": 0}

    def close(self):
        """Send what is queued (for a bounded time) and release the transport."""
