"""Build the amphora image, or return it from the cache when its inputs have not changed.

Steps (each as root, none needing a loop device or KVM): a wheel of this checkout (pip
wheel, in a copy of the tree), Debian bookworm by mmdebstrap into a directory with the
image's packages, the wheel unpacked into it (no dependencies: Debian's python3-flask and
python3-pyroute2 serve the agent), the init (lbaas.image.rootfs), an initrd made by Python
(lbaas.image.initrd), `mkfs.ext4 -d` of the directory into a file, `qemu-img convert` to
qcow2. The result is a whole-disk ext4 (no partition table, no bootloader) booted with the
kernel and initrd written beside it: see docs/amphora.md.

The cache holds one directory per key; the key is a hash of the inputs: the package list
and mirrors, the content of the lbaas sources the wheel is built from (or of the wheel given),
and this package's own sources (the build script).
"""
import contextlib
import dataclasses
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile

import lbaas
from lbaas.image import initrd, rootfs

FORMAT = 1
SUITE = "bookworm"
MIRROR = "http://deb.debian.org/debian"
SECURITY_MIRROR = "http://deb.debian.org/debian-security"
PACKAGES = ("haproxy", "keepalived", "python3-flask", "python3-pyroute2", "busybox-static",
            "mount", "linux-image-cloud-amd64")
REPORTED = ("haproxy", "keepalived", "python3", "python3-flask", "python3-werkzeug",
            "python3-pyroute2", "busybox-static")
QCOW2, KERNEL, INITRD, MANIFEST = "amphora.qcow2", "vmlinuz", "initrd.img", "manifest.json"
ROOT_LABEL = "amphora-root"
CMDLINE = "root=/dev/vda console=ttyS0"
KEEP = 2   # cached images kept (the newest); older ones are removed after a build
# update-initramfs would build a generic initrd (slow, unused): divert it before the kernel
# is installed, then give its name back to dpkg.
DIVERT = ('chroot "$1" dpkg-divert --quiet --local --rename --add /usr/sbin/update-initramfs'
          ' && ln -s /bin/true "$1/usr/sbin/update-initramfs"')


class BuildError(RuntimeError):
    """A build step failed; the message names the step and its output's end."""


@dataclasses.dataclass(frozen=True)
class Image:
    """A built image's files (in its cache directory) and whether it came from the cache."""

    directory: str
    cached: bool

    @property
    def disk(self):
        return os.path.join(self.directory, QCOW2)

    @property
    def kernel(self):
        return os.path.join(self.directory, KERNEL)

    @property
    def initrd(self):
        return os.path.join(self.directory, INITRD)

    @property
    def manifest(self):
        """The manifest's content (dict)."""
        with open(os.path.join(self.directory, MANIFEST)) as f:
            return json.load(f)


def default_cache_dir():
    """$LBAAS_IMAGE_CACHE, else /var/cache/lbaas-image as root, else ~/.cache/lbaas-image."""
    if os.environ.get("LBAAS_IMAGE_CACHE"):
        return os.environ["LBAAS_IMAGE_CACHE"]
    if os.geteuid() == 0:
        return "/var/cache/lbaas-image"
    return os.path.join(os.path.expanduser("~"), ".cache", "lbaas-image")


def checkout():
    """The source checkout lbaas is imported from, or None (an installed package)."""
    top = os.path.dirname(os.path.dirname(os.path.abspath(lbaas.__file__)))
    if all(os.path.isfile(os.path.join(top, f)) for f in ("setup.py", "entry_points.cfg")):
        return top
    return None


def _source_files(top):
    """Relative paths of what a wheel of the checkout is built from, sorted."""
    found = [f for f in ("setup.py", "entry_points.cfg", "requirements.txt")
             if os.path.isfile(os.path.join(top, f))]
    for directory, dirs, names in os.walk(os.path.join(top, "lbaas")):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__" and not d.endswith(".egg-info"))
        found += [os.path.relpath(os.path.join(directory, n), top) for n in names
                  if not n.endswith((".pyc", ".pyo")) and not n.startswith(".")]
    return sorted(found)


def _digest(pairs):
    digest = hashlib.sha256()
    for name, data in pairs:
        digest.update(name.encode() + b"\0" + hashlib.sha256(data).digest())
    return digest.hexdigest()


def _read(path):
    with open(path, "rb") as f:
        return f.read()


def source_digest(top):
    """Hash of the checkout's files that make the lbaas wheel."""
    return _digest((p, _read(os.path.join(top, p))) for p in _source_files(top))


def wheel_digest(path):
    """Hash of a wheel's members (names and bytes; not the zip's timestamps)."""
    with zipfile.ZipFile(path) as archive:
        return _digest((n, archive.read(n)) for n in sorted(archive.namelist()))


def recipe_digest():
    """Hash of the build script itself (this package's sources)."""
    here = os.path.dirname(os.path.abspath(__file__))
    names = sorted(n for n in os.listdir(here) if n.endswith(".py"))
    return _digest((n, _read(os.path.join(here, n))) for n in names)


def cache_key(lbaas_digest, mirror=MIRROR, security_mirror=SECURITY_MIRROR,
              packages=PACKAGES):
    """The cache key of an image from these inputs (hex, 20 characters)."""
    inputs = {"format": FORMAT, "suite": SUITE, "mirror": mirror,
              "security_mirror": security_mirror, "packages": sorted(packages),
              "lbaas": lbaas_digest, "recipe": recipe_digest()}
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()[:20]


def _run(step, argv, log=None, **kw):
    """Run argv; BuildError naming the step with the end of its output if it fails."""
    started = time.monotonic()
    proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          **kw)
    if proc.returncode:
        raise BuildError(f"{step} failed ({' '.join(argv[:3])} ... exited with "
                         f"{proc.returncode}):\n{proc.stdout[-3000:]}")
    if log:
        log(f"{step}: {time.monotonic() - started:.1f} s")
    return proc.stdout


def _start_wheel(top, work):
    """Start building the wheel of checkout `top` in a copy of it; -> (Popen, wheel dir)."""
    src, out = os.path.join(work, "src"), os.path.join(work, "wheel")
    os.makedirs(src)
    for rel in _source_files(top):
        os.makedirs(os.path.dirname(os.path.join(src, rel)), exist_ok=True)
        shutil.copy2(os.path.join(top, rel), os.path.join(src, rel))
    proc = subprocess.Popen([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q",
                             "--disable-pip-version-check", "-w", out, src],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return proc, out


def _finish_wheel(proc, out, log):
    output, _ = proc.communicate()
    if proc.returncode:
        raise BuildError(f"building the lbaas wheel failed:\n{output[-3000:]}")
    wheels = [n for n in os.listdir(out) if n.endswith(".whl")]
    if len(wheels) != 1:
        raise BuildError(f"pip wheel left {wheels} in {out}, not one wheel")
    log(f"lbaas wheel: {wheels[0]}")
    return os.path.join(out, wheels[0])


def _mmdebstrap(root, mirror, security_mirror, packages, log):
    argv = ["mmdebstrap", "--variant=apt", "--components=main",
            "--include=" + ",".join(packages),
            "--dpkgopt=force-unsafe-io",   # no fsync per file: the tree is thrown away anyway
            "--dpkgopt=path-exclude=/usr/share/doc/*",
            "--dpkgopt=path-include=/usr/share/doc/*/copyright",
            "--dpkgopt=path-exclude=/usr/share/man/*",
            "--dpkgopt=path-exclude=/usr/share/locale/*",
            "--dpkgopt=path-exclude=/usr/share/info/*",
            "--essential-hook=" + DIVERT,
            SUITE, root, f"deb {mirror} {SUITE} main", f"deb {mirror} {SUITE}-updates main",
            f"deb {security_mirror} {SUITE}-security main"]
    _run("mmdebstrap", argv, log)


def _du(root):
    total = 0
    for directory, _, names in os.walk(root):
        for n in names:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(directory, n)).st_blocks * 512
    return total


def _versions(root):
    out = _run("dpkg-query", ["chroot", root, "dpkg-query", "-W",
                              "-f", "${Package} ${Version}\\n"])
    versions = dict(line.split(" ", 1) for line in out.splitlines() if " " in line)
    return {p: v for p, v in sorted(versions.items())
            if p in REPORTED or p.startswith("linux-image-")}


def _make(work, out, wheel_source, mirror, security_mirror, packages, key, log):
    """Build the image's files into `out`."""
    started = time.monotonic()
    root = os.path.join(work, "root")
    wheel_proc = None
    if isinstance(wheel_source, tuple):    # ("checkout", top)
        wheel_proc, wheel_dir = _start_wheel(wheel_source[1], work)
    try:
        _mmdebstrap(root, mirror, security_mirror, packages, log)
    except BaseException:
        if wheel_proc is not None:
            wheel_proc.kill()
            wheel_proc.wait()
        raise
    wheel = _finish_wheel(wheel_proc, wheel_dir, log) if wheel_proc else wheel_source
    rootfs.install_wheel(root, wheel)
    rootfs.customize(root)
    versions = os.listdir(os.path.join(root, "usr/lib/modules"))
    if len(versions) != 1:
        raise BuildError(f"expected one kernel in the image, found {versions}")
    kernel = versions[0]
    shutil.copyfile(os.path.join(root, "boot", f"vmlinuz-{kernel}"), os.path.join(out, KERNEL))
    with open(os.path.join(out, INITRD), "wb") as f:
        f.write(initrd.build(root, kernel))
    for name in os.listdir(os.path.join(root, "boot")):
        if not name.startswith("config-"):
            os.unlink(os.path.join(root, "boot", name))   # booted from outside the disk
    manifest = {"format": FORMAT, "key": key, "suite": SUITE, "kernel": kernel,
                "kernel_cmdline": CMDLINE, "root_label": ROOT_LABEL,
                "lbaas_wheel": os.path.basename(wheel), "packages": _versions(root),
                "files": {"disk": QCOW2, "kernel": KERNEL, "initrd": INITRD}}
    raw = os.path.join(work, "root.ext4")
    size = (int(_du(root) * 1.25) + (256 << 20)) // (1 << 20) << 20
    with open(raw, "wb") as f:
        f.truncate(size)
    _run("mkfs.ext4 -d", ["mkfs.ext4", "-q", "-F", "-L", ROOT_LABEL, "-m", "1", "-d", root, raw],
         log)
    _run("qemu-img convert", ["qemu-img", "convert", "-f", "raw", "-O", "qcow2", raw,
                              os.path.join(out, QCOW2)], log)
    manifest["disk_virtual_bytes"] = size
    manifest["build_seconds"] = round(time.monotonic() - started, 1)
    with open(os.path.join(out, MANIFEST), "w") as f:
        json.dump(manifest, f, indent=2, sort_keys=True)
        f.write("\n")


def _unmount_under(path):
    """Lazily unmount whatever is mounted below path (an interrupted mmdebstrap leaves its
    /proc, /sys and /dev mounts in the tree), deepest first, so removing it is safe."""
    prefix = os.path.abspath(path) + os.sep
    with open("/proc/self/mountinfo") as f:
        points = [line.split()[4].encode().decode("unicode_escape") for line in f]
    for point in sorted((p for p in points if p.startswith(prefix)), key=len, reverse=True):
        subprocess.run(["umount", "-l", point], capture_output=True, check=False)


def _prune(cache_dir, keep_key):
    """Remove all but the KEEP newest cached images (never keep_key's)."""
    entries = []
    for name in os.listdir(cache_dir):
        path = os.path.join(cache_dir, name)
        if os.path.isfile(os.path.join(path, MANIFEST)) and name != keep_key:
            entries.append((os.stat(path).st_mtime, path))
    for _, path in sorted(entries)[:max(0, len(entries) - (KEEP - 1))]:
        shutil.rmtree(path, ignore_errors=True)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(os.path.join(cache_dir, f".{os.path.basename(path)}.lock"))


def build(cache_dir=None, wheel=None, mirror=MIRROR, security_mirror=SECURITY_MIRROR,
          packages=PACKAGES, rebuild=False, log=print):
    """The Image for these inputs: from the cache, or built (and cached) now."""
    if os.geteuid() != 0:
        raise BuildError("building the amphora image needs root (mmdebstrap, chroot, mknod)")
    cache_dir = os.path.abspath(cache_dir or default_cache_dir())
    if wheel is not None:
        source, digest = os.path.abspath(wheel), wheel_digest(wheel)
    else:
        top = checkout()
        if top is None:
            raise BuildError("lbaas is not imported from a source checkout: pass --wheel")
        source, digest = ("checkout", top), source_digest(top)
    key = cache_key(digest, mirror, security_mirror, packages)
    target = os.path.join(cache_dir, key)
    os.makedirs(cache_dir, exist_ok=True)
    with open(os.path.join(cache_dir, f".{key}.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)   # a second build of the same key waits, then reuses
        if os.path.isfile(os.path.join(target, MANIFEST)) and not rebuild:
            os.utime(target)
            return Image(target, cached=True)
        for stale in os.listdir(cache_dir):   # an interrupted build of this key (we hold its lock)
            if stale.startswith(f".build-{key}-"):
                _unmount_under(os.path.join(cache_dir, stale))
                shutil.rmtree(os.path.join(cache_dir, stale), ignore_errors=True)
        work = tempfile.mkdtemp(prefix=f".build-{key}-", dir=cache_dir)
        try:
            out = os.path.join(work, "out")
            os.makedirs(out)
            _make(work, out, source, mirror, security_mirror, packages, key, log)
            if os.path.exists(target):
                shutil.rmtree(target)
            os.rename(out, target)
        finally:
            _unmount_under(work)
            shutil.rmtree(work, ignore_errors=True)
    _prune(cache_dir, key)
    return Image(target, cached=False)
