"""A load balancer's PEM files (TLS listeners, client CAs): PUT, GET, list and DELETE."""
import flask

from lbaas.agent.api import common

blp = flask.Blueprint("certificates", __name__)


@blp.put("/loadbalancer/<lb_id>/certificates/<filename>")
def put_certificate(lb_id, filename):
    """Store a PEM file (200 with its MD5 as ETag)."""
    # a bad name or a body that is not PEM: ValueError -> 400
    md5 = common.haproxy().write_certificate(lb_id, filename, flask.request.get_data())
    return common.answer(200, "OK", ETag=md5)


@blp.get("/loadbalancer/<lb_id>/certificates/<filename>")
def get_certificate(lb_id, filename):
    """A stored PEM file's MD5."""
    md5 = common.haproxy().certificate_md5(lb_id, filename)
    if md5 is None:
        return common.answer(404, "Certificate Not Found",
                             f"No certificate with filename: {filename}")
    return {"md5sum": md5}


@blp.get("/loadbalancer/<lb_id>/certificates")
def list_certificates(lb_id):
    """Every stored PEM file of the load balancer with its MD5."""
    return {"certificates": [{"filename": name, "md5sum": md5}
                             for name, md5 in common.haproxy().certificates(lb_id).items()]}


@blp.delete("/loadbalancer/<lb_id>/certificates/<filename>")
def delete_certificate(lb_id, filename):
    """Remove a stored PEM file (a missing one too)."""
    common.haproxy().delete_certificate(lb_id, filename)
    return common.answer(200, "OK")
