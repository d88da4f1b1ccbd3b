"""`lbaas-db-manage upgrade [REVISION]`: apply the schema migrations to the configured database."""
import argparse
import sys

from lbaas import conf as lbaas_conf
from lbaas.cmd import common
from lbaas.db import migrate


def main(argv=None):
    """Entry point of the `lbaas-db-manage` console script."""
    parser = argparse.ArgumentParser(prog="lbaas-db-manage", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("upgrade", help="migrate to a revision (default head)")
    up.add_argument("revision", nargs="?", default="head")
    sub.add_parser("current", help="print the database's revision")
    common.add_config_file(parser)
    args = common.parse_args(parser, argv)
    conf = common.load_conf(args.config_file)
    common.setup_logging(conf)
    url = lbaas_conf.database_url(conf)
    if args.command == "upgrade":
        migrate.upgrade(url, args.revision)
    else:
        migrate.current(url)
    return 0


if __name__ == "__main__":
    sys.exit(main())
