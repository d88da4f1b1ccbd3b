"""The keepalived VRRP configuration of ACTIVE_STANDBY amphorae, checked by `keepalived -t`."""
import os
import socket

import pytest

from lbaas.drivers.amphora.lvs.check import check, keepalived_binary
from lbaas.drivers.amphora.vrrp.render import Vrrp, render, vip_cidr

LB = "0b6f5c2e-9a53-4d8e-a1f2-3c4d5e6f7a8b"


def _interface():
    """A non-loopback interface of this host (keepalived -t checks that it exists)."""
    return next((name for _, name in socket.if_nameindex() if name != "lo"), "lo")


def _vrrp(tmp_path, **changes):
    script, notify = tmp_path / "check-haproxy.sh", tmp_path / "notify.sh"
    for path in (script, notify):
        path.write_text("#!/bin/sh\nexit 0\n")
        os.chmod(path, 0o700)
    values = dict(loadbalancer_id=LB, amphora_id="5e0c1d2a-aaaa-bbbb-cccc-0123456789ab",
                  role="MASTER", interface=_interface(), own_ip="10.0.0.5", peers=("10.0.0.6",),
                  vips=(vip_cidr("10.0.0.100", "10.0.0.0/24"),), check_script=str(script), notify_script=str(notify),
                  advert_int=0.2)
    values.update(changes)
    return Vrrp(**values)


def _lines(text):
    return [line.strip() for line in text.splitlines()]


def test_master_and_backup_differ_only_in_priority_addresses_and_names(tmp_path):
    master = render(_vrrp(tmp_path))
    backup = render(_vrrp(tmp_path, role="BACKUP", own_ip="10.0.0.6", peers=("10.0.0.5",),
                          amphora_id="6f1d2e3b-aaaa-bbbb-cccc-0123456789ab"))
    assert "priority 100" in _lines(master) and "priority 90" in _lines(backup)
    for text in (master, backup):   # both start BACKUP: nopreempt works only so
        lines = _lines(text)
        assert "state BACKUP" in lines and "nopreempt" in lines and "vrrp_version 3" in lines
        assert "advert_int 0.2" in lines
        assert f"10.0.0.100/24 dev {_interface()}" in lines
    assert "unicast_src_ip 10.0.0.5" in _lines(master) and "10.0.0.6" in _lines(master)
    assert "unicast_src_ip 10.0.0.6" in _lines(backup) and "10.0.0.5" in _lines(backup)


def test_a_role_other_than_master_or_backup_is_refused(tmp_path):
    with pytest.raises(ValueError, match="STANDALONE"):
        render(_vrrp(tmp_path, role="STANDALONE"))


@pytest.mark.skipif(keepalived_binary() is None, reason="keepalived is not installed")
@pytest.mark.parametrize("role", ["MASTER", "BACKUP"])
def test_keepalived_accepts_the_rendered_config(tmp_path, role):
    assert check(render(_vrrp(tmp_path, role=role))) is None


@pytest.mark.skipif(keepalived_binary() is None, reason="keepalived is not installed")
def test_keepalived_check_catches_a_broken_render(tmp_path):
    broken = render(_vrrp(tmp_path)).replace("virtual_router_id 1", "virtual_router_id 300")
    assert check(broken)


@pytest.mark.parametrize("field, bad", [
    ("interface", "eth0\n}\nvrrp_script evil {"), ("own_ip", "10.0.0.5\r"),
    ("peers", ("10.0.0.6\n", )), ("vips", ("10.0.0.100/24\x00",)),
    ("check_script", "/bin/check\nscript_user root"), ("notify_script", "/n\u2028")],
    ids=["interface", "own_ip", "peers", "vips", "check_script", "notify_script"])
def test_a_line_break_in_any_value_is_refused_at_render(tmp_path, field, bad):
    from lbaas.drivers.amphora.config_text import UnsafeConfigValue
    with pytest.raises(UnsafeConfigValue) as err:
        render(_vrrp(tmp_path, **{field: bad}))
    assert f"keepalived.conf (VRRP): refusing to render {field}" in \
        err.value.operator_fault_string
