"""libvirtd and virtlogd without systemd, for nova-compute's libvirt driver on QEMU/TCG.

`Libvirtd(state_dir, netns=..., ovs_rundir=...).start()` runs virtlogd and libvirtd as
plain processes (root), libvirtd's sockets in a directory of the test's (`uri` names them,
no authentication); `stop()` destroys and undefines every domain, then stops both daemons.

`netns`: libvirtd (and so every QEMU and tap it makes) runs inside that network namespace:
an OvnStack's vswitchd namespace, where br-int is, so that the taps libvirt adds to br-int
are visible to the userspace datapath (it reads them over AF_PACKET in its own namespace).
`ovs_rundir`: where that stack's `db.sock` is; libvirt runs `ovs-vsctl` without `--db`, and
ovs-vsctl finds its database through `$OVS_RUNDIR`.

The QEMU driver's own state (/run/libvirt/qemu, /var/lib/libvirt/qemu) and virtlogd's
socket are compiled-in paths of a privileged libvirtd: one such pair per machine at a time
(a lock file, waited for). docs/testing.md ("The libvirt driver") has what was found.
"""
import fcntl
import os
import shutil
import subprocess
import textwrap
import time
from pathlib import Path

from testbed.cloud import openstack_service

LOCK = Path("/run/lbaas-test-libvirtd.lock")
BINARIES = ("libvirtd", "virtlogd", "virsh", "qemu-system-x86_64")


def unavailable():
    """Why libvirtd with the QEMU driver cannot run here, or None."""
    missing = [b for b in BINARIES if not shutil.which(b, path="/usr/sbin:/usr/bin")]
    if missing:
        return (f"{', '.join(missing)} missing (scripts/setup.sh --test installs "
                "libvirt-daemon-system libvirt-daemon-driver-qemu qemu-system-x86)")
    if os.geteuid() != 0:
        return "libvirtd's QEMU driver needs root here"
    return None


class Libvirtd(openstack_service.Timed):
    """virtlogd and libvirtd of one test session; `uri` for virsh and nova-compute."""

    def __init__(self, state_dir, netns=None, ovs_rundir=None):
        super().__init__()
        self.dir = Path(state_dir)
        self.netns, self.ovs_rundir = netns, ovs_rundir
        self.sock_dir = self.dir / "run"
        self.uri = f"qemu:///system?socket={self.sock_dir}/libvirt-sock"
        self.daemons = {}
        self._lock = None

    def _argv(self, argv):
        """argv in a mount namespace of its own (inside self.netns if given) where our
        qemu.conf is bind-mounted over /etc/libvirt/qemu.conf (`ip netns exec` makes a
        mount namespace whose mounts do not reach the host's; `unshare -m` otherwise)."""
        script = 'mount --bind "$0" /etc/libvirt/qemu.conf && exec "$@"'
        wrapped = ["sh", "-c", script, str(self.dir / "qemu.conf"), *argv]
        if self.netns:
            return ["ip", "netns", "exec", self.netns, *wrapped]
        return ["unshare", "--mount", "--propagation", "private", *wrapped]

    def _env(self):
        env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": str(self.dir),
               "LC_ALL": "C.UTF-8"}
        if self.ovs_rundir:
            env["OVS_RUNDIR"] = str(self.ovs_rundir)
        return env

    def start(self, timeout=60.0):
        """Take the machine's lock, start both daemons, wait until libvirtd answers."""
        self.sock_dir.mkdir(parents=True, exist_ok=True)
        self._lock = open(LOCK, "w")  # noqa: SIM115 (held until stop)
        fcntl.flock(self._lock, fcntl.LOCK_EX)
        conf = self.dir / "libvirtd.conf"
        conf.write_text(textwrap.dedent(f"""\
            unix_sock_dir = "{self.sock_dir}"
            auth_unix_rw = "none"
            auth_unix_ro = "none"
            log_level = 3
            log_filters = "1:qemu.qemu_capabilities"
            log_outputs = "1:file:{self.dir / 'libvirtd.log'}"
            """))
        # QEMU as root: libvirt checks whether its QEMU user may open /dev/kvm. The
        # default user (libvirt-qemu) may not (0600 root here) while the capability probe
        # found KVM, so every lookup of the capabilities found them outdated ("KVM was
        # enabled when probing '/usr/bin/qemu-system-x86_64', but it is not available now")
        # and probed QEMU again, twice (i386, x86_64), ~4 s each under load: defining one
        # domain took 60 s. Guests still run under TCG (nova's virt_type = qemu gives
        # <domain type='qemu'>). Root also reads the instance files wherever they are.
        (self.dir / "qemu.conf").write_text('user = "root"\ngroup = "root"\n')
        with self.timed("libvirtd up"):
            self.daemons["virtlogd"] = openstack_service.Daemon(
                "virtlogd", self._argv(["virtlogd", "--pid-file",
                                        str(self.dir / "virtlogd.pid")]),
                self.dir / "virtlogd.out", self._env()).start()
            self.daemons["libvirtd"] = openstack_service.Daemon(
                "libvirtd", self._argv(["libvirtd", "--config", str(conf), "--pid-file",
                                        str(self.dir / "libvirtd.pid")]),
                self.dir / "libvirtd.out", self._env()).start()
            deadline = time.monotonic() + timeout
            while True:
                for daemon in self.daemons.values():
                    daemon.check()
                if self.virsh("version", check=False).returncode == 0:
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"libvirtd did not answer on {self.uri}")
                time.sleep(0.2)
        # a domain defined now is an earlier run's that ended before its stop (the lock
        # says no other libvirtd runs): a compute refuses to start beside it ("My
        # hypervisor has existing instances, but I appear to be a new service")
        self.remove_domains()
        return self

    def virsh(self, *args, check=True):
        """`virsh -c URI ARGS`; the CompletedProcess."""
        proc = subprocess.run(["virsh", "-c", self.uri, *args], capture_output=True,
                              text=True, timeout=60, check=False)
        if check and proc.returncode:
            raise RuntimeError(f"virsh {' '.join(args)}: {proc.stderr}")
        return proc

    def domains(self):
        """Names of every domain defined (running or not)."""
        out = self.virsh("list", "--all", "--name", check=False).stdout
        return [line.strip() for line in out.splitlines() if line.strip()]

    def remove_domains(self):
        """Destroy and undefine every domain."""
        for name in self.domains():
            self.virsh("destroy", name, check=False)
            self.virsh("undefine", name, "--nvram", check=False)

    def stop(self):
        """Destroy and undefine every domain (Nova leaves them running), stop the daemons."""
        try:
            if "libvirtd" in self.daemons:
                self.remove_domains()
        finally:
            for daemon in self.daemons.values():
                daemon.terminate()
            for daemon in self.daemons.values():
                daemon.stop()
            if self._lock is not None:
                self._lock.close()
                self._lock = None
