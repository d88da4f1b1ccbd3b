"""A real OpenStack cloud for the Neutron and Nova modes of the benchmarks: MariaDB, the OVN
stack (ovs-vswitchd, br-int, ovn-controller, so Neutron ports bound here carry traffic),
Keystone and Neutron (ML2/OVN); with `nova=True` also RabbitMQ, Placement, Glance, Nova and a
nova-compute with the libvirt driver (QEMU/TCG). The same runners the test suite uses
(testbed/cloud/), started once per benchmark run and stopped at its end.
"""
import contextlib
import os
import time
from pathlib import Path

from testbed import mariadb, ovn_stack, rabbitmq
from testbed.cloud import keystone, neutron, nova_cloud, nova_libvirt, ovn_nb
from testbed.cloud.neutron_cloud import NeutronCloud


def unavailable(nova=False):
    """Why the cloud cannot run here, or None."""
    reason = (keystone.unavailable() or neutron.unavailable() or ovn_nb.unavailable()
              or ovn_nb.northd_unavailable() or ovn_stack.unavailable())
    if reason or not nova:
        return reason
    return rabbitmq.installed() or nova_cloud.unavailable() or nova_libvirt.unavailable()


@contextlib.contextmanager
def cloud(root, nova=False):
    """Yield a started cloud: `.neutron` (NeutronCloud), and with nova=True `.nova` (NovaCloud)
    and `.libvirt` (LibvirtCompute); `.timings` holds each part's start-up seconds."""
    root = Path(root)
    parts = _Parts()
    with contextlib.ExitStack() as stack:
        parts.db = _started(stack, parts, "mariadb", mariadb.Server())
        database = parts.db.create_database(f"neutron_{os.getpid()}")
        parts.neutron = _started(stack, parts, "neutron",
                                 NeutronCloud(root / "neutron", database,
                                              ovn_stack=ovn_stack.OvnStack(root / "ovn")))
        if nova:
            parts.broker = _started(stack, parts, "rabbitmq", rabbitmq.Broker(root / "rabbitmq"))
            parts.nova = _started(stack, parts, "nova",
                                  nova_cloud.NovaCloud(parts.neutron, parts.db,
                                                       parts.broker.add_vhost(), root / "nova"))
            parts.libvirt = _started(stack, parts, "libvirt",
                                     nova_libvirt.LibvirtCompute(parts.nova, root / "libvirt"))
        yield parts


class _Parts:
    """The started services of one cloud, and how long each took to start."""

    db = neutron = broker = nova = libvirt = None

    def __init__(self):
        self.timings = {}


def _started(stack, parts, name, service):
    """Start a service, stop it when the stack unwinds; -> the service."""
    begin = time.monotonic()
    started = service.start()
    stack.callback(service.stop)
    parts.timings[name] = round(time.monotonic() - begin, 1)
    return started if started is not None else service
