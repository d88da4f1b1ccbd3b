"""The options of the `neutron` network backend: [service_auth] and [neutron], Octavia's names.

[service_auth] holds lbaas's own Keystone credentials (keystoneauth1's auth plugin and
session options, as Octavia's section does). [neutron] says where Neutron is: keystoneauth1's
adapter options (region_name, service_name, valid_interfaces, endpoint_override, ...) and
session options (cafile, insecure, timeout, ...) plus Octavia's older names, still read
(endpoint, endpoint_type, ca_certificates_file).

Registered only where the neutron backend is configured (keystoneauth1.loading costs an
import); `list_ksa_opts` gives them to oslo-config-generator.
"""
from oslo_config import cfg

SERVICE_AUTH = "service_auth"
NEUTRON = "neutron"

neutron_opts = [
    cfg.StrOpt("endpoint", deprecated_for_removal=True,
               deprecated_reason="endpoint_override (keystoneauth1's name) replaces it.",
               help="Neutron's URL, instead of the one in the Keystone catalog."),
    cfg.StrOpt("endpoint_type", deprecated_for_removal=True,
               deprecated_reason="valid_interfaces (keystoneauth1's name) replaces it.",
               help="Catalog interface of Neutron's endpoint (publicURL, internalURL, "
                    "adminURL)."),
    cfg.StrOpt("ca_certificates_file", deprecated_for_removal=True,
               deprecated_reason="cafile (keystoneauth1's name) replaces it.",
               help="CA bundle verifying Neutron's HTTPS certificate."),
]


def _ksa():
    from keystoneauth1 import loading
    return loading


def register_neutron_opts(conf):
    """Register [service_auth] and [neutron] on a ConfigOpts (idempotent)."""
    loading = _ksa()
    loading.register_auth_conf_options(conf, SERVICE_AUTH)
    loading.register_session_conf_options(conf, SERVICE_AUTH)
    loading.register_session_conf_options(conf, NEUTRON)
    loading.register_adapter_conf_options(conf, NEUTRON, include_deprecated=False)
    conf.register_opts(neutron_opts, group=NEUTRON)


def list_ksa_opts():
    """[service_auth] and [neutron] as oslo-config-generator lists them (password auth shown)."""
    loading = _ksa()
    auth = (loading.get_auth_common_conf_options()
            + loading.get_auth_plugin_conf_options("password"))
    session = loading.get_session_conf_options()
    adapter = loading.get_adapter_conf_options(include_deprecated=False)
    return [(SERVICE_AUTH, auth + session), (NEUTRON, neutron_opts + adapter + session)]


def _set_in_file(conf, name):
    loc = conf.get_location(name, NEUTRON)
    return loc is not None and loc.location != cfg.Locations.opt_default


def endpoint_settings(conf):
    """Where Neutron is: {region_name, interface, service_type, service_name, endpoint_override,
    cafile, insecure}, the older option names filling in for newer ones left unset."""
    opts = conf.neutron
    interfaces = list(opts.valid_interfaces or [])
    if not _set_in_file(conf, "valid_interfaces") and opts.endpoint_type:
        interfaces = [opts.endpoint_type.replace("URL", "")]
    return {"region_name": opts.region_name,
            "interface": interfaces or ["public"],
            "service_type": opts.service_type or "network",
            "service_name": opts.service_name,
            "endpoint_override": opts.endpoint_override or opts.endpoint,
            "cafile": opts.cafile or opts.ca_certificates_file
            or conf.service_auth.cafile,
            "insecure": opts.insecure}
