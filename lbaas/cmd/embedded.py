"""The embedded defaults of `lbaas serve` without a configuration file: real amphorae if possible.

`auto` turns on the amphora provider (the default provider), the local network backend
with one subnet `public-subnet` (172.24.4.0/24 on bridge lbaas-public, this host at
172.24.4.1) and the local compute backend, when this host can run amphorae: root (network
namespaces) and HAProxy installed. Otherwise, or with `noop`, the noop provider and network.
"""
import os
import shutil

CHOICES = ("auto", "amphora", "noop")
PUBLIC_SUBNET = "name=public-subnet network=public cidr=172.24.4.0/24 bridge=lbaas-public"


def amphora_unavailable(conf):
    """Why this host cannot run local amphorae, or None when it can."""
    if os.geteuid() != 0:
        return "amphorae are network namespaces, which need root"
    binary = conf.haproxy_amphora.haproxy_cmd
    if not (shutil.which(binary) or shutil.which(binary, path="/usr/sbin:/usr/local/sbin")):
        return f"HAProxy ({binary}) is not installed"
    return None


def apply(conf, choice):
    """Set the embedded provider for `choice` (and one API process per core); returns
    (provider, note about the choice)."""
    conf.set_override("serve_api_processes", 0, group="api_settings")
    if choice == "noop":
        return "noop", "noop provider (asked for)"
    reason = amphora_unavailable(conf)
    if reason:
        if choice == "amphora":
            raise SystemExit(f"lbaas serve: the amphora provider cannot run here: {reason}")
        return "noop", f"noop provider, because {reason}"
    binary = conf.haproxy_amphora.haproxy_cmd
    if not shutil.which(binary):
        conf.set_override("haproxy_cmd", shutil.which(binary, path="/usr/sbin:/usr/local/sbin"),
                          group="haproxy_amphora")
    conf.set_override("enabled_provider_drivers", {
        "amphora": "HAProxy in network namespaces on this host (the reference driver).",
        "noop": "The no-op driver: accepts everything and reports ACTIVE."},
        group="api_settings")
    conf.set_override("default_provider_driver", "amphora", group="api_settings")
    conf.set_override("driver", "local", group="network")
    conf.set_override("subnet", [PUBLIC_SUBNET], group="network_local")
    conf.set_override("driver", "local", group="amphora_compute")
    conf.set_override("spare_amphora_pool_size", 1, group="house_keeping")
    return "amphora", "amphora provider: VIPs on public-subnet 172.24.4.0/24 (bridge " \
                      "lbaas-public, this host is 172.24.4.1)"
