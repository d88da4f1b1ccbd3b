"""lbaas's configuration (oslo.config), with Octavia's names where the concept is the same.

Every option lives in this package, one module per owner (core, amphora, providers,
network, neutron, driver_agent, notifications); `make_conf` registers them all, so any process reads any
option (keystonemiddleware's and keystoneauth1's only where they are used: keystone
authentication, the neutron network backend).
The package imports nothing of lbaas: every layer may use it.
"""
import os

from oslo_config import cfg

from lbaas.conf import logs, noise
from lbaas.conf.amphora import (
    TRANSPORT_URL,
    amphora_agent_opts,
    amphora_compute_opts,
    compute_local_opts,
    haproxy_opts,
    health_manager_opts,
    house_keeping_opts,
    keepalived_vrrp_opts,
    messaging_opts,
    worker_opts,
)
from lbaas.conf.core import (
    DEFAULT_STATE_PATH,
    api_opts,
    certificates_opts,
    database_opts,
    default_opts,
    network_opts,
    networking_opts,
    quota_opts,
)
from lbaas.conf.driver_agent import driver_agent_opts
from lbaas.conf.metrics import metrics_opts
from lbaas.conf.network import network_local_opts
from lbaas.conf.notifications import list_messaging_opts, notification_opts
from lbaas.conf.neutron import list_ksa_opts, register_neutron_opts
from lbaas.conf.nova import compute_nova_opts, nova_opts, register_nova_opts
from lbaas.conf.nova import list_ksa_opts as list_nova_ksa_opts
from lbaas.conf.providers import noop_opts, ovn_opts

__all__ = ["CONFIG_ENV", "DEFAULT_STATE_PATH", "GROUPS", "config_files", "database_url",
           "list_opts", "load_conf", "make_conf", "register_keystone_opts", "register_neutron_opts",
           "register_nova_opts", "setup_logging"]

CONFIG_ENV = "LBAAS_CONFIG_FILE"

GROUPS = [
    (None, default_opts),
    ("api_settings", api_opts),
    ("database", database_opts),
    ("networking", networking_opts),
    ("network", network_opts),
    ("haproxy_amphora", haproxy_opts),
    ("controller_worker", worker_opts),
    ("controller_worker", notification_opts),
    ("controller_worker", compute_nova_opts),
    ("nova", nova_opts),
    ("oslo_messaging", messaging_opts),
    ("keepalived_vrrp", keepalived_vrrp_opts),
    ("house_keeping", house_keeping_opts),
    ("network_local", network_local_opts),
    ("quotas", quota_opts),
    ("noop_driver", noop_opts),
    ("health_manager", health_manager_opts),
    ("certificates", certificates_opts),
    ("amphora_agent", amphora_agent_opts),
    ("amphora_compute", amphora_compute_opts),
    ("compute_local", compute_local_opts),
    ("ovn", ovn_opts),
    ("driver_agent", driver_agent_opts),
    ("metrics", metrics_opts),
]


def list_opts():
    """Every option group and its options, for oslo-config-generator.

    Also oslo.log's options ([DEFAULT] debug, log_file, use_json, ...) with lbaas's
    defaults, and [DEFAULT] transport_url: oslo.messaging registers it where a bus is used
    (importing oslo.messaging costs every process 0.2 s); this copy documents lbaas's
    default. And
    [service_auth] and [neutron], registered where the neutron backend is configured, and
    [nova]'s endpoint options, where the nova compute backend is; and
    oslo.messaging's [oslo_messaging_notifications], registered where notifications are sent.
    """
    return ([(group or "DEFAULT", opts) for group, opts in GROUPS]
            + [("DEFAULT", [TRANSPORT_URL])] + logs.list_opts() + list_ksa_opts()
            + list_nova_ksa_opts() + list_messaging_opts())


def register_keystone_opts(conf):
    """Register keystonemiddleware's [keystone_authtoken] options (idempotent).

    Only keystone deployments pay for importing keystonemiddleware (about 0.2 s).
    """
    from keystonemiddleware import auth_token
    for group, opts in auth_token.list_opts():
        conf.register_opts(list(opts), group=group)


def make_conf(args=None, config_files=None):
    """A private ConfigOpts with lbaas's options registered and parsed from explicit arguments."""
    conf = cfg.ConfigOpts()
    for group, opts in GROUPS:
        conf.register_opts(opts, group=group)
    logs.register(conf)
    conf(args=list(args or []), project="lbaas", default_config_files=config_files or [],
         default_config_dirs=[])
    if conf.api_settings.auth_strategy == "keystone":
        register_keystone_opts(conf)
    if conf.network.driver == "neutron":
        register_neutron_opts(conf)
    if conf.amphora_compute.driver == "nova":
        register_nova_opts(conf)
    return conf


def database_url(conf):
    """The database URL: the configured one, or the embedded SQLite file."""
    if conf.database.connection:
        return conf.database.connection
    return "sqlite:///" + os.path.join(conf.state_path, "lbaas.sqlite")


def config_files(explicit=None):
    """Config files named on the command line, else in $LBAAS_CONFIG_FILE (colon-separated)."""
    if explicit:
        return list(explicit)
    env = os.environ.get(CONFIG_ENV)
    return [p for p in env.split(":") if p] if env else []


def load_conf(explicit=None):
    """The configuration, parsed from files only (never from sys.argv)."""
    return make_conf(config_files=config_files(explicit))


def setup_logging(conf):
    """Configure the process's logging from `conf` (oslo.log) and silence known noise."""
    noise.silence_third_party()
    logs.setup(conf)
