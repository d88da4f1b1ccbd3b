"""What the image's root filesystem gets beyond its Debian packages: lbaas and its init."""
import os
import subprocess
import zipfile

SITE = "usr/lib/python3/dist-packages"   # where Debian's python3 finds packages

# PID 1: the API filesystems, the drivers of the NICs and of the config drive, then the
# boot step (lbaas.agent.boot), which stays PID 1. No systemd: it costs seconds under TCG.
INIT = """#!/bin/sh
# lbaas amphora init: mount, load drivers, hand over to the boot step (which stays PID 1).
PATH=/usr/sbin:/usr/bin:/sbin:/bin
export PATH
mountpoint -q /proc || mount -t proc proc /proc
mountpoint -q /sys || mount -t sysfs sysfs /sys
mountpoint -q /dev || mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts -o gid=5,mode=620 devpts /dev/pts
mount -t tmpfs -o nosuid,nodev tmpfs /dev/shm
mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs /run
mkdir -p /run/lock /run/lbaas
mount -o remount,rw / 2>/dev/null
echo amphora >/proc/sys/kernel/hostname
modprobe -qa virtio_net virtio_blk isofs vfat nls_cp437 nls_ascii nls_utf8 \\
    ata_piix ahci sr_mod virtio_scsi 2>/dev/null
echo "lbaas-amphora: init: drivers loaded, starting the boot step"
exec python3 -m lbaas.agent.boot --init
"""

# busybox udhcpc's script: write the lease where lbaas.agent.boot reads it.
UDHCPC_HOOK = """#!/bin/sh
[ "$1" = bound ] || exit 0
printf 'ip=%s\\nsubnet=%s\\nrouter=%s\\nmtu=%s\\n' "$ip" "$subnet" "$router" "$mtu" \\
    >"/run/lbaas/dhcp-$interface"
"""


def _write(root, path, text, mode=0o644):
    full = os.path.join(root, path)
    os.makedirs(os.path.dirname(full), exist_ok=True)
    with open(full, "w") as f:
        f.write(text)
    os.chmod(full, mode)


def install_wheel(root, wheel):
    """Unpack a pure-Python wheel into the image's dist-packages (pip install --no-deps)."""
    with zipfile.ZipFile(wheel) as archive:
        for name in archive.namelist():
            if name.split("/", 1)[0].endswith(".data") or name.startswith("/") \
                    or ".." in name.split("/"):
                raise ValueError(f"{wheel}: {name} is not a plain package file")
        archive.extractall(os.path.join(root, SITE))
    # compiled once here, by the image's own Python: a cold import under TCG is slow
    subprocess.run(["chroot", root, "python3", "-m", "compileall", "-q",
                    f"/{SITE}/lbaas"], check=True)


def customize(root):
    """Install the init, the DHCP hook and the image's small settings into root."""
    _write(root, "usr/sbin/lbaas-amphora-init", INIT, 0o755)
    init = os.path.join(root, "usr/sbin/init")
    if os.path.lexists(init):
        os.unlink(init)
    os.symlink("lbaas-amphora-init", init)
    _write(root, "usr/lib/lbaas-amphora/udhcpc-hook", UDHCPC_HOOK, 0o755)
    _write(root, "etc/hostname", "amphora\n")
    _write(root, "etc/hosts", "127.0.0.1 localhost amphora\n::1 localhost\n")
    _write(root, "etc/fstab", "# the init mounts what the amphora needs\n")
    os.makedirs(os.path.join(root, "var/lib/lbaas-agent"), mode=0o700, exist_ok=True)
