"""The options of the `nova` compute backend: Octavia's names, in Octavia's groups.

[controller_worker] says what an amphora server boots from and with (image, flavor,
networks, security groups, key, config drive) and how long its boot may take; [nova] says
how pairs are spread and where amphorae boot, plus keystoneauth1's adapter options naming
Nova's endpoint (service_type, service_name, valid_interfaces, endpoint_override), registered
where the nova backend is configured. One session serves Neutron, Nova and Glance: lbaas's
credentials are [service_auth]'s, its TLS settings, timeout and region [neutron]'s
(lbaas.conf.neutron).
"""
from oslo_config import cfg

NOVA = "nova"

compute_nova_opts = [
    cfg.StrOpt("amp_image_tag", default="",
               help="Glance tag of the amphora image: the newest active image carrying it is "
                    "booted (nova compute backend). amp_image_id, when set, wins."),
    cfg.StrOpt("amp_image_id", default="",
               help="Glance id of the amphora image (nova compute backend); empty: look the "
                    "image up by amp_image_tag."),
    cfg.StrOpt("amp_image_owner_id", default="",
               help="Only images owned by this project are considered when looking up "
                    "amp_image_tag (a guard against a look-alike image another project "
                    "shares). Empty: any owner."),
    cfg.StrOpt("amp_flavor_id", default="",
               help="Nova flavor id amphora servers boot with (nova compute backend); a "
                    "load balancer flavor's compute_flavor overrides it."),
    cfg.ListOpt("amp_boot_network_list", default=[],
                help="Network ids of the amphorae's management network: the management port "
                     "is made on the first (an availability zone's management_network "
                     "replaces it); any others are attached as further NICs at boot."),
    cfg.ListOpt("amp_secgroup_list", default=[],
                help="Security group ids given to the amphorae's management ports (they "
                     "must admit the agent port from the controllers)."),
    cfg.StrOpt("amp_ssh_key_name", default="",
               help="Nova key pair put into amphora servers (only for debugging; empty: "
                    "none)."),
    cfg.BoolOpt("user_data_config_drive", default=False,
                help="Have Nova attach a config drive to amphora servers. The boot document "
                     "is user data either way; the image reads it from the config drive, so "
                     "enable this unless the cloud forces config drives already."),
    cfg.IntOpt("amp_active_retries", default=30, min=1,
               help="Times Nova is asked whether a new amphora server is ACTIVE before its "
                    "boot is given up (with amp_active_wait_sec: the boot time allowed)."),
    cfg.IntOpt("amp_active_wait_sec", default=10, min=0,
               help="Seconds between two of those questions."),
]

nova_opts = [
    cfg.BoolOpt("enable_anti_affinity", default=False,
                help="Put the two amphorae of an ACTIVE_STANDBY load balancer into a Nova "
                     "server group with anti_affinity_policy, so they land on different "
                     "hypervisors. The group is deleted with the load balancer; spare "
                     "amphorae are not used for such pairs (they are in no group)."),
    cfg.StrOpt("anti_affinity_policy", default="anti-affinity",
               choices=[("anti-affinity", ("the second amphora never boots on the first "
                                           "one's host (no valid host when there is only "
                                           "one)")),
                        ("soft-anti-affinity", ("another host is preferred, the same one "
                                                "accepted"))],
               help="Policy of those server groups."),
    cfg.StrOpt("availability_zone",
               help="Nova availability zone amphorae boot in when the load balancer's "
                    "availability zone names no compute_zone. Unset: Nova's default."),
]


def _ksa():
    from keystoneauth1 import loading
    return loading


def register_nova_opts(conf):
    """Register [service_auth] and [nova]'s endpoint options on a ConfigOpts (idempotent)."""
    from lbaas.conf.neutron import SERVICE_AUTH
    loading = _ksa()
    loading.register_auth_conf_options(conf, SERVICE_AUTH)
    loading.register_session_conf_options(conf, SERVICE_AUTH)
    loading.register_adapter_conf_options(conf, NOVA, include_deprecated=False)


def list_ksa_opts():
    """[nova]'s endpoint options as oslo-config-generator lists them."""
    return [(NOVA, _ksa().get_adapter_conf_options(include_deprecated=False))]
