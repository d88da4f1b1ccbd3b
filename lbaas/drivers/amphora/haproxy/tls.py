"""TLS in haproxy.cfg: certificate file names, bind and server options, the files to push.

Every file a load balancer needs is named after the object and role it serves, so a
changed certificate keeps its name and only its content (and checksum) changes:

  <listener_id>-<n>.pem       crt file (certificate, intermediates, key); n = 0 is the
                              default certificate, then the SNI certificates in order
  <listener_id>-client-ca.pem client CA bundle; <listener_id>-client-crl.pem its CRL
  <pool_id>-client.pem        client certificate the pool presents to its members
  <pool_id>-ca.pem            CA bundle members are verified with; <pool_id>-crl.pem its CRL

The files live in `Settings.cert_dir` on the amphora; `certificate_files` gives their
content, read through a certificate manager (lbaas.certificates).
"""
import posixpath

from octavia_lib.common import constants as c

from lbaas.core import pem

# API version name -> (ssl-min-ver/ssl-max-ver value, the no-* flag that excludes it)
VERSIONS = {"SSLv3": ("SSLv3", "no-sslv3"), "TLSv1": ("TLSv1.0", "no-tlsv10"),
            "TLSv1.1": ("TLSv1.1", "no-tlsv11"), "TLSv1.2": ("TLSv1.2", "no-tlsv12"),
            "TLSv1.3": ("TLSv1.3", "no-tlsv13")}
VERIFY = {c.CLIENT_AUTH_NONE: "none", c.CLIENT_AUTH_OPTIONAL: "optional",
          c.CLIENT_AUTH_MANDATORY: "required"}
# insert_headers name -> the HAProxy sample expression of its value
SSL_HEADERS = {"X-SSL-Client-Verify": "%[ssl_c_verify]",
               "X-SSL-Client-Has-Cert": "%[ssl_c_used]",
               "X-SSL-Client-DN": "%{+Q}[ssl_c_s_dn]",
               "X-SSL-Client-CN": "%{+Q}[ssl_c_s_dn(cn)]",
               "X-SSL-Issuer": "%{+Q}[ssl_c_i_dn]",
               "X-SSL-Client-SHA1": "%{+Q}[ssl_c_sha1,hex]",
               "X-SSL-Client-Not-Before": "%{+Q}[ssl_c_notbefore]",
               "X-SSL-Client-Not-After": "%{+Q}[ssl_c_notafter]"}


def _items(value):
    return list(value or [])


def server_refs(listener):
    """The listener's certificate references, the default one first, without repeats."""
    refs = [listener.default_tls_container_ref or None] + _items(listener.sni_container_refs)
    return list(dict.fromkeys(r for r in refs if r))


def terminates(listener):
    """Whether the listener terminates TLS (TERMINATED_HTTPS, or PROMETHEUS with a cert)."""
    if listener.protocol == c.PROTOCOL_TERMINATED_HTTPS:
        return True
    return listener.protocol == c.PROTOCOL_PROMETHEUS and bool(server_refs(listener))


def crt_names(listener):
    """The crt file names of a listener, the default certificate's first."""
    return [f"{listener.listener_id}-{n}.pem" for n in range(len(server_refs(listener)))]


def listener_files(listener):
    """role -> (file name, reference) of a TLS-terminating listener's files."""
    files = {f"crt{n}": (name, ref)
             for n, (name, ref) in enumerate(zip(crt_names(listener), server_refs(listener)))}
    if listener.client_ca_tls_container_ref:
        files["ca"] = (f"{listener.listener_id}-client-ca.pem",
                       listener.client_ca_tls_container_ref)
        if listener.client_crl_container_ref:
            files["crl"] = (f"{listener.listener_id}-client-crl.pem",
                            listener.client_crl_container_ref)
    return files


def pool_files(pool):
    """role -> (file name, reference) of a TLS-enabled pool's files."""
    files = {}
    if pool.tls_container_ref:
        files["crt"] = (f"{pool.pool_id}-client.pem", pool.tls_container_ref)
    if pool.ca_tls_container_ref:
        files["ca"] = (f"{pool.pool_id}-ca.pem", pool.ca_tls_container_ref)
        if pool.crl_container_ref:
            files["crl"] = (f"{pool.pool_id}-crl.pem", pool.crl_container_ref)
    return files


def _tuning(ciphers, versions, alpn):
    """ciphers/ciphersuites, ssl-min-ver/ssl-max-ver (+ no-* for gaps) and alpn words."""
    words = []
    names = [x for x in (ciphers or "").split(":") if x]
    classic = [x for x in names if not x.startswith("TLS_")]
    suites = [x for x in names if x.startswith("TLS_")]
    if classic:
        words += ["ciphers", ":".join(classic)]
    if suites:
        words += ["ciphersuites", ":".join(suites)]
    wanted = [v for v in VERSIONS if v in _items(versions)]
    if wanted:
        order = list(VERSIONS)
        low, high = order.index(wanted[0]), order.index(wanted[-1])
        if high - low + 1 == len(wanted):
            words += ["ssl-min-ver", VERSIONS[wanted[0]][0],
                      "ssl-max-ver", VERSIONS[wanted[-1]][0]]
        else:  # HAProxy ignores no-* beside ssl-min-ver/ssl-max-ver: a gap needs them alone
            words += [VERSIONS[v][1] for v in order if v not in wanted]
    if _items(alpn):
        words += ["alpn", ",".join(alpn)]
    return words


def bind_options(listener, cert_dir):
    """The words after `bind <address>` of a TLS-terminating listener."""
    files = listener_files(listener)
    words = ["ssl"]
    for name in crt_names(listener):
        words += ["crt", posixpath.join(cert_dir, name)]
    if "ca" in files:
        words += ["ca-file", posixpath.join(cert_dir, files["ca"][0]), "verify",
                  VERIFY.get(listener.client_authentication or c.CLIENT_AUTH_NONE, "none")]
        if "crl" in files:
            words += ["crl-file", posixpath.join(cert_dir, files["crl"][0])]
    return words + _tuning(listener.tls_ciphers, listener.tls_versions,
                           listener.alpn_protocols)


def server_options(pool, listener, cert_dir):
    """The words a TLS-enabled pool adds to each `server` line (re-encryption)."""
    files = pool_files(pool)
    words = ["ssl"]
    if terminates(listener):
        words += ["sni", "ssl_fc_sni"]
    if "crt" in files:
        words += ["crt", posixpath.join(cert_dir, files["crt"][0])]
    if "ca" in files:
        words += ["ca-file", posixpath.join(cert_dir, files["ca"][0]), "verify", "required"]
        if "crl" in files:
            words += ["crl-file", posixpath.join(cert_dir, files["crl"][0])]
    else:
        words += ["verify", "none"]
    return words + _tuning(pool.tls_ciphers, pool.tls_versions, pool.alpn_protocols)


def hsts_value(listener):
    """The Strict-Transport-Security header value, or None without hsts_max_age."""
    max_age = listener.hsts_max_age
    if not isinstance(max_age, int) or isinstance(max_age, bool):
        return None
    parts = [f"max-age={max_age}"]
    if listener.hsts_include_subdomains:
        parts.append("includeSubDomains")
    if listener.hsts_preload:
        parts.append("preload")
    return "; ".join(parts)


def _content(manager, context, role, ref, ca_ref=None):
    if role.startswith("crt"):
        return pem.crt_file(pem.validate(manager.get_cert(context, ref), ref))
    if role == "ca":
        return pem.validate_ca_bundle(manager.get_secret(context, ref), ref)
    ca = manager.get_secret(context, ca_ref) if ca_ref else None
    return pem.validate_crl(manager.get_secret(context, ref), ref, ca, ca_ref)


def certificate_files(loadbalancer, manager, context=None):
    """{file name: PEM bytes} of every TLS file the load balancer's haproxy.cfg names.

    Read through `manager` (a lbaas.core.certificates.CertManager) and validated as the API
    validates them; raises lbaas.core.certificates.CertificateError for a reference that no
    longer loads. Keys are unencrypted (HAProxy reads them without a passphrase), so the
    caller writes the files with mode 0600.
    """
    from lbaas.drivers.amphora.lvs.validate import is_lvs_listener
    result = {}
    pools = {p.pool_id: p for p in _items(loadbalancer.pools)}
    for listener in _items(loadbalancer.listeners):
        if is_lvs_listener(listener) or not terminates(listener):
            continue
        files = listener_files(listener)
        ca_ref = files.get("ca", (None, None))[1]
        for role, (name, ref) in files.items():
            result[name] = _content(manager, context, role, ref, ca_ref)
        if listener.default_pool and listener.default_pool.pool_id not in pools:
            pools[listener.default_pool.pool_id] = listener.default_pool
    for pool in pools.values():
        if not pool.tls_enabled:
            continue
        files = pool_files(pool)
        ca_ref = files.get("ca", (None, None))[1]
        for role, (name, ref) in files.items():
            result[name] = _content(manager, context, role, ref, ca_ref)
    return result
