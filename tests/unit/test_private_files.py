"""Files holding project data or secrets are 0600 in 0700 folders, whatever the umask."""
import os
import stat

import pytest
from sqlalchemy import text

from lbaas.agent import files as agent_files
from lbaas.core import db as dbmod
from lbaas.core import private
from lbaas.db import migrate
from lbaas.drivers.amphora.compute.local import LocalCompute


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


# The controller's atomic write and the agent's twin (the agent imports nothing of ours).
WRITERS = pytest.mark.parametrize("write", [private.write_atomic, agent_files.write_atomic],
                                  ids=["controller", "agent"])


@pytest.fixture(params=[0o000, 0o022, 0o277], ids=["umask000", "umask022", "umask277"])
def umask(request):
    """Run the test under a umask (a process-wide setting, restored afterwards)."""
    old = os.umask(request.param)
    yield request.param
    os.umask(old)


def test_new_folder_is_0700(tmp_path, umask):
    """A folder made here is 0700, its missing parents made too."""
    path = tmp_path / "a" / "state"
    private.ensure_dir(path)
    assert mode(path) == 0o700


def test_existing_folder_is_tightened_unless_told_not_to(tmp_path):
    """ensure_dir tightens a 0755 folder; with tighten=False it leaves it as it is."""
    (tmp_path / "ours").mkdir()
    (tmp_path / "theirs").mkdir()
    for name in ("ours", "theirs"):
        os.chmod(tmp_path / name, 0o755)
    private.ensure_dir(tmp_path / "ours")
    private.ensure_dir(tmp_path / "theirs", tighten=False)
    assert (mode(tmp_path / "ours"), mode(tmp_path / "theirs")) == (0o700, 0o755)


def test_new_and_existing_files_are_0600(tmp_path, umask):
    """ensure_file makes a new file 0600 and an existing 0644 one 0600, content kept."""
    new, old = tmp_path / "new", tmp_path / "old"
    old.write_text("kept")
    os.chmod(old, 0o644)
    private.ensure_file(new)
    private.ensure_file(old)
    assert (mode(new), mode(old), old.read_text()) == (0o600, 0o600, "kept")


def test_sqlite_database_and_its_wal_and_shm_are_0600(tmp_path, umask):
    """A SQLite database made by lbaas (migrations, then the engine) is 0600 in a 0700 folder,
    and SQLite gives its -wal and -shm the same mode."""
    path = tmp_path / "state" / "lbaas.sqlite"
    url = f"sqlite:///{path}"
    migrate.upgrade(url)
    database = dbmod.Database(url)
    try:
        with database.write() as session:
            session.execute(text("INSERT INTO quota (project_id) VALUES ('p')"))
        names = ("lbaas.sqlite", "lbaas.sqlite-wal", "lbaas.sqlite-shm")
        assert {n: oct(mode(path.parent / n)) for n in names} == dict.fromkeys(names, "0o600")
        assert mode(path.parent) == 0o700
    finally:
        database.dispose()


def test_an_open_database_left_by_an_earlier_version_is_tightened(tmp_path):
    """lbaas.sqlite, -wal and -shm left 0644 become 0600 when lbaas opens the database; an
    operator's existing folder keeps its mode."""
    path = tmp_path / "lbaas.sqlite"
    for suffix in ("", "-wal", "-shm"):
        (tmp_path / f"lbaas.sqlite{suffix}").touch()
        os.chmod(tmp_path / f"lbaas.sqlite{suffix}", 0o644)
    os.chmod(tmp_path, 0o755)
    dbmod.make_private(f"sqlite:///{path}")
    assert [mode(tmp_path / f"lbaas.sqlite{s}") for s in ("", "-wal", "-shm")] == [0o600] * 3
    assert mode(tmp_path) == 0o755


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:",
                                 "postgresql+psycopg://u@/db?host=/tmp"])
def test_nothing_to_make_private_for_other_databases(url):
    """In-memory SQLite and server databases have no file of ours."""
    assert dbmod.sqlite_file(url) is None
    dbmod.make_private(url)  # no error, nothing created


def test_local_compute_records_are_private(tmp_path, umask):
    """The local compute backend's state folder is 0700 and its amphora records 0600."""
    compute = LocalCompute(state_dir=str(tmp_path / "amphorae"))
    compute._write({"amphora_id": "a1", "name": "n", "management_ip": "172.31.255.2",
                    "interfaces": []})
    assert mode(tmp_path / "amphorae") == 0o700
    assert mode(tmp_path / "amphorae" / "a1.json") == 0o600


@WRITERS
def test_an_atomic_write_gives_its_mode_whatever_the_umask(tmp_path, umask, write):
    """A file written whole is 0600 (or the mode asked), new or replacing a 0644 one."""
    new, old, script = tmp_path / "new", tmp_path / "old", tmp_path / "script"
    old.write_bytes(b"before")
    os.chmod(old, 0o644)
    write(str(new), b"secret")
    write(str(old), b"after")
    write(str(script), b"#!/bin/sh\n", 0o700)
    assert (mode(new), mode(old), mode(script)) == (0o600, 0o600, 0o700)
    assert (old.read_bytes(), sorted(os.listdir(tmp_path))) == (b"after", ["new", "old", "script"])


@WRITERS
def test_a_failed_atomic_write_keeps_the_old_file_and_no_temporary_one(tmp_path, write):
    """A write that fails midway leaves the file as it was and nothing beside it."""
    path = tmp_path / "f"
    path.write_bytes(b"before")
    with pytest.raises(TypeError):
        write(str(path), "text, not bytes")
    assert (path.read_bytes(), os.listdir(tmp_path)) == (b"before", ["f"])


def test_the_agents_check_sees_the_new_bytes_and_its_refusal_replaces_nothing(tmp_path):
    """The agent's check runs on the written temporary file; what it raises keeps the old file."""
    path, seen = tmp_path / "server.pem", []

    def refuse(tmp):
        seen.append(open(tmp, "rb").read())
        raise ValueError("does not load")

    path.write_bytes(b"old")
    with pytest.raises(ValueError, match="does not load"):
        agent_files.write_atomic(str(path), b"new", check=refuse)
    assert (seen, path.read_bytes(), os.listdir(tmp_path)) == ([b"new"], b"old", ["server.pem"])


def test_a_record_write_killed_midway_leaves_the_old_record_and_nothing_else(tmp_path):
    """A worker SIGKILLed between writing a record's temporary file and renaming it (the
    scale-out chaos test does this) leaves the previous record whole, and the next locked
    operation of any process removes the temporary file."""
    import multiprocessing
    import signal
    state = tmp_path / "amphorae"
    compute = LocalCompute(state_dir=str(state))
    amphora_id = "5f0c2a4e-0000-4000-8000-00000000a001"
    record = {"amphora_id": amphora_id, "name": "n", "management_ip": "172.31.255.2",
              "interfaces": [], "pids": {}}
    compute._write(record)

    def killed_before_the_rename():
        os.replace = lambda *_: os.kill(os.getpid(), signal.SIGKILL)
        with compute._locked():
            compute._write({**record, "management_ip": "172.31.255.3"})

    child = multiprocessing.get_context("fork").Process(target=killed_before_the_rename)
    child.start()
    child.join(30)
    assert child.exitcode == -signal.SIGKILL
    orphans = [e for e in os.listdir(state) if e.startswith(private.TEMP_PREFIX)]
    assert len(orphans) == 1
    with compute._locked():
        pass
    assert sorted(os.listdir(state)) == [".lock", f"{amphora_id}.json"]
    assert compute.get(amphora_id).management_ip == "172.31.255.2"
