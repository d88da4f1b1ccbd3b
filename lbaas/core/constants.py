"""The vocabulary of the Octavia v2 API: statuses, protocols, algorithms and bounds."""

# Provisioning statuses.
ACTIVE = "ACTIVE"
DELETED = "DELETED"
ERROR = "ERROR"
PENDING_CREATE = "PENDING_CREATE"
PENDING_UPDATE = "PENDING_UPDATE"
PENDING_DELETE = "PENDING_DELETE"
PROVISIONING_STATUSES = (ACTIVE, DELETED, ERROR, PENDING_CREATE, PENDING_UPDATE, PENDING_DELETE)
PENDING_STATUSES = (PENDING_CREATE, PENDING_UPDATE, PENDING_DELETE)
MUTABLE_STATUSES = (ACTIVE,)
DELETABLE_STATUSES = (ACTIVE, ERROR)
FAILOVERABLE_STATUSES = (ACTIVE, ERROR)

# Operating statuses.
ONLINE = "ONLINE"
OFFLINE = "OFFLINE"
DEGRADED = "DEGRADED"
DRAINING = "DRAINING"
NO_MONITOR = "NO_MONITOR"
OPERATING_STATUSES = (ONLINE, OFFLINE, DEGRADED, ERROR, DRAINING, NO_MONITOR)

# Listener protocols and the transport protocol each one occupies a port of.
LISTENER_PROTOCOLS = ("TCP", "HTTP", "HTTPS", "TERMINATED_HTTPS", "UDP", "SCTP", "PROMETHEUS")
L4_PROTOCOL = {
    "TCP": "TCP", "HTTP": "TCP", "HTTPS": "TCP", "TERMINATED_HTTPS": "TCP",
    "PROXY": "TCP", "PROXYV2": "TCP", "PROMETHEUS": "TCP", "UDP": "UDP", "SCTP": "SCTP",
}
POOL_PROTOCOLS = ("TCP", "HTTP", "HTTPS", "PROXY", "PROXYV2", "UDP", "SCTP")
LB_ALGORITHMS = ("ROUND_ROBIN", "LEAST_CONNECTIONS", "SOURCE_IP", "SOURCE_IP_PORT")

# Which pool protocols a listener of each protocol may send traffic to.
LISTENER_POOL_PROTOCOLS = {
    "HTTP": ("HTTP", "PROXY", "PROXYV2"),
    "HTTPS": ("HTTPS", "PROXY", "PROXYV2", "TCP"),
    "TERMINATED_HTTPS": ("HTTP", "PROXY", "PROXYV2"),
    "TCP": ("HTTP", "HTTPS", "PROXY", "PROXYV2", "TCP"),
    "UDP": ("UDP",),
    "SCTP": ("SCTP",),
    "PROMETHEUS": (),
}

# Session persistence.
SESSION_PERSISTENCE_TYPES = ("SOURCE_IP", "HTTP_COOKIE", "APP_COOKIE")
DATAGRAM_PROTOCOLS = ("UDP", "SCTP")

# Health monitors and the pool protocols each type may watch.
HM_TYPES = ("HTTP", "HTTPS", "PING", "TCP", "TLS-HELLO", "UDP-CONNECT", "SCTP")
HM_TYPES_FOR_DATAGRAM_POOLS = ("HTTP", "TCP", "UDP-CONNECT", "SCTP")
HM_TYPES_FOR_STREAM_POOLS = ("HTTP", "HTTPS", "PING", "TCP", "TLS-HELLO")
HM_HTTP_TYPES = ("HTTP", "HTTPS")
HTTP_METHODS = ("GET", "HEAD", "POST", "PUT", "DELETE", "TRACE", "OPTIONS", "CONNECT", "PATCH")
HTTP_VERSIONS = (1.0, 1.1)
HM_DEFAULT_HTTP_METHOD = "GET"
HM_DEFAULT_URL_PATH = "/"
HM_DEFAULT_EXPECTED_CODES = "200"
HM_DEFAULT_MAX_RETRIES_DOWN = 3

# Listener options.
CLIENT_AUTH_MODES = ("NONE", "OPTIONAL", "MANDATORY")
TLS_VERSIONS = ("SSLv3", "TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3")
ALPN_PROTOCOLS = ("h2", "http/1.1", "http/1.0")
INSERT_HEADERS = ("X-Forwarded-For", "X-Forwarded-Port", "X-Forwarded-Proto", "X-Forwarded-IP",
                  "X-Client-IP", "X-Real-IP")
SSL_CLIENT_HEADERS = ("X-SSL-Client-Verify", "X-SSL-Client-Has-Cert", "X-SSL-Client-DN",
                      "X-SSL-Client-CN", "X-SSL-Issuer", "X-SSL-Client-SHA1",
                      "X-SSL-Client-Not-Before", "X-SSL-Client-Not-After")

# Bounds.
MAX_NAME = 255
MAX_PROJECT_ID = 36
MAX_TAG = 255
MAX_REF = 255
MAX_CIPHERS = 2048
MIN_PORT, MAX_PORT = 1, 65535
MAX_TIMEOUT_MS = 24 * 24 * 60 * 60 * 1000
MIN_WEIGHT, MAX_WEIGHT = 0, 256
MIN_RETRIES, MAX_RETRIES = 1, 10
MIN_CONNECTION_LIMIT = -1

VNIC_NORMAL = "normal"

# Traffic counters of a listener, in the order the stats body shows them.
STAT_FIELDS = ("bytes_in", "bytes_out", "active_connections", "total_connections",
               "request_errors")

# L7 policies.
L7_ACTIONS = ("REJECT", "REDIRECT_TO_URL", "REDIRECT_TO_POOL", "REDIRECT_PREFIX")
REDIRECT_HTTP_CODES = (301, 302, 303, 307, 308)
DEFAULT_REDIRECT_HTTP_CODE = 302
MIN_POSITION, MAX_POSITION = 1, 2147483647

# L7 rules.
L7_RULE_TYPES = ("HOST_NAME", "PATH", "FILE_TYPE", "HEADER", "COOKIE", "SSL_CONN_HAS_CERT",
                 "SSL_VERIFY_RESULT", "SSL_DN_FIELD")
L7_COMPARE_TYPES = ("REGEX", "STARTS_WITH", "ENDS_WITH", "CONTAINS", "EQUAL_TO")
MAX_L7_RULES_PER_POLICY = 50

# Quotas: the resources counted, and the bounds of a limit (-1: unlimited).
QUOTA_RESOURCES = ("loadbalancer", "listener", "pool", "healthmonitor", "member", "l7policy",
                   "l7rule")
MIN_QUOTA, MAX_QUOTA = -1, 2000000000
UNLIMITED = -1

# Flavor and availability-zone profiles.
MAX_PROFILE_DATA = 4096

# Amphorae.
AMPHORA_STATUSES = ("BOOTING", "ALLOCATED", "READY", "PENDING_CREATE", "PENDING_DELETE",
                    "DELETED", "ERROR", "FAILOVER_STOPPED")
AMPHORA_ROLES = ("STANDALONE", "MASTER", "BACKUP")
