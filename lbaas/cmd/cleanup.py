"""`lbaas cleanup`: remove what `lbaas serve`'s local backends left running on this host.

Amphora namespaces (with their agent, HAProxy and keepalived processes), their veths, and
the bridges the local compute backend created, for one state path (--config-file, or the
embedded defaults with --state-path). Refuses while an `lbaas serve` uses that state path,
unless --force. The database (the user's load balancers) stays unless --purge-state.
"""
import contextlib
import os
import sys

from lbaas.cmd import common, serve_lock

SQLITE_SUFFIXES = ("", "-journal", "-wal", "-shm")


def add_parser(sub):
    """Register the `cleanup` subcommand on an argparse subparsers."""
    p = sub.add_parser("cleanup", help="remove the amphora namespaces, processes, veths and "
                                       "bridges `lbaas serve` left on this host")
    p.add_argument("--state-path", help="state directory of the `lbaas serve` to clean up "
                                        "(as given to `lbaas serve --state-path`)")
    p.add_argument("--dry-run", action="store_true", help="list what would be removed; "
                                                          "remove nothing")
    p.add_argument("--force", action="store_true",
                   help="clean up even while an `lbaas serve` runs on this state path")
    p.add_argument("--purge-state", action="store_true",
                   help="also delete the embedded SQLite database in the state path (every "
                        "load balancer defined there); off by default")
    p.set_defaults(func=run)


def _conf(args):
    conf = common.load_conf(common.config_files(args.config_file))
    if args.state_path:
        conf.set_override("state_path", args.state_path)
    return conf


def _database_files(conf):
    """The embedded SQLite database's files, or None when [database] connection is set."""
    if conf.database.connection:
        return None
    path = os.path.join(conf.state_path, "lbaas.sqlite")
    return [path + s for s in SQLITE_SUFFIXES if os.path.exists(path + s)]


def _report(verb, found, conf, args):
    """Print what is (or would be) removed, and the configured bridges that are kept."""
    for line in found.lines():
        print(f"  {verb} {line}")
    for name in found.foreign_bridges:
        print(f"  keep bridge {name}: configured, but not created by lbaas (no lbaas mark)")
    if args.purge_state:
        files = _database_files(conf)
        if files is None:
            print("  keep the database: [database] connection is set (drop it there)")
        for path in files or ():
            print(f"  {verb} {path}")


def run(args):
    """Find, list and (unless --dry-run) remove the leftovers; 0 when nothing is left."""
    from lbaas.cmd import leftovers   # pyroute2 (0.2 s): only for this command
    if os.geteuid() != 0:
        print("lbaas cleanup: needs root (network namespaces and bridges)", file=sys.stderr)
        return 2
    conf = _conf(args)
    lock = None
    if not (args.force or args.dry_run):
        try:
            lock = serve_lock.hold_exclusive(conf.state_path)
        except serve_lock.StatePathBusy as exc:
            print(f"lbaas cleanup: {exc}; stop it first, or pass --force to remove its "
                  "amphorae from under it", file=sys.stderr)
            return 1
    with contextlib.closing(lock) if lock else contextlib.nullcontext():
        found = leftovers.find(conf)
        if args.dry_run:
            print(f"lbaas cleanup --dry-run: state path {conf.state_path}: would remove"
                  + (":" if found or args.purge_state else " nothing"))
            _report("would remove", found, conf, args)
            return 0
        print(f"lbaas cleanup: state path {conf.state_path}")
        _report("remove", found, conf, args)
        leftovers.remove(conf, found)
        if args.purge_state:
            for path in _database_files(conf) or ():
                os.unlink(path)
        left = leftovers.find(conf)
        if left:
            print("lbaas cleanup: still there:\n  " + "\n  ".join(left.lines()),
                  file=sys.stderr)
            return 1
        print(f"lbaas cleanup: removed {len(found.namespaces)} amphora namespaces, "
              f"{len(found.veths)} veths, {len(found.bridges)} bridges")
    return 0
