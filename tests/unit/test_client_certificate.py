"""The controller's own client certificate for the agents is renewed before it expires."""
import datetime

from cryptography import x509

from lbaas.drivers.amphora.compute.noop import NoopCompute
from lbaas.drivers.amphora.fleet import Fleet


def _cert(path):
    with open(path, "rb") as f:
        return x509.load_pem_x509_certificate(f.read())


def _expiry(path):
    return _cert(path).not_valid_after_utc.replace(tzinfo=None)


def test_the_client_certificate_is_renewed_in_place_only_near_its_expiry(app, tmp_path):
    core = app.extensions["lbaas_core"]
    core.conf.set_override("ca_dir", str(tmp_path / "ca"), group="certificates")
    try:
        fleet = Fleet(core.context, NoopCompute(), controller="127.0.0.1:5555")
        path = fleet.agents._session.cert
        first, serial = _expiry(path), _cert(path).serial_number
        assert fleet.client_cert_expires == first
        assert fleet.refresh_client_certificate() is False        # 30 days left
        assert _cert(path).serial_number == serial
        margin = core.conf.house_keeping.cert_rotate_before
        near = first - datetime.timedelta(seconds=margin - 60)
        assert fleet.refresh_client_certificate(now=near) is True
        assert fleet.agents._session.cert == path                  # same file, new content
        assert _cert(path).serial_number != serial                 # a new certificate
        assert fleet.client_cert_expires == _expiry(path)
    finally:
        core.conf.clear_override("ca_dir", group="certificates")
