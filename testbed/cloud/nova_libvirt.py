"""A nova-compute with the libvirt driver (QEMU/TCG) on the neutron cloud's real OVN chassis.

`LibvirtCompute(nova_cloud, state_dir).start()` runs libvirtd (testbed/cloud/libvirtd.py) inside the
OvnStack's vswitchd namespace and one more nova-compute of the session's `nova_cloud`, whose
host is the name ovn-controller registered its chassis under (neutron_dataplane.host_id()):
ML2/OVN binds its servers' ports there (`vif_type` ovs), os-vif's ovs plugin leaves the tap to
libvirt, which adds it to br-int with `external_ids:iface-id` = the port's id, and
ovn-controller claims it. The host is put in an aggregate whose availability zone
(`ZONE`) is the only way a server lands on it (the fake hosts stay in `nova`).

`stop()` stops the compute, destroys its guests (Nova leaves them running), stops libvirtd
and deletes the compute's service from Nova (and so its resource provider), so the modules
after it in the session see the two fake hosts only. docs/testing.md ("The libvirt driver
on the real chassis") has what was found.
"""
import os
import shutil
import time
from pathlib import Path

import requests

from testbed.cloud import libvirtd, nova
from testbed.cloud.neutron_dataplane import host_id
from testbed.service import wait_for

ZONE = "lbaas-libvirt"
ADMIN = "cloud-admin"  # keystone.USERS: admin of the cloud (aggregates)


def unavailable():
    """Why a libvirt compute cannot run here, or None."""
    reason = libvirtd.unavailable()
    if reason:
        return reason
    probe = nova.VENV / "bin" / "python"
    if os.system(f"{probe} -c 'import libvirt' >/dev/null 2>&1") != 0:
        return (f"libvirt-python is not in {nova.VENV} (scripts/setup.sh --test installs it "
                "with libvirt-dev and pkg-config)")
    return None


class LibvirtCompute:
    """libvirtd in the stack's vswitchd namespace and a nova-compute using it."""

    def __init__(self, nova_cloud, state_dir):
        self.cloud = nova_cloud
        self.stack = nova_cloud.neutron_cloud.stack
        self.host = host_id()
        self.dir = Path(state_dir)
        # QEMU runs as libvirt-qemu and must traverse to the instance files: pytest's base
        # temporary directory is 0700, so the instances live in a directory of their own
        self.instances = Path(f"/var/tmp/lbaas-nova-instances-{os.getpid()}")
        self.libvirt = libvirtd.Libvirtd(self.dir / "libvirt", netns=self.stack.hv_netns,
                                         ovs_rundir=self.stack.run_dir)
        self.timings = {}
        self.aggregate = None

    def config(self):
        """The compute's own file (after nova.conf)."""
        privsep = (f"{nova.VENV / 'bin' / 'privsep-helper'} --config-file "
                   f"{self.cloud.nova.conf_path} --config-file "
                   f"{self.cloud.nova.compute_conf(self.host)}")
        return f"""\
            # the debug lines show where a boot's time goes (see docs/testing.md)
            debug = true
            compute_driver = libvirt.LibvirtDriver
            instances_path = {self.instances}
            # Neutron's notifications to Nova are off: no network-vif-plugged event comes
            vif_plugging_is_fatal = false
            vif_plugging_timeout = 0
            # the amphora image is qcow2: used as the backing file as it is, not converted
            # to raw in _base first
            force_raw_images = false

            [libvirt]
            virt_type = qemu
            cpu_mode = none
            connection_uri = {self.libvirt.uri}

            [os_vif_ovs]
            ovsdb_connection = unix:{self.stack.db_sock}

            [nova_sys_admin]
            helper_command = {privsep}

            # Neutron's OVN driver asks os-vif to make the tap (binding:vif_details
            # ovs_create_tap), which libvirt then opens by name (<interface type='ethernet'>,
            # managed='no'): os-vif's privileged helper runs in the vswitchd namespace, where
            # libvirtd and QEMU are; from the root namespace QEMU's start failed with
            # "target managed='no' but specified dev doesn't exist"
            [vif_plug_ovs_privileged]
            helper_command = ip netns exec {self.stack.hv_netns} {privsep}

            [vif_plug_linux_bridge_privileged]
            helper_command = {privsep}
            """

    def start(self, timeout=300.0):
        """libvirtd, the compute, its aggregate; waits until Nova can schedule to it."""
        started = time.monotonic()
        self.instances.mkdir(mode=0o755, exist_ok=True)
        try:
            self.libvirt.start()
            self.cloud.nova.add_compute(self.host, self.config())
            self.cloud.wait_computes(timeout, hosts=(self.host,))
            self.timings["compute up and mapped"] = time.monotonic() - started
            admin = self.cloud.connection(ADMIN)
            self.aggregate = admin.compute.create_aggregate(name=f"{ZONE}-{os.getpid()}",
                                                            availability_zone=ZONE)
            admin.compute.add_host_to_aggregate(self.aggregate, self.host)
        except BaseException:
            self.stop()
            raise
        return self

    def console(self, server_id):
        """The guest's serial console log so far ('' before it exists)."""
        path = self.instances / server_id / "console.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def servers(self, admin):
        """Every server (of any project) on this host."""
        return [server for server in admin.compute.servers(all_projects=True)
                if server.compute_host == self.host]

    def stop(self):
        """Delete the servers left on the host (a failed test's), stop the compute, destroy
        its guests, stop libvirtd, forget the host in Nova (which refuses while it has
        servers)."""
        daemon = self.cloud.nova.daemons.pop(f"compute-{self.host}", None)
        try:
            if daemon is not None and daemon.proc.poll() is None:
                admin = self.cloud.connection(ADMIN)
                for server in self.servers(admin):
                    admin.compute.delete_server(server)
                wait_for(lambda: not self.servers(admin), 120,
                         f"no server left on {self.host}", 1.0)
            if daemon is not None:
                daemon.terminate()
                daemon.stop()
        finally:
            try:
                self.libvirt.stop()
            finally:
                shutil.rmtree(self.instances, ignore_errors=True)
                self._forget()

    def _forget(self):
        admin = self.cloud.connection(ADMIN)
        if self.aggregate is not None:
            admin.compute.remove_host_from_aggregate(self.aggregate, self.host)
            admin.compute.delete_aggregate(self.aggregate)
        token = self.cloud.token("nova", "service")
        headers = {"X-Auth-Token": token, "OpenStack-API-Version": "compute 2.53"}
        services = requests.get(self.cloud.nova.endpoint + "/os-services",
                                params={"binary": "nova-compute", "host": self.host},
                                headers=headers, timeout=30).json()["services"]
        for service in services:
            wait_for(lambda s=service: requests.delete(
                f"{self.cloud.nova.endpoint}/os-services/{s['id']}", headers=headers,
                timeout=30).status_code in (204, 404), 60,
                f"nova-compute {self.host} deleted", 1.0)
