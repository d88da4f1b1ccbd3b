"""`lbaas cleanup` refuses while an `lbaas serve` holds the state path, and the other way round."""
import os
import stat

import pytest

from lbaas.cmd import serve_lock
from lbaas.drivers.amphora.compute import local


def test_cleanup_is_refused_while_a_server_holds_the_state_path_and_names_it(tmp_path):
    server = serve_lock.hold_serving(str(tmp_path))
    second = serve_lock.hold_serving(str(tmp_path))   # two servers may share a state path
    try:
        with pytest.raises(serve_lock.StatePathBusy, match=f"pid {os.getpid()}"):
            serve_lock.hold_exclusive(str(tmp_path))
    finally:
        server.close()
        second.close()
    serve_lock.hold_exclusive(str(tmp_path)).close()   # free once every server is gone


def test_a_server_does_not_start_during_a_cleanup(tmp_path):
    cleanup = serve_lock.hold_exclusive(str(tmp_path))
    try:
        with pytest.raises(serve_lock.StatePathBusy, match="cleanup"):
            serve_lock.hold_serving(str(tmp_path))
    finally:
        cleanup.close()


def test_the_lock_file_is_private_whatever_the_umask(tmp_path):
    old = os.umask(0)
    try:
        serve_lock.hold_serving(str(tmp_path)).close()
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(tmp_path / serve_lock.LOCK_NAME).st_mode) == 0o600


def test_no_state_path_no_lock(tmp_path):
    assert serve_lock.hold_exclusive(str(tmp_path / "never-served")) is None
    assert not (tmp_path / "never-served").exists()


def test_a_bridge_mark_names_the_state_dir_and_fits_a_link_alias(tmp_path):
    assert local.bridge_mark(str(tmp_path)) == f"lbaas {tmp_path}"
    long_dir = "/" + "d" * 300
    mark = local.bridge_mark(long_dir)
    assert len(mark.encode()) < local.IFALIASZ and mark.startswith("lbaas sha256:")
    assert mark != local.bridge_mark(long_dir + "x")
