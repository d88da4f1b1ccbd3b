"""`lbaas certificate import|list|delete`: the local certificate manager's store, from a shell.

Works on the configured database (--config-file or $LBAAS_CONFIG_FILE; without one, the
embedded `lbaas serve` database in --state-path), validates what it imports exactly as
the API validates references, and prints the reference to use in the API.
"""
import logging
import os
import sys

from sqlalchemy import select

from lbaas import conf as lbaas_conf
from lbaas.certificates import CertificateError, local, pem
from lbaas.cmd import common
from lbaas.db import migrate
from lbaas.db.certificate import StoredCertificate


def add_parser(sub):
    """Register the `certificate` subcommand and its actions on an argparse subparsers."""
    p_cert = sub.add_parser("certificate", help="TLS certificates of the local certificate "
                                                "manager ([certificates] cert_manager = local)")
    p_cert.add_argument("--state-path", help="state directory of an `lbaas serve` run without "
                                             "a configuration file")
    actions = p_cert.add_subparsers(dest="action", required=True)
    p_imp = actions.add_parser("import", help="validate and store a certificate and its key, "
                                              "a PKCS12 bundle, a CA bundle or a CRL")
    what = p_imp.add_mutually_exclusive_group(required=True)
    what.add_argument("--cert", help="PEM certificate (with --key), or a PEM CA bundle alone")
    what.add_argument("--pkcs12", help="PKCS12 bundle (certificate, key, intermediates)")
    what.add_argument("--crl", help="PEM certificate revocation list")
    p_imp.add_argument("--key", help="PEM private key of --cert")
    p_imp.add_argument("--intermediates", help="PEM intermediate certificates of --cert")
    p_imp.add_argument("--passphrase", help="passphrase of an encrypted --key or --pkcs12 "
                                            "(also read from $LBAAS_CERT_PASSPHRASE)")
    p_imp.add_argument("--name", help="a name shown by `lbaas certificate list`")
    p_imp.add_argument("--project-id", help="only this project (and admins) may use it; "
                                            "default: every project")
    p_imp.set_defaults(func=import_)
    p_list = actions.add_parser("list", help="list stored objects and their references")
    p_list.set_defaults(func=list_)
    p_del = actions.add_parser("delete", help="delete a stored object by reference or uuid")
    p_del.add_argument("ref")
    p_del.set_defaults(func=delete)


def _manager(args):
    files = common.config_files(args.config_file)
    conf = common.load_conf(files)
    common.setup_logging(conf)
    if args.state_path:
        conf.set_override("state_path", args.state_path)
    if not files:  # the embedded deployment: the key `lbaas serve` also makes
        local.ensure_key_file(conf)
    logging.getLogger("alembic").setLevel(logging.WARNING)  # migrating is not this command's news
    migrate.upgrade(lbaas_conf.database_url(conf))
    return local.LocalCertManager(conf)


def _read(path):
    with open(path, "rb") as f:
        return f.read()


def _validated(args):
    """(kind, certificate PEM, intermediates, key PEM) of the import arguments, validated."""
    passphrase = args.passphrase or os.environ.get("LBAAS_CERT_PASSPHRASE")
    passphrase = passphrase.encode() if passphrase else None
    if args.crl:
        return "crl", pem.validate_crl(_read(args.crl), args.crl), (), None
    if args.pkcs12:
        cert = pem.validate(pem.from_pkcs12(_read(args.pkcs12), passphrase, args.pkcs12),
                            args.pkcs12)
    elif args.key:
        cert = pem.from_pem_bundle(_read(args.cert), passphrase, args.cert)
        extra = pem.blocks(_read(args.intermediates)) if args.intermediates else []
        cert = pem.validate(cert.__class__(
            certificate=cert.certificate, private_key=_read(args.key),
            intermediates=cert.intermediates + tuple(extra),
            private_key_passphrase=passphrase), args.cert)
    else:
        if args.intermediates:
            raise SystemExit("lbaas certificate import: --intermediates needs --key")
        return "ca_bundle", pem.validate_ca_bundle(_read(args.cert), args.cert), (), None
    return "certificate", cert.certificate, cert.intermediates, cert.private_key


def import_(args):
    """Validate and store one object; prints its reference."""
    try:
        kind, certificate, intermediates, key = _validated(args)
        manager = _manager(args)
        with manager.db.write() as session:
            row = manager.store(session, kind=kind, certificate=certificate,
                                intermediates=intermediates, private_key=key, name=args.name,
                                project_id=args.project_id)
    except CertificateError as exc:
        detail = "" if exc.operator_message == exc.user_message else \
            f" ({exc.operator_message})"
        print(f"lbaas certificate import: {exc.user_message}{detail}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"lbaas certificate import: {exc}", file=sys.stderr)
        return 1
    print(local.ref_of(row.id))
    return 0


def list_(args):
    """Print one line per stored object: reference, kind, name, project, expiry."""
    manager = _manager(args)
    with manager.db.read() as session:
        rows = session.scalars(select(StoredCertificate).order_by(
            StoredCertificate.created_at)).all()
    for row in rows:
        expires = f"{row.expires_at:%Y-%m-%dT%H:%M:%SZ}" if row.expires_at else "-"
        print(f"{local.ref_of(row.id)}  {row.kind:<11} {row.name or '-'}  "
              f"{row.project_id or '-'}  {expires}")
    return 0


def delete(args):
    """Delete one stored object (listeners using it keep a dangling reference)."""
    manager = _manager(args)
    ref = args.ref if args.ref.startswith(local.PREFIX) else local.ref_of(args.ref)
    try:
        cert_id = local.parse_ref(ref)
    except CertificateError as exc:
        print(f"lbaas certificate delete: {exc.user_message}", file=sys.stderr)
        return 1
    with manager.db.write() as session:
        row = session.get(StoredCertificate, cert_id)
        if row is None:
            print(f"lbaas certificate delete: {ref} not found", file=sys.stderr)
            return 1
        session.delete(row)
    return 0
