"""An amphora VM for tests: the built image under QEMU (TCG), a config drive as Nova makes
one, tap NICs on bridges of the test's own (docs/amphora.md, docs/testing.md).

KVM is never used: /dev/kvm exists on these machines but a KVM guest hangs in early boot.
"""
import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import time

import pytest

from lbaas.image import build
from testbed.cloud import nova_amphora

QEMU = "qemu-system-x86_64"
TOOLS = {"mmdebstrap": "mmdebstrap", "qemu-system-x86_64": "qemu-system-x86",
         "qemu-img": "qemu-utils", "genisoimage": "genisoimage", "mkfs.ext4": "e2fsprogs"}
BOOT_TIMEOUT = 240     # seconds from QEMU's start to "agent up" (TCG on a loaded 2-core host)


def unavailable():
    """Why the image cannot be built and booted here, or None."""
    if os.geteuid() != 0:
        return "not root (mmdebstrap, chroot and taps need root)"
    missing = sorted({pkg for tool, pkg in TOOLS.items() if shutil.which(tool) is None})
    if missing:
        return f"missing {', '.join(missing)} (scripts/setup.sh --test installs them)"
    return None


def require():
    """Skip (fail under CI=true) unless the image can be built and booted here."""
    reason = unavailable()
    if reason:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"the amphora image test needs {reason}", pytrace=False)
        print(f"skipping the amphora image test: {reason}")
        pytest.skip(reason)


def build_image():
    """The image (from the cache when its inputs are unchanged); prints what it took."""
    return nova_amphora.build_image(log=lambda m: print(m, flush=True))


def config_drive(path, workdir, user_data, network_data):
    """An ISO 9660 config drive (volume id config-2, as Nova's genisoimage call) at path."""
    latest = os.path.join(workdir, "openstack", "latest")
    os.makedirs(latest)
    with open(os.path.join(latest, "user_data"), "wb") as f:
        f.write(user_data)
    with open(os.path.join(latest, "network_data.json"), "w") as f:
        json.dump(network_data, f)
    with open(os.path.join(latest, "meta_data.json"), "w") as f:
        json.dump({"uuid": "amphora-test", "hostname": "amphora"}, f)
    subprocess.run(["genisoimage", "-o", path, "-ldots", "-allow-lowercase",
                    "-allow-multidot", "-l", "-quiet", "-J", "-r", "-V", "config-2", workdir],
                   check=True, capture_output=True)
    return path


def add_tap(name, bridge):
    """A tap device `name`, up, enslaved to `bridge` (QEMU attaches to it by name)."""
    subprocess.run(["ip", "tuntap", "add", "dev", name, "mode", "tap"], check=True,
                   capture_output=True)
    subprocess.run(["ip", "link", "set", name, "master", bridge, "up"], check=True,
                   capture_output=True)


def delete_link(name):
    """Delete a link if it exists."""
    subprocess.run(["ip", "link", "del", name], capture_output=True)


class Vm:
    """QEMU (TCG) booting the image's kernel and initrd with the disk as a throwaway
    snapshot (the cached image is never written), a config drive as IDE CD-ROM (Nova's
    libvirt default), and virtio NICs on existing taps."""

    def __init__(self, image, drive, nics, console_log, memory=512):
        self.console_log, self.proc, self.started = console_log, None, None
        self.argv = [QEMU, "-accel", "tcg", "-m", str(memory), "-smp", "1",
                     "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
                     "-serial", f"file:{console_log}", "-monitor", "none",
                     "-kernel", image.kernel, "-initrd", image.initrd,
                     "-append", f"{build.CMDLINE} panic=-1",
                     "-drive", f"file={image.disk},if=virtio,format=qcow2,snapshot=on",
                     "-drive", f"file={drive},if=ide,media=cdrom,format=raw,readonly=on"]
        for k, (tap, mac) in enumerate(nics):
            self.argv += ["-netdev", f"tap,id=n{k},ifname={tap},script=no,downscript=no",
                          "-device", f"virtio-net-pci,netdev=n{k},mac={mac}"]

    def start(self):
        """Start QEMU in a session of its own."""
        self.started = time.monotonic()
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        return self

    def console(self):
        """The console output so far."""
        try:
            with open(self.console_log, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def wait_console(self, pattern, timeout=BOOT_TIMEOUT):
        """The first match of regex pattern on the console; fails with the console's end."""
        deadline = time.monotonic() + timeout
        while True:
            found = re.search(pattern, self.console())
            if found:
                return found
            if self.proc.poll() is not None:
                raise AssertionError(f"QEMU exited with {self.proc.returncode}: "
                                     f"{self.proc.stdout.read().decode(errors='replace')}\n"
                                     f"console:\n{self.console()[-4000:]}")
            if time.monotonic() > deadline:
                raise AssertionError(f"no {pattern!r} on the console within {timeout} s:\n"
                                     f"{self.console()[-4000:]}")
            time.sleep(0.25)

    def stop(self):
        """Kill QEMU (the guest has nothing to save: its disk is a snapshot)."""
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
