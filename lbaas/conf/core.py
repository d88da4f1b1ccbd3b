"""The options of the API and core: state, API settings, database, networking, quotas,
certificate stores (Octavia's names where the concept is the same)."""
import os

from oslo_config import cfg

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
    cfg.IntOpt("serve_api_processes", default=1, min=0, max=64,
               help="Processes answering the API of `lbaas serve` (one Python process uses "
                    "at most one core): the first also runs the drivers' workers and "
                    "background services, the others only the API, on the same port. 0: one "
                    "per core, at most 4."),
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
    cfg.BoolOpt("healthcheck_enabled", default=False,
                help="Answer GET /healthcheck on the API's port (oslo.middleware's "
                     "healthcheck: 200 when the database, and the message bus if one is "
                     "configured, answer; 503 otherwise). Backends: [healthcheck] backends."),
    cfg.IntOpt("healthcheck_refresh_interval", default=5, min=0,
               help="Seconds a health check's result is kept before it is checked again."),
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
    cfg.BoolOpt("allow_invisible_resource_usage", default=False,
                help="Look up a VIP's network, subnet, port and QoS policy with lbaas's own "
                     "credentials instead of the caller's token, so that users may use "
                     "network resources Neutron does not show them (neutron backend). "
                     "Leave False unless every user may use every network."),
]


network_opts = [
    cfg.StrOpt("driver", default="noop",
               help="Network backend (entry point in lbaas.network) for VIPs and subnet lookups."),
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
