"""`lbaas-amphora-image build`: the amphora image of this release (see docs/amphora.md)."""
import argparse
import os
import shutil
import sys
import time

OUTPUT = "lbaas-amphora.qcow2"


def _place(source, target):
    """Hard-link source at target (a copy across filesystems), replacing target."""
    os.makedirs(os.path.dirname(os.path.abspath(target)), exist_ok=True)
    tmp = f"{target}.tmp"
    if os.path.lexists(tmp):
        os.unlink(tmp)
    try:
        os.link(source, tmp)
    except OSError:
        shutil.copyfile(source, tmp)
    os.replace(tmp, target)


def outputs(output):
    """(disk, kernel, initrd, manifest) paths for --output FILE: the disk and three beside it."""
    stem = output[:-len(".qcow2")] if output.endswith(".qcow2") else output
    return output, f"{stem}.vmlinuz", f"{stem}.initrd", f"{stem}.json"


def main(argv=None):
    """Build (or take from the cache) the image and put its files at --output."""
    from lbaas.image import build
    parser = argparse.ArgumentParser(prog="lbaas-amphora-image", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="build the image, or return the cached one at once")
    b.add_argument("--output", default=OUTPUT, metavar="FILE",
                   help=f"the qcow2 disk (default {OUTPUT}); FILE's stem + .vmlinuz, "
                        ".initrd and .json are written beside it")
    b.add_argument("--cache-dir", metavar="DIR",
                   help="where built images are kept by input hash (default "
                        "$LBAAS_IMAGE_CACHE, /var/cache/lbaas-image as root, else "
                        "~/.cache/lbaas-image)")
    b.add_argument("--wheel", metavar="FILE",
                   help="the lbaas wheel to install (default: built from this checkout)")
    b.add_argument("--mirror", default=build.MIRROR, help="Debian mirror")
    b.add_argument("--security-mirror", default=build.SECURITY_MIRROR,
                   help="Debian security mirror")
    b.add_argument("--rebuild", action="store_true", help="build even if the cache has it")
    args = parser.parse_args(argv)
    started = time.monotonic()

    def log(message):
        print(f"lbaas-amphora-image: {message}", file=sys.stderr, flush=True)

    try:
        image = build.build(args.cache_dir, args.wheel, args.mirror, args.security_mirror,
                            rebuild=args.rebuild, log=log)
    except build.BuildError as exc:
        log(str(exc))
        return 1
    names = outputs(args.output)
    for source, target in zip((image.disk, image.kernel, image.initrd,
                               os.path.join(image.directory, build.MANIFEST)), names):
        _place(source, target)
    how = "from the cache" if image.cached else "built"
    log(f"{how} in {time.monotonic() - started:.1f} s (key {os.path.basename(image.directory)})")
    for label, path in zip(("disk", "kernel", "initrd", "manifest"), names):
        print(f"{label}: {os.path.abspath(path)}")
    print(f"kernel command line: {build.CMDLINE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
