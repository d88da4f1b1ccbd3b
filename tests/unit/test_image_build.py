"""The amphora image's build pieces that need no root: its cache key, its initrd, its CLI."""
import gzip
import os
import stat
import zipfile

import pytest

from lbaas.cmd import amphora_image
from lbaas.image import build, initrd

V = "kernel/drivers/virtio/"
DEP = (f"{V}virtio.ko:\n"
       f"{V}virtio_ring.ko: {V}virtio.ko\n"
       f"{V}virtio_pci.ko: {V}virtio_ring.ko {V}virtio.ko\n"
       f"kernel/drivers/block/virtio_blk.ko: {V}virtio_ring.ko {V}virtio.ko\n")


def read_newc(data):
    """{name: (mode, data)} of a newc cpio archive, read independently of the writer."""
    entries, offset = {}, 0
    while True:
        assert data[offset:offset + 6] == b"070701"
        fields = [int(data[offset + 6 + 8 * i:offset + 14 + 8 * i], 16) for i in range(13)]
        mode, size, namesize = fields[1], fields[6], fields[11]
        start = offset + 110
        name = data[start:start + namesize - 1].decode()
        body = start + namesize + (-(110 + namesize) % 4)
        if name == "TRAILER!!!":
            return entries
        entries[name] = (mode, data[body:body + size])
        offset = body + size + (-size % 4)


def test_modules_come_after_their_dependencies_once_each():
    assert initrd.module_order(DEP, ("virtio_pci", "virtio_blk")) == [
        "kernel/drivers/virtio/virtio.ko", "kernel/drivers/virtio/virtio_ring.ko",
        "kernel/drivers/virtio/virtio_pci.ko", "kernel/drivers/block/virtio_blk.ko"]


def test_a_missing_module_is_named():
    with pytest.raises(ValueError, match="virtio_scsi"):
        initrd.module_order(DEP, ("virtio_scsi",))


def test_initrd_is_a_cpio_the_kernel_and_cpio_read(tmp_path):
    moddir = tmp_path / "usr/lib/modules/6.1.0-test"
    for line in DEP.splitlines():
        path = moddir / line.split(":")[0]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"\x7fELF module " + path.name.encode())
    (moddir / "modules.dep").write_text(DEP)
    (tmp_path / "usr/bin").mkdir(parents=True)
    (tmp_path / "usr/bin/busybox").write_bytes(b"\x7fELF busybox")
    entries = read_newc(gzip.decompress(initrd.build(str(tmp_path), "6.1.0-test")))
    assert entries["init"][1].startswith(b"#!/bin/busybox sh\n")
    assert entries["bin/busybox"] == (stat.S_IFREG | 0o755, b"\x7fELF busybox")
    assert entries["dev/console"][0] == stat.S_IFCHR | 0o600
    assert entries["modules.order"][1].decode().split() == [
        "lib/kernel/drivers/virtio/virtio.ko", "lib/kernel/drivers/virtio/virtio_ring.ko",
        "lib/kernel/drivers/virtio/virtio_pci.ko", "lib/kernel/drivers/block/virtio_blk.ko"]
    assert entries["lib/kernel/drivers/block/virtio_blk.ko"][1].endswith(b"virtio_blk.ko")
    assert stat.S_ISDIR(entries["lib/kernel/drivers"][0])
    assert initrd.build(str(tmp_path), "6.1.0-test") == initrd.build(str(tmp_path), "6.1.0-test")


def test_the_key_changes_with_each_input():
    base = build.cache_key("a")
    assert build.cache_key("a") == base
    assert build.cache_key("b") != base
    assert build.cache_key("a", mirror="http://mirror.example/debian") != base
    assert build.cache_key("a", packages=build.PACKAGES + ("curl",)) != base


def test_wheel_digest_is_the_members_not_the_zip_timestamps(tmp_path):
    def wheel(name, date, text):
        with zipfile.ZipFile(tmp_path / name, "w") as z:
            z.writestr(zipfile.ZipInfo("lbaas/x.py", date), text)
        return str(tmp_path / name)
    one = wheel("1.whl", (2020, 1, 1, 0, 0, 0), "x = 1")
    assert build.wheel_digest(one) == build.wheel_digest(wheel("2.whl", (2024, 5, 5, 0, 0, 0),
                                                               "x = 1"))
    assert build.wheel_digest(one) != build.wheel_digest(wheel("3.whl", (2020, 1, 1, 0, 0, 0),
                                                               "x = 2"))


def test_source_digest_ignores_bytecode(tmp_path):
    (tmp_path / "lbaas" / "__pycache__").mkdir(parents=True)
    (tmp_path / "setup.py").write_text("setup()")
    (tmp_path / "lbaas" / "__init__.py").write_text("")
    before = build.source_digest(str(tmp_path))
    (tmp_path / "lbaas" / "__pycache__" / "x.pyc").write_bytes(b"junk")
    assert build.source_digest(str(tmp_path)) == before
    (tmp_path / "lbaas" / "new.py").write_text("y = 1")
    assert build.source_digest(str(tmp_path)) != before


def test_outputs_sit_beside_the_disk():
    assert amphora_image.outputs("/x/amp.qcow2") == (
        "/x/amp.qcow2", "/x/amp.vmlinuz", "/x/amp.initrd", "/x/amp.json")


def test_prune_keeps_the_newest_images_and_their_locks(tmp_path):
    for k, key in enumerate(("old", "mid", "new")):
        (tmp_path / key).mkdir()
        (tmp_path / key / build.MANIFEST).write_text("{}")
        (tmp_path / f".{key}.lock").write_text("")
        os.utime(tmp_path / key, (1000 + k, 1000 + k))
    build._prune(str(tmp_path), "new")
    assert sorted(p.name for p in tmp_path.iterdir()) == [".mid.lock", ".new.lock", "mid", "new"]
