"""The event-notification options lbaas adds to oslo.messaging's own.

`[controller_worker] event_notifications` is Octavia's name and default; as in Octavia,
nothing is sent until `[oslo_messaging_notifications] driver` is set (oslo.messaging's
option, with `transport_url`, `topics` and `retry`, documented in the sample).
"""
from oslo_config import cfg

NOTIFICATIONS_GROUP = "oslo_messaging_notifications"

notification_opts = [
    cfg.BoolOpt("event_notifications", default=True,
                help="Send octavia.loadbalancer.{create,update,delete}.end notifications "
                     "when a load balancer operation completes. Nothing is sent, and "
                     "oslo.messaging is not even loaded, until the configuration file sets "
                     "[oslo_messaging_notifications] driver (messagingv2, log, ...)."),
    cfg.IntOpt("event_notifications_queue", default=1000, min=1,
               help="Notifications a process keeps while the message bus is slow or "
                    "unreachable; past this, new ones are dropped (logged and counted), so "
                    "that sending never delays an API request or a status update."),
    cfg.FloatOpt("event_notifications_stop_timeout", default=5.0, min=0.0,
                 help="Seconds a stopping process waits for queued notifications to be "
                      "sent; those left are logged as lost."),
]


def list_messaging_opts():
    """oslo.messaging's [oslo_messaging_notifications] options, for the sample file only.

    Importing oslo.messaging costs a process 0.3 s: only the sample generator calls this.
    """
    from oslo_messaging.notify import notifier
    return [(NOTIFICATIONS_GROUP, notifier._notifier_opts)]
