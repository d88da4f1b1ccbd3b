"""Logging the OpenStack way: oslo.log's options ([DEFAULT] debug, log_file, log_dir, use_json,
use_syslog, use_journal, default_log_levels, ...) and their set-up for every lbaas process.

One rule of lbaas's own: without log_file, log_dir or use_journal, records go to standard
error (oslo.log's fallback is standard output, where `lbaas serve` prints its banner and
`lbaas certificate import` the reference it stored). API records carry the request id and
the project: the API stores an oslo.context RequestContext per request thread-locally
(lbaas.api.access), and oslo.log's ContextFormatter reads it.
"""
from oslo_log import log as oslo_log

PRODUCT = "lbaas"
# oslo.log's per-module levels, and lbaas's additions: waitress warns whenever a request
# waits for a thread (normal under load, not news).
EXTRA_LEVELS = ["waitress.queue=ERROR"]


def default_log_levels():
    """oslo.log's default per-module levels with lbaas's own added."""
    return oslo_log.get_default_log_levels() + EXTRA_LEVELS


def register(conf):
    """Register oslo.log's options on a ConfigOpts not yet parsed, with lbaas's defaults."""
    oslo_log.register_options(conf)
    conf.set_default("default_log_levels", default_log_levels())


def list_opts():
    """oslo.log's options with lbaas's defaults, for oslo-config-generator."""
    oslo_log.set_defaults(default_log_levels=default_log_levels())
    from oslo_log import _options
    return [("DEFAULT", _options.list_opts()[0][1])]


def setup(conf, version="unknown"):
    """Configure the process's logging from a parsed configuration (oslo.log)."""
    if not (conf.log_file or conf.log_dir or conf.use_journal or conf.log_config_append):
        conf.set_default("use_stderr", True)   # unless the file says otherwise
    oslo_log.setup(conf, PRODUCT, version, fix_eventlet=False)
