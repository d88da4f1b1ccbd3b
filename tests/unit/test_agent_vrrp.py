"""The agent's keepalived manager: what it installs, and what its supervisor may start."""
from lbaas.agent.vrrp import KeepalivedManager, vip_addresses

CONFIG = """vrrp_instance lb_1 {
    interface eth1
    virtual_ipaddress {
        10.0.0.100/24 dev eth1
        2001:db8::10/64 dev eth1
    }
}
"""


def test_the_vips_of_a_config_are_read_with_their_prefixes():
    assert vip_addresses(CONFIG) == [("10.0.0.100", 24), ("2001:db8::10", 64)]
    assert vip_addresses(None) == []


def test_an_installed_keepalived_is_not_started_by_the_supervisor_before_the_controller(
        tmp_path):
    manager = KeepalivedManager(tmp_path, keepalived_bin="/nonexistent/keepalived")
    assert manager.status() is None and manager.state() is None
    manager.install(CONFIG)
    assert manager.config() == CONFIG and manager.status() == "STOPPED"
    assert manager.revive() is False      # would start it: the MASTER must go first
    scripts = manager.scripts()
    for path in scripts.values():
        assert (tmp_path / "vrrp").as_posix() in path
        with open(path) as f:
            assert f.read().startswith("#!/bin/sh")
