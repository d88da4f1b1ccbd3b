"""Render one amphora's keepalived.conf: unicast VRRP with its peer, the VIP, a HAProxy check.

Both nodes start as BACKUP with `nopreempt`: after a failover the node holding the VIP
keeps it, so a replacement amphora never takes the VIP back and cuts traffic a second time.
With `nopreempt` the first node elected keeps the VIP whatever its priority, so the worker
starts a new pair's MASTER first and its BACKUP once the MASTER holds the VIP. VRRPv3 lets
adverts be sent in fractions of a second (`[keepalived_vrrp] vrrp_advert_int`).
"""
import dataclasses
import ipaddress
import pathlib

import jinja2

from lbaas.drivers.amphora import config_text

TEMPLATES = pathlib.Path(__file__).parent / "templates"
ACTIVE_STANDBY = "ACTIVE_STANDBY"   # the topology whose amphorae render keepalived VRRP
PRIORITIES = {"MASTER": 100, "BACKUP": 90}
VRID = 1   # peers talk unicast, so every load balancer may use the same router id


@dataclasses.dataclass(frozen=True)
class Vrrp:
    """What one amphora's VRRP instance needs."""

    loadbalancer_id: str
    amphora_id: str
    role: str                  # MASTER or BACKUP
    interface: str             # the VIP subnet's interface inside the amphora
    own_ip: str                # this amphora's vrrp_ip
    peers: tuple               # the other amphorae's vrrp_ip
    vips: tuple                # "address/prefixlen" of every VIP
    check_script: str          # absolute path of the agent's HAProxy check
    notify_script: str         # absolute path of the agent's state recorder
    advert_int: float = 1.0
    check_interval: int = 1
    fall: int = 2
    rise: int = 2
    garp_refresh: int = 5
    garp_refresh_count: int = 2
    vrid: int = VRID

    @property
    def priority(self):
        """The role's VRRP priority."""
        return PRIORITIES[self.role]

    @property
    def instance(self):
        """The vrrp_instance name."""
        return "lb_" + self.loadbalancer_id.replace("-", "")

    @property
    def router_id(self):
        """keepalived's router_id (its default, the host name, is shared by local amphorae)."""
        return "amp_" + self.amphora_id.replace("-", "")[:24]


def vip_cidr(address, subnet_cidr):
    """A VIP as keepalived's virtual_ipaddress wants it: "address/prefixlen"."""
    return f"{ipaddress.ip_address(address)}/{ipaddress.ip_network(subnet_cidr).prefixlen}"


def settings_from_conf(conf):
    """The [keepalived_vrrp] values of a Vrrp, as keyword arguments."""
    kv = conf.keepalived_vrrp
    return {"advert_int": kv.vrrp_advert_int, "check_interval": kv.vrrp_check_interval,
            "fall": kv.vrrp_fail_count, "rise": kv.vrrp_success_count,
            "garp_refresh": kv.vrrp_garp_refresh_interval,
            "garp_refresh_count": kv.vrrp_garp_refresh_count}


_ENV = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), trim_blocks=True,
                          lstrip_blocks=True, keep_trailing_newline=True,
                          undefined=jinja2.StrictUndefined, autoescape=False)


def render(vrrp):
    """The keepalived.conf text of one amphora (UnsafeConfigValue if a value would break a
    line)."""
    if vrrp.role not in PRIORITIES:
        raise ValueError(f"an ACTIVE_STANDBY amphora is MASTER or BACKUP, not {vrrp.role!r}")
    values = dataclasses.replace(vrrp, advert_int=f"{vrrp.advert_int:g}")
    config_text.check(values, "keepalived.conf (VRRP)")
    return _ENV.get_template("keepalived.conf.j2").render(v=values)
