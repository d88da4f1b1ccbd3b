"""Which notifier a configuration gets, and the sending thread's bounds (oslo.messaging's
`log` driver: real oslo.messaging, no bus needed)."""
import logging
import threading
import time

import pytest

from lbaas import conf as lbaas_conf
from lbaas.core import events, notifiers
from lbaas.core.notifier import Notifier

EVENT = events.Event("octavia.loadbalancer.create.end", {"loadbalancer_id": "lb-1"}, "proj-1")


def conf_from(tmp_path, text):
    path = tmp_path / "lbaas.conf"
    path.write_text(text)
    return lbaas_conf.make_conf(config_files=[str(path)])


def test_no_section_is_the_noop_notifier(tmp_path):
    """Octavia's default: event_notifications = True, but no driver: nothing is sent."""
    assert type(notifiers.load(conf_from(tmp_path, "[DEFAULT]\n"))) is Notifier


def test_empty_driver_is_the_noop_notifier(tmp_path):
    conf = conf_from(tmp_path, "[oslo_messaging_notifications]\ntopics = x\n")
    assert type(notifiers.load(conf)) is Notifier


def test_event_notifications_false_wins_over_a_driver(tmp_path):
    conf = conf_from(tmp_path, "[controller_worker]\nevent_notifications = false\n"
                               "[oslo_messaging_notifications]\ndriver = log\n")
    assert type(notifiers.load(conf)) is Notifier


def test_messagingv2_without_any_transport_url_is_a_start_error(tmp_path):
    """A bus driver with no bus named: refused at start, naming both options."""
    conf = conf_from(tmp_path, "[oslo_messaging_notifications]\ndriver = messagingv2\n")
    with pytest.raises(RuntimeError, match="transport_url"):
        notifiers.load(conf)


def test_log_driver_sends_through_oslo_messaging(tmp_path, caplog):
    """driver = log: oslo.messaging logs the notification; the counters say sent."""
    notifier = notifiers.load(conf_from(tmp_path, "[oslo_messaging_notifications]\n"
                                                  "driver = log\n"))
    caplog.set_level(logging.INFO)
    notifier.notify(EVENT)
    notifier.close()
    assert notifier.counters() == {"sent": 1, "dropped": 0, "failed": 0}
    logged = [r for r in caplog.records
              if r.name == "oslo.messaging.notification.octavia.loadbalancer.create.end"]
    assert len(logged) == 1 and '"loadbalancer_id": "lb-1"' in logged[0].getMessage()


def test_a_full_queue_drops_and_never_blocks(tmp_path, caplog):
    """With the sender stuck (the bus away), notify() returns at once and drops past the bound.

    The stuck bus is simulated by holding oslo.messaging's send: an unreachable RabbitMQ
    with retry = -1 blocks the same way (tests/functional/test_notifications_rabbitmq.py
    shows the failing-fast case on a real port).
    """
    notifier = notifiers.load(conf_from(
        tmp_path, "[controller_worker]\nevent_notifications_queue = 2\n"
                  "event_notifications_stop_timeout = 0.2\n"
                  "[oslo_messaging_notifications]\ndriver = log\n"))
    release = threading.Event()
    notifier._sender.info = lambda *a, **kw: release.wait(10)
    caplog.set_level(logging.WARNING)
    started = time.monotonic()
    for _ in range(10):
        notifier.notify(EVENT)
    elapsed = time.monotonic() - started
    assert elapsed < 0.1
    # one in the sender's hands, two queued, the rest dropped
    assert notifier.counters()["dropped"] >= 7
    assert any("dropped" in r.getMessage() for r in caplog.records)
    release.set()
    notifier.close()
    assert notifier.counters()["sent"] + notifier.counters()["dropped"] == 10


def test_notify_after_close_drops(tmp_path):
    notifier = notifiers.load(conf_from(tmp_path, "[oslo_messaging_notifications]\n"
                                                  "driver = log\n"))
    notifier.close()
    notifier.notify(EVENT)
    assert notifier.counters()["dropped"] == 1
