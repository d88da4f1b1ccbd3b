"""The amphora provider's options: HAProxy, the worker and its bus, VRRP, housekeeping,
the health manager, the agent and the compute backends (Octavia's group and option names;
the API reads [haproxy_amphora]'s timeouts and [controller_worker] loadbalancer_topology as
upstream's does)."""
from oslo_config import cfg

TRANSPORT_URL = cfg.StrOpt(
    "transport_url", secret=True,
    help="Message bus between the API and lbaas-worker processes (oslo.messaging URL, e.g. "
         "rabbit://user:password@host:5672/). Unset: an in-memory bus, so the amphora "
         "worker runs inside the API process (lbaas serve).")


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
    cfg.FloatOpt("lease_duration", default=20.0, min=1.0,
                 help="Seconds a worker's lease on a load balancer (its right to reconcile "
                      "it) lasts unless renewed, and seconds a worker stays in the registry "
                      "of live workers after its last renewal. A worker that dies holds its "
                      "load balancers this long; then another worker's sweep takes them over "
                      "(at most lease_duration + sweep_interval). Must exceed the worst "
                      "pause of a worker (and the clock skew between hosts) by far: a "
                      "worker paused longer loses its leases and stops at its next step."),
    cfg.FloatOpt("lease_renew_interval", default=5.0, min=0.1,
                 help="Seconds between two renewals of a worker's leases and of its row in "
                      "the registry of live workers (keep it well under lease_duration; a "
                      "third or less survives a missed renewal)."),
    cfg.StrOpt("amphora_driver", default="amphora_haproxy_rest_driver",
               help="How the worker talks to amphora agents (entry point in "
                    "lbaas.amphora.agent): amphora_haproxy_rest_driver (their REST API over "
                    "mutual TLS) or amphora_noop_driver (no agent: every call succeeds, nothing "
                    "runs, no heartbeat is expected; with the noop compute and network "
                    "backends, for API tests, as upstream's noop job)."),
]


messaging_opts = [
    cfg.StrOpt("topic", default="lbaas_amphora",
               help="Topic the amphora provider driver casts reconcile requests to."),
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


health_manager_opts = [
    cfg.IPOpt("bind_ip", default="127.0.0.1",
              help="Address the health manager receives heartbeats on."),
    cfg.PortOpt("bind_port", default=5555,
                help="UDP port the health manager receives heartbeats on."),
    cfg.ListOpt("controller_ip_port_list", default=[],
                help="Where amphorae send heartbeats: ip:port list, IPv6 in brackets; "
                     "each heartbeat goes to every address (one per health manager)."),
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
                    "local (a network namespace on this host), nova (a Nova server booted "
                    "from the amphora image) or noop."),
    cfg.FloatOpt("noop_boot_delay", default=0.0, min=0.0,
                 help="Seconds the noop compute backend takes to create an amphora, standing "
                      "in for a cloud's boot time when the control plane is measured or "
                      "tested under load (0: at once; other backends ignore it)."),
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
    cfg.StrOpt("integration_bridge", default="br-int",
               help="Open vSwitch bridge that amphora interfaces on network ports (the "
                    "neutron network backend) are plugged into, with the port's MAC and "
                    "external_ids:iface-id, for ovn-controller to bind."),
    cfg.StrOpt("ovs_db", default="",
               help="OVSDB of that Open vSwitch (ovs-vsctl --db), e.g. "
                    "unix:/run/openvswitch/db.sock. Empty: ovs-vsctl's default."),
    cfg.StrOpt("ovs_netns", default="",
               help="Network namespace where ovs-vswitchd's ports live (the host ends of "
                    "amphora interfaces go there). Empty: this host's own."),
    cfg.StrOpt("host", default="",
               help="Host name network ports of local amphorae are bound to "
                    "(binding:host_id; ovn-controller's chassis hostname). Empty: this "
                    "host's name."),
]
