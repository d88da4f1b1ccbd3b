"""The `barbican` manager: references are Barbican secret or certificate-container URLs.

Read as Octavia reads them, with the caller's credentials: the Keystone token of the
request (`[certificates] barbican_auth = token`), or none for a Barbican that runs
without authentication (`none`; the caller's project goes in X-Project-Id). Only the
reference's kind and uuid are used: requests always go to the configured (or catalog)
Barbican endpoint, so a reference cannot send the caller's token elsewhere.

A secret's payload is PKCS12 (certificate, key, chain) or PEM; a certificate container
holds the secrets named certificate, private_key, intermediates and
private_key_passphrase (Barbican's documented container type `certificate`).
"""
import re

from keystoneauth1 import exceptions as ks_exc
from keystoneauth1 import noauth, session as ks_session, token_endpoint
from keystoneauth1.identity import v3

from lbaas.core import pem
from lbaas.core.certificates import (CertManager, Certificate, CertificateNotFound,
                                     InvalidCertificate)

_REF = re.compile(r"/v1/(secrets|containers)/([0-9a-fA-F-]{36})/?$")


def parse_ref(ref):
    """(kind, uuid) of a Barbican reference URL; CertificateNotFound when it is not one."""
    match = _REF.search(ref or "")
    if not match or not ref.startswith(("http://", "https://")):
        raise CertificateNotFound(f"{ref} is not a Barbican secret or container reference.")
    return match.group(1), match.group(2)


class BarbicanCertManager(CertManager):
    """Certificates read from Barbican's REST API (v1) with the request's credentials."""

    def _session(self, context):
        opts = self.conf.certificates
        endpoint = opts.barbican_endpoint
        if opts.barbican_auth == "none":
            if not endpoint:
                raise CertificateNotFound("The certificate store of this deployment is not "
                                          "configured.", "[certificates] barbican_auth = none "
                                          "needs [certificates] barbican_endpoint")
            return ks_session.Session(auth=noauth.NoAuth(endpoint=endpoint)), endpoint
        token = getattr(context, "auth_token", None)
        if not token:
            raise CertificateNotFound(
                "Certificate references cannot be read without a Keystone token.",
                "the request context carries no auth_token for the barbican manager")
        if endpoint:
            return ks_session.Session(auth=token_endpoint.Token(endpoint, token)), endpoint
        if not opts.auth_url:
            raise CertificateNotFound("The certificate store of this deployment is not "
                                      "configured.", "set [certificates] barbican_endpoint "
                                      "or auth_url for the barbican manager")
        auth = v3.Token(auth_url=opts.auth_url, token=token,
                        project_id=getattr(context, "project_id", None))
        sess = ks_session.Session(auth=auth)
        return sess, sess.get_endpoint(service_type="key-manager", interface="public")

    def _get(self, context, path, accept="application/json"):
        sess, endpoint = self._session(context)
        headers = {"Accept": accept}
        project = getattr(context, "project_id", None)
        if self.conf.certificates.barbican_auth == "none" and project:
            headers["X-Project-Id"] = project
        url = endpoint.rstrip("/") + path
        try:
            resp = sess.get(url, headers=headers, raise_exc=False,
                            timeout=self.conf.certificates.barbican_timeout)
        except ks_exc.ClientException as exc:
            raise CertificateNotFound("The certificate store could not be reached.",
                                      f"GET {url}: {exc}") from None
        if resp.status_code != 200:
            raise CertificateNotFound(f"Barbican refused {path} ({resp.status_code}).",
                                      f"GET {url}: {resp.status_code} {resp.text[:200]}")
        return resp

    def _payload(self, context, secret_id):
        meta = self._get(context, f"/v1/secrets/{secret_id}").json()
        accept = (meta.get("content_types") or {}).get("default", "application/octet-stream")
        return self._get(context, f"/v1/secrets/{secret_id}/payload", accept=accept).content

    def _container(self, context, container_id):
        body = self._get(context, f"/v1/containers/{container_id}").json()
        refs = {r["name"]: r["secret_ref"] for r in body.get("secret_refs", [])}
        if body.get("type") != "certificate" or "certificate" not in refs:
            raise InvalidCertificate(f"Barbican container {container_id} is not a "
                                     "certificate container.")
        return {name: self._payload(context, parse_ref(ref)[1]) for name, ref in refs.items()}

    def get_cert(self, context, ref):
        """The certificate of a PKCS12/PEM secret or of a certificate container."""
        kind, uuid = parse_ref(ref)
        if kind == "secrets":
            return pem.from_payload(self._payload(context, uuid), None, ref)
        parts = self._container(context, uuid)
        return Certificate(certificate=parts["certificate"],
                           private_key=parts.get("private_key"),
                           intermediates=tuple(pem.blocks(parts.get("intermediates"))),
                           private_key_passphrase=parts.get("private_key_passphrase"))

    def get_secret(self, context, ref):
        """The PEM payload of a secret (CA bundle, CRL); a container gives its certificate."""
        kind, uuid = parse_ref(ref)
        if kind == "secrets":
            return self._payload(context, uuid)
        return self._container(context, uuid)["certificate"]
