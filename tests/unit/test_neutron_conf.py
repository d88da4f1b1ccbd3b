"""[service_auth] and [neutron]: registered with the neutron backend, Octavia's older names read."""
from lbaas import conf as lbaas_conf
from lbaas.conf import neutron


def _conf(tmp_path, text):
    path = tmp_path / "lbaas.conf"
    path.write_text(text)
    return lbaas_conf.make_conf(config_files=[str(path)])


def test_sections_exist_only_with_the_neutron_backend(tmp_path):
    assert not hasattr(_conf(tmp_path, "[network]\ndriver = noop\n"), "service_auth")
    conf = _conf(tmp_path, "[network]\ndriver = neutron\n[service_auth]\nauth_type = password\n")
    assert conf.service_auth.auth_type == "password"
    assert conf.neutron.region_name is None


def test_defaults_find_the_public_network_endpoint_in_the_catalog(tmp_path):
    conf = _conf(tmp_path, "[network]\ndriver = neutron\n")
    got = neutron.endpoint_settings(conf)
    assert got["interface"] == ["public"] and got["service_type"] == "network"
    assert got["endpoint_override"] is None and got["insecure"] is False


def test_octavias_older_names_fill_in_for_the_new_ones(tmp_path):
    conf = _conf(tmp_path, "[network]\ndriver = neutron\n[neutron]\nendpoint = http://n:9696\n"
                           "endpoint_type = internalURL\nca_certificates_file = /ca.pem\n")
    got = neutron.endpoint_settings(conf)
    assert got["endpoint_override"] == "http://n:9696"
    assert got["interface"] == ["internal"]
    assert got["cafile"] == "/ca.pem"


def test_new_names_win_over_the_older_ones(tmp_path):
    conf = _conf(tmp_path, "[network]\ndriver = neutron\n[neutron]\nendpoint = http://old\n"
                           "endpoint_override = http://new\nendpoint_type = internalURL\n"
                           "valid_interfaces = admin\nregion_name = R2\n")
    got = neutron.endpoint_settings(conf)
    assert (got["endpoint_override"], got["interface"], got["region_name"]) == \
        ("http://new", ["admin"], "R2")
