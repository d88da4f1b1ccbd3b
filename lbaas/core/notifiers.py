"""Which notifier a configuration asks for.

oslo.messaging's (lbaas.core.notifier_messaging) only when notifications are asked for, so a
process that sends none never loads oslo.messaging (0.3 s) nor starts a thread.
"""
import logging

from lbaas.conf.notifications import NOTIFICATIONS_GROUP
from lbaas.core.notifier import Notifier

LOG = logging.getLogger(__name__)


def _requested(conf):
    """Whether the configuration names [oslo_messaging_notifications] at all."""
    return (NOTIFICATIONS_GROUP in conf.list_all_sections()   # a configuration file's section
            or NOTIFICATIONS_GROUP in conf)                   # options registered and overridden


def load(conf):
    """The notifier the configuration asks for; raises RuntimeError when it is unusable."""
    if not conf.controller_worker.event_notifications or not _requested(conf):
        return Notifier()
    from lbaas.core import notifier_messaging
    drivers = notifier_messaging.drivers(conf)
    if not drivers or set(drivers) <= {"noop"}:
        LOG.info("event notifications: [%s] driver is %s; none are sent",
                 NOTIFICATIONS_GROUP, drivers or "empty")
        return Notifier()
    return notifier_messaging.MessagingNotifier(conf)
