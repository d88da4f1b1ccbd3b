"""What every lbaas command shares: configuration from explicit arguments, logging."""
import logging
import os

from lbaas import conf as lbaas_conf

CONFIG_ENV = "LBAAS_CONFIG_FILE"


def config_files(explicit=None):
    """Config files named on the command line, else in $LBAAS_CONFIG_FILE (colon-separated)."""
    if explicit:
        return list(explicit)
    env = os.environ.get(CONFIG_ENV)
    return [p for p in env.split(":") if p] if env else []


def load_conf(explicit=None):
    """The configuration, parsed from files only (never from sys.argv)."""
    return lbaas_conf.make_conf(config_files=config_files(explicit))


def setup_logging(level=logging.INFO):
    """Log to stderr with timestamps."""
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
