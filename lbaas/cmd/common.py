"""What every lbaas command shares: configuration from explicit arguments, logging, and the
`--config-file` option at every level of a command line."""
import argparse

# the commands' API
from lbaas.conf import CONFIG_ENV, config_files, load_conf, setup_logging  # noqa: F401
from lbaas.conf.noise import silence_third_party  # noqa: F401

CONFIG_FILE_HELP = "configuration file (repeatable; default $LBAAS_CONFIG_FILE)"
_NESTED = "config_file_"   # the dest of --config-file below the top level, + its depth


def add_config_file(parser, depth=0):
    """Give `parser` and every sub-command under it `--config-file` (where it lacks one)."""
    if "--config-file" not in parser._option_string_actions:
        # below the top, a separate dest: argparse copies a sub-command's defaults over
        # its parent's values, which would drop `lbaas --config-file F serve`'s F
        parser.add_argument("--config-file", action="append", metavar="FILE",
                            help=CONFIG_FILE_HELP,
                            dest=f"{_NESTED}{depth}" if depth else "config_file",
                            default=argparse.SUPPRESS if depth else None)
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                add_config_file(sub, depth + 1)


def parse_args(parser, argv=None):
    """Parse a command line; every level's --config-file, in order, in args.config_file."""
    args = parser.parse_args(argv)
    files = list(getattr(args, "config_file", None) or [])
    for key in sorted((k for k in vars(args) if k.startswith(_NESTED)),
                      key=lambda k: int(k[len(_NESTED):])):
        files += getattr(args, key)
        delattr(args, key)
    args.config_file = files or None
    return args
