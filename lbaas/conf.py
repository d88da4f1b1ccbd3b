"""Configuration options of lbaas (oslo.config), with Octavia's names where the concept is the same."""
import os

from oslo_config import cfg

from lbaas.driver_agent.config import driver_agent_opts
from lbaas.drivers.ovn.config import ovn_opts

DEFAULT_STATE_PATH = os.path.join(
    os.environ.get("XDG_STATE_HOME") or os.path.expanduser("~/.local/state"), "lbaas")

default_opts = [
    cfg.StrOpt("state_path", default=DEFAULT_STATE_PATH,
               help="Directory for lbaas's own state: the embedded SQLite database, logs, sockets."),
]

api_opts = [
    cfg.HostAddressOpt("bind_host", default="127.0.0.1", help="Address the API listens on."),
    cfg.PortOpt("bind_port", default=9876, help="Port the API listens on."),
    cfg.IntOpt("api_workers", default=2, min=1,
               help="Worker processes of lbaas-api (gunicorn's arbiter, each serving with "
                    "api_threads threads)."),
    cfg.StrOpt("auth_strategy", default="noauth", choices=["noauth", "keystone"],
               help="How callers are authenticated. noauth: every caller is an admin."),
    cfg.StrOpt("noauth_default_project", default="admin",
               help="Under noauth, the project of objects created without project_id and without "
                    "an X-Project-Id header (upstream answers 400 there; this lets the CLI work)."),
    cfg.DictOpt("enabled_provider_drivers",
                default={"noop": "The no-op driver: accepts everything and reports ACTIVE."},
                help="Provider drivers users may choose: name to description (GET /providers)."),
    cfg.StrOpt("default_provider_driver", default="noop",
               help="Provider used when a load balancer is created without one."),
    cfg.BoolOpt("allow_pagination", default=True, help="Honour limit/marker on lists."),
    cfg.StrOpt("pagination_max_limit", default="1000",
               help="Largest page size; 'infinite' for none."),
    cfg.BoolOpt("allow_sorting", default=True, help="Honour sort/sort_key/sort_dir on lists."),
    cfg.BoolOpt("allow_filtering", default=True, help="Treat unknown list parameters as filters."),
    cfg.BoolOpt("allow_field_selection", default=True, help="Honour fields= on lists and shows."),
    cfg.IntOpt("max_filter_values", default=50, min=1,
               help="Most distinct values one list filter may carry: tags=a,b counts 2, "
                    "id=x&id=y counts 2 (more: 400)."),
    cfg.IntOpt("max_filter_values_per_request", default=200, min=1,
               help="Most distinct filter values one list request may carry, all filters and "
                    "tag filters together (more: 400)."),
    cfg.IntOpt("max_query_string_length", default=8000, min=256,
               help="Longest query string accepted, in bytes as sent (longer: 400). gunicorn "
                    "(lbaas-api) refuses request lines over 8190 bytes itself."),
    cfg.StrOpt("api_base_uri", help="Base URI for pagination links (default: the request URL)."),
    cfg.BoolOpt("allow_tls_terminated_listeners", default=True,
                help="Allow TERMINATED_HTTPS listeners."),
    cfg.BoolOpt("allow_prometheus_listeners", default=True, help="Allow PROMETHEUS listeners."),
    cfg.BoolOpt("allow_ping_health_monitors", default=True, help="Allow PING health monitors."),
    cfg.IntOpt("udp_connect_min_interval_health_monitor", default=3, min=0,
               help="Smallest delay (s) of a UDP-CONNECT health monitor."),
    cfg.StrOpt("default_listener_ciphers",
               default="ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
                       "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
                       "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
                       "ECDHE-ECDSA-AES256-SHA384:ECDHE-RSA-AES256-SHA384:"
                       "ECDHE-ECDSA-AES128-SHA256:ECDHE-RSA-AES128-SHA256",
               help="OpenSSL cipher string of TERMINATED_HTTPS listeners created without one."),
    cfg.StrOpt("default_pool_ciphers",
               default="ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
                       "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
                       "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
                       "ECDHE-ECDSA-AES256-SHA384:ECDHE-RSA-AES256-SHA384:"
                       "ECDHE-ECDSA-AES128-SHA256:ECDHE-RSA-AES128-SHA256",
               help="OpenSSL cipher string of TLS-enabled pools created without one."),
    cfg.StrOpt("tls_cipher_prohibit_list", default="",
               help="Colon-separated ciphers users may not request."),
    cfg.ListOpt("default_listener_tls_versions", default=["TLSv1.2", "TLSv1.3"],
                help="TLS versions of TERMINATED_HTTPS listeners created without tls_versions."),
    cfg.ListOpt("default_pool_tls_versions", default=["TLSv1.2", "TLSv1.3"],
                help="TLS versions of TLS-enabled pools created without tls_versions."),
    cfg.StrOpt("minimum_tls_version", choices=["SSLv3", "TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"],
               help="Lowest TLS version users may request."),
    cfg.ListOpt("default_listener_alpn_protocols", default=["h2", "http/1.1", "http/1.0"],
                help="ALPN protocols of TERMINATED_HTTPS listeners created without them."),
    cfg.ListOpt("default_pool_alpn_protocols", default=["h2", "http/1.1", "http/1.0"],
                help="ALPN protocols of TLS-enabled pools created without them."),
    cfg.IntOpt("max_request_body_size", default=1024 * 1024, min=1024,
               help="Largest request body accepted, in bytes (larger: 413)."),
    cfg.IntOpt("max_request_line", default=65536, min=1024,
               help="Longest request line (method, URL with its query string, HTTP version) "
                    "accepted, in bytes (longer: 414)."),
    cfg.IntOpt("api_threads", default=8, min=1,
               help="Threads running requests in each API process (lbaas serve; each "
                    "lbaas-api worker). One more thread reads and writes every connection and "
                    "hands a request to them only once it is complete, so slow clients hold "
                    "none of them."),
    cfg.IntOpt("max_connections", default=100, min=1,
               help="Client connections one API process keeps open; further ones wait in the "
                    "listen backlog until one closes."),
    cfg.IntOpt("client_idle_timeout", default=60, min=1,
               help="Seconds a client connection may send nothing, between requests or in the "
                    "middle of one, before it is closed."),
    cfg.IntOpt("client_header_timeout", default=30, min=1,
               help="Seconds a client has to send a request's line and headers, however "
                    "steadily it trickles them, before the connection is closed."),
]

database_opts = [
    cfg.StrOpt("connection", secret=True,
               help="SQLAlchemy URL of the database. Default: SQLite in state_path."),
    cfg.IntOpt("max_pool_size", default=10, help="Connections kept per process (not SQLite)."),
    cfg.IntOpt("deadlock_retries", default=4, min=0,
               help="How many more times a write transaction that lost a lock race (a "
                    "deadlock, a lock wait timeout, a Galera certification conflict) is run "
                    "from the start, after a short random pause, before the API answers 409."),
]

networking_opts = [
    cfg.BoolOpt("allow_vip_network_id", default=True, help="Allow vip_network_id on create."),
    cfg.BoolOpt("allow_vip_subnet_id", default=True, help="Allow vip_subnet_id on create."),
    cfg.BoolOpt("allow_vip_port_id", default=True, help="Allow vip_port_id on create."),
    cfg.ListOpt("reserved_ips", default=["169.254.169.254"],
                help="Addresses that may not be members."),
    cfg.ListOpt("valid_vip_networks", default=[],
                help="If set, the only networks a VIP may be placed on."),
    cfg.ListOpt("denylist_vip_networks", default=[], help="Networks a VIP may not be placed on."),
]

network_opts = [
    cfg.StrOpt("driver", default="noop",
               help="Network backend (entry point in lbaas.network) for VIPs and subnet lookups."),
]

haproxy_opts = [
    cfg.IntOpt("timeout_client_data", default=50000, help="Default listener timeout_client_data (ms)."),
    cfg.IntOpt("timeout_member_connect", default=5000,
               help="Default listener timeout_member_connect (ms)."),
    cfg.IntOpt("timeout_member_data", default=50000, help="Default listener timeout_member_data (ms)."),
    cfg.IntOpt("timeout_tcp_inspect", default=0, help="Default listener timeout_tcp_inspect (ms)."),
    cfg.IntOpt("default_connection_limit", default=5000, min=1,
               help="Connections a listener accepts when its connection_limit is -1 (HAProxy "
                    "needs about two file descriptors per connection)."),
    cfg.StrOpt("haproxy_cmd", default="haproxy", help="The HAProxy binary amphorae run."),
    cfg.IntOpt("threads", default=1, min=0,
               help="HAProxy threads per load balancer (nbthread); 0: one per CPU. Local "
                    "amphorae share the host's cores: one thread served 30% more requests "
                    "with 40% less CPU per request than two on a 2-core host "
                    "(docs/performance.md)."),
    cfg.BoolOpt("splice", default=False,
                help="Forward with the kernel's splice (option splice-request/-response); "
                     "no gain measured on small responses."),
    cfg.StrOpt("user_group", default="nogroup",
               help="Group HAProxy runs as (its user is nobody)."),
]

worker_opts = [
    cfg.StrOpt("loadbalancer_topology", default="SINGLE", choices=["SINGLE", "ACTIVE_STANDBY"],
               help="Topology of load balancers whose flavor does not say."),
    cfg.IntOpt("workers", default=4, min=1,
               help="Load balancers one worker process reconciles at the same time."),
    cfg.IntOpt("sweep_interval", default=30, min=1,
               help="Seconds between two sweeps that reconcile every load balancer left in "
                    "PENDING_* (also run once at start-up)."),
    cfg.IntOpt("reconcile_attempts", default=3, min=1,
               help="Attempts at reconciling a load balancer before its pending objects go to "
                    "ERROR."),
    cfg.FloatOpt("agent_timeout", default=30.0, min=1.0,
                 help="Seconds to wait for a new amphora's agent to answer."),
    cfg.FloatOpt("agent_request_timeout", default=30.0, min=1.0,
                 help="Seconds one request to an amphora agent may take."),
    cfg.PortOpt("agent_port", default=9443, help="Port the amphora agents listen on."),
    cfg.StrOpt("amphora_driver", default="amphora_haproxy_rest_driver",
               help="How the worker talks to amphora agents (entry point in "
                    "lbaas.amphora.agent): amphora_haproxy_rest_driver (their REST API over "
                    "mutual TLS) or amphora_noop_driver (no agent: every call succeeds, nothing "
                    "runs, no heartbeat is expected; with the noop compute and network "
                    "backends, for API tests, as upstream's noop job)."),
]

keepalived_vrrp_opts = [
    cfg.StrOpt("keepalived_cmd", default="keepalived",
               help="The keepalived binary ACTIVE_STANDBY amphorae run."),
    cfg.FloatOpt("vrrp_advert_int", default=0.2, min=0.01, max=255.0,
                 help="Seconds between two VRRP adverts of the MASTER (VRRPv3, so fractions "
                      "are allowed). The BACKUP takes the VIP after 3 adverts are missed plus "
                      "a skew: about 0.7 s at 0.2 (Octavia's default of 1 s gives about 3.6 s)."),
    cfg.IntOpt("vrrp_check_interval", default=1, min=1,
               help="Seconds between two runs of the HAProxy check script."),
    cfg.IntOpt("vrrp_fail_count", default=2, min=1,
               help="Failed checks in a row before a node gives up the VIP."),
    cfg.IntOpt("vrrp_success_count", default=2, min=1,
               help="Passed checks in a row before a node may hold the VIP again."),
    cfg.IntOpt("vrrp_garp_refresh_interval", default=5, min=0,
               help="Seconds between gratuitous ARPs the MASTER repeats (0: only on takeover)."),
    cfg.IntOpt("vrrp_garp_refresh_count", default=2, min=1,
               help="Gratuitous ARPs sent at each refresh."),
]

house_keeping_opts = [
    cfg.IntOpt("spare_amphora_pool_size", default=0, min=0,
               help="Amphorae kept booted and idle (status READY) so that a new load "
                    "balancer takes one instead of waiting for an agent to start. lbaas serve "
                    "on its embedded defaults keeps 1."),
    cfg.IntOpt("cleanup_interval", default=60, min=1,
               help="Seconds between two housekeeping passes (purge, orphans, certificate "
                    "rotation); the first runs at start."),
    cfg.IntOpt("load_balancer_expiry_age", default=604800, min=0,
               help="Seconds a DELETED load balancer's row is kept before it is purged "
                    "(0: never purged)."),
    cfg.IntOpt("amphora_expiry_age", default=604800, min=0,
               help="Seconds a DELETED amphora's row (and its amphora_health row) is kept "
                    "before it is purged (0: never purged)."),
    cfg.IntOpt("cert_rotate_before", default=7 * 24 * 3600, min=0,
               help="Rotate an ALLOCATED or READY amphora's agent certificate when it expires "
                    "within this many seconds (0: no rotation). Must be well above "
                    "cleanup_interval."),
    cfg.IntOpt("orphan_grace_period", default=60, min=0,
               help="Seconds a compute instance must have been seen without a live amphora "
                    "row (missing or DELETED) before housekeeping deletes it."),
]

messaging_opts = [
    cfg.StrOpt("topic", default="lbaas_amphora",
               help="Topic the amphora provider driver casts reconcile requests to."),
]

network_local_opts = [
    cfg.MultiStrOpt("subnet", default=[],
                    help="A subnet of the local network backend (repeat for more): "
                         "'name=N cidr=C bridge=B [network=NET] [gateway=G] [host_ip=H] "
                         "[allocation_start=A] [allocation_end=E] [ovn_switch=LS] "
                         "[ovn_router=LR]'. Subnets sharing a network name form one network; "
                         "the bridge (at most 15 characters) is created when first plugged; "
                         "host_ip (default: the gateway) is put on the bridge so this host "
                         "reaches the subnet. ovn_switch/ovn_router name the OVN logical switch "
                         "and router carrying the subnet (the ovn provider's load balancers "
                         "are attached to them); with either, bridge may be left out, and such "
                         "a subnet hosts no amphora."),
]

quota_opts = [
    cfg.IntOpt(f"default_{name}_quota", default=-1, min=-1, max=2000000000,
               help=f"{label} a project may have unless its quota says otherwise (-1: no limit).")
    for name, label in (("load_balancer", "Load balancers"), ("listener", "Listeners"),
                        ("member", "Members"), ("pool", "Pools"),
                        ("health_monitor", "Health monitors"), ("l7policy", "L7 policies"),
                        ("l7rule", "L7 rules"))
] + [
    cfg.BoolOpt("enforce_with_noauth", default=False,
                help="Enforce quotas under auth_strategy=noauth too (upstream never does)."),
]

noop_opts = [
    cfg.FloatOpt("report_delay", default=0.0, min=0.0,
                 help="Seconds the noop driver waits before reporting (0: at once)."),
    cfg.StrOpt("operating_status", default="healthy", choices=[
        ("healthy", "as a healthy data plane shows them: ONLINE (OFFLINE when admin-down), "
                    "members NO_MONITOR without a monitor"),
        ("unmeasured", "as upstream Octavia's noop backends leave them, which its API tests "
                       "assert: measured statuses (load balancer, listener, pool, monitored "
                       "member) stay as created; monitors and L7 policies and rules follow "
                       "their admin state")],
               help="The operating statuses the noop provider reports."),
]

health_manager_opts = [
    cfg.IPOpt("bind_ip", default="127.0.0.1",
              help="Address the health manager receives heartbeats on."),
    cfg.PortOpt("bind_port", default=5555,
                help="UDP port the health manager receives heartbeats on."),
    cfg.ListOpt("controller_ip_port_list", default=[],
                help="Where amphorae send heartbeats: ip:port list, IPv6 in brackets, "
                     "round-robin."),
    cfg.IntOpt("heartbeat_interval", default=1, min=1,
               help="Seconds between two heartbeats of an amphora (a heartbeat costs the "
                    "health manager about 2 ms).", mutable=True),
    cfg.StrOpt("heartbeat_key", secret=True, mutable=True,
               help="Shared HMAC-SHA256 key signing heartbeats. Required by the health manager "
                    "and the amphora agents; the same value on both."),
    cfg.IntOpt("heartbeat_timeout", default=3, min=1,
               help="Seconds without a valid heartbeat after which an amphora is failed over "
                    "(upstream: 60; amphorae here restart in well under a second)."),
    cfg.IntOpt("health_check_interval", default=1, min=1,
               help="Seconds between two scans for amphorae whose heartbeats stopped."),
    cfg.IntOpt("failover_circuit_breaker", default=50, min=0, max=100,
               help="When more than this percent of the amphorae that send heartbeats (and "
                    "at least two) go silent at once, fail none over: the control plane has "
                    "probably lost its network. They are marked FAILOVER_STOPPED until their "
                    "heartbeats resume or an operator fails them over."),
    cfg.IntOpt("heartbeat_replay_window", default=60, min=0,
               help="Drop a heartbeat whose timestamp is further than this many seconds from the "
                    "health manager's clock, and any heartbeat received twice within it "
                    "(lbaas extension; needs synchronised clocks; 0 accepts untimestamped "
                    "heartbeats of Octavia amphorae and disables replay protection)."),
]

certificates_opts = [
    cfg.StrOpt("ca_dir",
               help="Directory of the CA that signs amphora agent and controller certificates; "
                    "created on first start. Default: <state_path>/amphora-ca."),
    cfg.IntOpt("cert_validity_time", default=30 * 24 * 3600, min=3600,
               help="Seconds an amphora server or controller client certificate is valid."),
    cfg.IntOpt("ca_validity_time", default=10 * 365 * 24 * 3600, min=24 * 3600,
               help="Seconds the CA certificate made on first start is valid."),
    cfg.StrOpt("cert_manager", default="local",
               help="Store that TLS certificate references of listeners and pools are read "
                    "from (entry point in lbaas.cert_manager): local (this database, "
                    "references lbaas://certificates/<uuid>, filled by `lbaas certificate "
                    "import`), barbican (Barbican secret and container URLs), or noop "
                    "(alias noop_cert_manager: one throwaway sample certificate for any "
                    "reference, as upstream's noop job uses; tests and demos only)."),
    cfg.StrOpt("encryption_key", secret=True,
               help="Secret the local manager derives the key encrypting private keys at "
                    "rest from (at least 32 random characters; every API process needs the "
                    "same). Unset: the file <state_path>/certificates.key, which `lbaas serve` "
                    "creates; without either, local references cannot be read."),
    cfg.StrOpt("barbican_endpoint",
               help="Barbican's URL (e.g. http://controller:9311). Unset: the key-manager "
                    "endpoint of the Keystone catalog."),
    cfg.StrOpt("barbican_auth", default="token", choices=["token", "none"],
               help="How the barbican manager authenticates: token (the caller's Keystone "
                    "token, as Octavia reads references with the request's credentials) or "
                    "none (no token, the caller's project in X-Project-Id: a Barbican "
                    "running without authentication)."),
    cfg.StrOpt("auth_url",
               help="Keystone URL used to find Barbican in the catalog with the caller's "
                    "token (barbican_auth = token and no barbican_endpoint)."),
    cfg.IntOpt("barbican_timeout", default=10, min=1,
               help="Seconds the barbican manager waits for one Barbican request."),
]

amphora_agent_opts = [
    cfg.StrOpt("amphora_id", help="Id of the amphora this agent runs in."),
    cfg.StrOpt("agent_server_ca", default="/etc/lbaas/certs/client_ca.pem",
               help="CA certificate the agent requires client (controller) certificates from."),
    cfg.StrOpt("agent_server_cert", default="/etc/lbaas/certs/server.pem",
               help="The agent's server certificate and key (one PEM file)."),
    cfg.StrOpt("agent_tls_protocol", default="TLSv1.2", choices=["TLSv1.2", "TLSv1.3"],
               help="Lowest TLS version the agent's REST API accepts."),
]

amphora_compute_opts = [
    cfg.StrOpt("driver", default="noop",
               help="Compute backend of amphorae (entry point in lbaas.amphora.compute): "
                    "local (a network namespace on this host) or noop."),
]

compute_local_opts = [
    cfg.StrOpt("management_bridge", default="lbaas-mgmt",
               help="Linux bridge (created if missing, at most 15 characters) joining the "
                    "amphorae's management interfaces to this host."),
    cfg.StrOpt("management_cidr", default="172.31.255.0/24",
               help="Management network of local amphorae; its first address goes on the "
                    "bridge, the others to amphorae."),
    cfg.StrOpt("state_dir",
               help="Records, pids and logs of local amphorae. Default: <state_path>/amphorae."),
]

TRANSPORT_URL = cfg.StrOpt(
    "transport_url", secret=True,
    help="Message bus between the API and lbaas-worker processes (oslo.messaging URL, e.g. "
         "rabbit://user:password@host:5672/). Unset: an in-memory bus, so the amphora "
         "worker runs inside the API process (lbaas serve).")

GROUPS = [
    (None, default_opts),
    ("api_settings", api_opts),
    ("database", database_opts),
    ("networking", networking_opts),
    ("network", network_opts),
    ("haproxy_amphora", haproxy_opts),
    ("controller_worker", worker_opts),
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
]


def list_opts():
    """Every option group and its options, for oslo-config-generator.

    Also [DEFAULT] transport_url: oslo.messaging registers it where a bus is used (importing
    oslo.messaging costs every process 0.2 s); this copy documents lbaas's default.
    """
    return [(group or "DEFAULT", opts) for group, opts in GROUPS] + [("DEFAULT", [TRANSPORT_URL])]


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
    conf(args=list(args or []), project="lbaas", default_config_files=config_files or [],
         default_config_dirs=[])
    if conf.api_settings.auth_strategy == "keystone":
        register_keystone_opts(conf)
    return conf


def database_url(conf):
    """The database URL: the configured one, or the embedded SQLite file."""
    if conf.database.connection:
        return conf.database.connection
    return "sqlite:///" + os.path.join(conf.state_path, "lbaas.sqlite")
