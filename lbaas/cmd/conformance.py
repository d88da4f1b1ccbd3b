"""`lbaas conformance --provider NAME`: run the driver conformance suite (pytest) on a provider."""
import importlib.metadata
import os
import sys
import tempfile

PLUGIN = "lbaas.conformance.plugin"


def add_parser(sub):
    """Register the `conformance` subcommand on an argparse subparsers."""
    p = sub.add_parser("conformance", help="certify a provider driver: drive it through the "
                                           "whole contract and write a capability report")
    p.add_argument("--provider", required=True, help="provider (octavia.api.drivers entry "
                                                     "point name) to certify")
    p.add_argument("--url", help="use this running lbaas instead of starting `lbaas serve`")
    p.add_argument("--report-dir", help="write report.json and report.md here")
    p.add_argument("--status-timeout", type=float, default=60.0,
                   help="seconds an object may take to reach ACTIVE or DELETED (default 60)")
    p.add_argument("pytest_args", nargs="*", help="extra pytest arguments (after --)")
    p.set_defaults(func=run)


def _plugin_preloaded():
    """Whether the plugin is already a pytest11 entry point (then `-p` would load it twice)."""
    return any(ep.value == PLUGIN for ep in importlib.metadata.entry_points(group="pytest11"))


def argv_for(args, config_file):
    """The pytest command line of one run."""
    ini = os.path.join(tempfile.mkdtemp(prefix="lbaas-conformance-ini-"), "pytest.ini")
    with open(ini, "w") as f:
        f.write("[pytest]\n")  # keep the caller's pytest.ini (testpaths, addopts) out
    argv = ["-c", ini, "--rootdir", os.path.dirname(ini), "-p", "no:cacheprovider", "-q",
            "-rfEs", "--pyargs", "lbaas.conformance", "--provider", args.provider,
            "--status-timeout", str(args.status_timeout)]
    if not _plugin_preloaded():
        argv = ["-p", PLUGIN] + argv
    if args.url:
        argv += ["--lbaas-url", args.url]
    if config_file:
        argv += ["--lbaas-config-file", config_file]
    if args.report_dir:
        argv += ["--report-dir", os.path.abspath(args.report_dir)]
    return argv + list(args.pytest_args)


def run(args):
    """Run the suite; the exit code is pytest's (0: the provider conforms)."""
    try:
        import pytest
    except ImportError:
        print("lbaas conformance needs pytest: pip install pytest", file=sys.stderr)
        return 2
    files = args.config_file or ([os.environ["LBAAS_CONFIG_FILE"]]
                                 if os.environ.get("LBAAS_CONFIG_FILE") else [])
    if len(files) > 1:
        print("lbaas conformance takes one --config-file", file=sys.stderr)
        return 2
    config_file = os.path.abspath(files[0]) if files else None
    return int(pytest.main(argv_for(args, config_file)))
