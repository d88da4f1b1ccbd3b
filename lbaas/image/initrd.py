"""The amphora's initrd: busybox, the few modules that reach the root disk, and an /init.

Written as a gzip'd cpio (newc) archive by Python, so building it needs no root, no loop
device and no initramfs-tools (whose generic initrd took longer to build and to boot).
"""
import gzip
import io
import os
import stat

# The root disk is virtio-blk (QEMU's -drive if=virtio, Nova's libvirt default); ext4 and
# the serial console are built into Debian's cloud kernel, virtio is not.
MODULES = ("virtio_pci", "virtio_blk")

# /init: load the modules, mount root= (default /dev/vda) and switch to init= in it. On
# failure it says so and halts: no shell on the console (which could mount the disk).
INIT = r"""#!/bin/busybox sh
stop_here() { echo "lbaas-amphora: initrd: $1; halting"; while :; do sleep 3600; done; }
/bin/busybox --install -s /bin
export PATH=/bin
mkdir -p /proc /sys /dev /newroot
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
for m in $(cat /modules.order); do insmod "/$m"; done
root=/dev/vda init=/sbin/init rootflags=rw
for arg in $(cat /proc/cmdline); do
    case "$arg" in
        root=*) root="${arg#root=}" ;;
        init=*) init="${arg#init=}" ;;
        ro) rootflags=ro ;;
    esac
done
i=0
while :; do
    dev="$root"
    case "$root" in LABEL=*|UUID=*) dev=$(findfs "$root" 2>/dev/null) ;; esac
    [ -n "$dev" ] && [ -b "$dev" ] && break
    i=$((i + 1))
    [ "$i" -gt 300 ] && stop_here "root device $root did not appear"
    sleep 0.1
done
mount -t ext4 -o "$rootflags" "$dev" /newroot || stop_here "cannot mount $dev"
mount --move /dev /newroot/dev
umount /proc /sys
exec switch_root /newroot "$init"
"""


class Cpio:
    """An in-memory cpio archive in the kernel's "newc" format."""

    def __init__(self):
        self._out, self._ino = io.BytesIO(), 1

    def _entry(self, name, mode, data=b"", rdev=(0, 0)):
        self._ino += 1
        fields = (self._ino, mode, 0, 0, 1, 0, len(data), 0, 0, rdev[0], rdev[1],
                  len(name) + 1, 0)
        header = b"070701" + b"".join(b"%08X" % f for f in fields)
        self._out.write(header + name.encode() + b"\0")
        self._out.write(b"\0" * (-(len(header) + len(name) + 1) % 4))
        self._out.write(data + b"\0" * (-len(data) % 4))

    def directory(self, name):
        """Add a directory (0755)."""
        self._entry(name, stat.S_IFDIR | 0o755)

    def file(self, name, data, mode=0o644):
        """Add a regular file holding bytes data."""
        self._entry(name, stat.S_IFREG | mode, data)

    def char_device(self, name, major, minor):
        """Add a character device node (no root needed: it is only bytes here)."""
        self._entry(name, stat.S_IFCHR | 0o600, rdev=(major, minor))

    def finish(self):
        """The archive's bytes, trailer included."""
        self._entry("TRAILER!!!", 0)
        return self._out.getvalue()


def module_order(modules_dep, wanted):
    """Module paths (relative to the kernel's module dir) to insmod, dependencies first."""
    deps = {}
    for line in modules_dep.splitlines():
        path, _, rest = line.partition(":")
        deps[path] = rest.split()
    by_name = {os.path.basename(p).split(".ko")[0].replace("-", "_"): p for p in deps}
    order = []

    def visit(path):
        for dep in deps.get(path, ()):
            visit(dep)
        if path not in order:
            order.append(path)

    for name in wanted:
        if name not in by_name:
            raise ValueError(f"kernel module {name} is not in modules.dep")
        visit(by_name[name])
    return order


def build(rootfs, kernel_version, busybox="usr/bin/busybox"):
    """The gzip'd initrd (bytes) for the kernel `kernel_version` installed in rootfs."""
    moddir = os.path.join(rootfs, "usr/lib/modules", kernel_version)
    with open(os.path.join(moddir, "modules.dep")) as f:
        order = module_order(f.read(), MODULES)
    archive = Cpio()
    for name in ("bin", "dev", "lib", "newroot", "proc", "sys"):
        archive.directory(name)
    archive.char_device("dev/console", 5, 1)
    with open(os.path.join(rootfs, busybox), "rb") as f:
        archive.file("bin/busybox", f.read(), 0o755)
    made = set()
    for path in order:
        parts = ("lib/" + path).split("/")
        for i in range(2, len(parts)):
            directory = "/".join(parts[:i])
            if directory not in made:
                made.add(directory)
                archive.directory(directory)
        with open(os.path.join(moddir, path), "rb") as f:
            archive.file("lib/" + path, f.read())
    archive.file("modules.order", "".join(f"lib/{p}\n" for p in order).encode())
    archive.file("init", INIT.encode(), 0o755)
    return gzip.compress(archive.finish(), compresslevel=6, mtime=0)
