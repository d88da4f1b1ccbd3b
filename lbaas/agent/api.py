"""The amphora agent's REST API 1.0 for HAProxy (spec amphora.md §3), as a Flask app factory."""
import hashlib
import os
import resource
import socket

import flask
from pyroute2 import NetlinkError
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from lbaas.agent import interfaces
from lbaas.agent.haproxy import HAProxyError, HAProxyManager
from lbaas.agent.vrrp import KeepalivedManager

API_VERSION = "1.0"
ACTIONS = ("start", "stop", "reload")
# Largest request body (a haproxy.cfg, keepalived.conf, PEM file or JSON): larger is a 413.
# A load balancer with 10,000 health-checked members renders 1 MB of haproxy.cfg.
MAX_REQUEST_BYTES = 4 * 1024 * 1024


def _message(code, message, details=None, **headers):
    """A handler's JSON answer {"message", "details"?} with its status code."""
    body = {"message": message}
    if details is not None:
        body["details"] = details
    response = flask.jsonify(body)
    response.status_code = code
    response.headers.update(headers)
    return response


def _not_found(lb_id):
    return _message(404, "Loadbalancer Not Found", f"No loadbalancer with UUID: {lb_id}")


def create_app(base_dir, haproxy_bin="haproxy", keepalived_bin="keepalived",
               max_request_bytes=MAX_REQUEST_BYTES):
    """The agent's Flask application managing HAProxy instances (and keepalived) under base_dir."""
    app = flask.Flask(__name__)
    # werkzeug answers 413 for a Content-Length past the limit, but cuts a chunked body
    # at the limit without a word: one byte more is read, and a body that has it is 413.
    app.config["MAX_CONTENT_LENGTH"] = max_request_bytes + 1
    manager = HAProxyManager(base_dir, haproxy_bin)
    vrrp = KeepalivedManager(base_dir, keepalived_bin)
    app.extensions["haproxy"], app.extensions["vrrp"] = manager, vrrp

    @app.errorhandler(HTTPException)
    def framework_error(exc):
        response = flask.jsonify({"error": exc.description, "http_code": exc.code})
        response.status_code = exc.code
        return response

    @app.before_request
    def bounded_body():
        if len(flask.request.get_data()) > max_request_bytes:   # read once, kept for the view
            raise RequestEntityTooLarge(f"the request body is larger than {max_request_bytes} "
                                        "bytes")

    @app.errorhandler(ValueError)
    def bad_id(exc):
        return _message(400, "Invalid request", str(exc))

    @app.errorhandler(HAProxyError)
    def haproxy_failed(exc):
        return _message(500, exc.message, exc.details)

    @app.errorhandler(interfaces.InterfaceNotFound)
    def no_interface(exc):
        return _message(404, "Interface not found", str(exc))

    @app.errorhandler(NetlinkError)
    def netlink_failed(exc):
        return _message(500, "Error plugging the interface", str(exc))

    @app.get("/")
    def version():
        return {"api_version": API_VERSION}

    @app.get(f"/{API_VERSION}/info")
    def info():
        return {"hostname": socket.gethostname(), "haproxy_version": manager.version(),
                "api_version": API_VERSION,
                "max_open_files": resource.getrlimit(resource.RLIMIT_NOFILE)[0],
                **vrrp.scripts()}

    @app.put(f"/{API_VERSION}/loadbalancer/<amphora_id>/<lb_id>/haproxy")
    def upload(amphora_id, lb_id):
        manager.path(lb_id)
        raw = flask.request.get_data()
        try:
            text = raw.decode()
        except UnicodeDecodeError:
            return _message(400, "Invalid request", "the configuration is not UTF-8")
        errors = manager.validate(text, lb_id)
        if errors:
            return _message(400, "Invalid request", errors)
        manager.install(lb_id, text)
        return _message(202, "OK", ETag=hashlib.md5(raw).hexdigest())

    @app.get(f"/{API_VERSION}/loadbalancer/<lb_id>/haproxy")
    def get_config(lb_id):
        text = manager.config(lb_id)
        if text is None:
            return _not_found(lb_id)
        data = text.encode()
        return flask.Response(data, 200, mimetype="text/plain",
                              headers={"ETag": hashlib.md5(data).hexdigest()})

    @app.put(f"/{API_VERSION}/loadbalancer/<lb_id>/<action>")
    def act(lb_id, action):
        if action not in ACTIONS:
            return _message(400, "Invalid Request", f"Unknown action: {action}")
        if manager.config(lb_id) is None:
            return _not_found(lb_id)
        heartbeat = app.extensions.get("heartbeat")
        if heartbeat is not None and action in ("reload", "stop"):
            heartbeat.checkpoint(lb_id)   # the outgoing worker's counts ride the next heartbeat
        getattr(manager, action)(lb_id)
        done = {"start": "started", "stop": "stopped", "reload": "reloaded"}[action]
        return _message(202, "OK", f"haproxy daemon for {lb_id} {done}")

    @app.put(f"/{API_VERSION}/loadbalancer/<lb_id>/certificates/<filename>")
    def put_certificate(lb_id, filename):
        # a bad name or a body that is not PEM: ValueError -> 400
        md5 = manager.write_certificate(lb_id, filename, flask.request.get_data())
        return _message(200, "OK", ETag=md5)

    @app.get(f"/{API_VERSION}/loadbalancer/<lb_id>/certificates/<filename>")
    def get_certificate(lb_id, filename):
        md5 = manager.certificate_md5(lb_id, filename)
        if md5 is None:
            return _message(404, "Certificate Not Found",
                            f"No certificate with filename: {filename}")
        return {"md5sum": md5}

    @app.get(f"/{API_VERSION}/loadbalancer/<lb_id>/certificates")
    def list_certificates(lb_id):
        return {"certificates": [{"filename": name, "md5sum": md5}
                                 for name, md5 in manager.certificates(lb_id).items()]}

    @app.delete(f"/{API_VERSION}/loadbalancer/<lb_id>/certificates/<filename>")
    def delete_certificate(lb_id, filename):
        manager.delete_certificate(lb_id, filename)
        return _message(200, "OK")

    @app.delete(f"/{API_VERSION}/listeners/<lb_id>")
    def delete(lb_id):
        manager.remove(lb_id)
        return _message(200, "OK")

    @app.get(f"/{API_VERSION}/listeners")
    def listeners():
        return flask.jsonify([{"status": manager.status(lb), "uuid": lb, "type": manager.mode(lb)}
                              for lb in manager.lb_ids()])

    def _json_body():
        body = flask.request.get_json(silent=True)
        if not isinstance(body, dict):
            raise interfaces.BadPlugRequest("the body is not a JSON object")
        return body

    @app.post(f"/{API_VERSION}/plug/vip/<vip>")
    def plug_vip(vip):
        name = interfaces.plug_vip(vip, _json_body())
        return _message(202, "OK", f"VIP {vip} plugged on interface {name}")

    @app.post(f"/{API_VERSION}/plug/network")
    def plug_network():
        name = interfaces.plug_network(_json_body())
        return _message(202, "OK", f"Plugged on interface {name}")

    @app.put(f"/{API_VERSION}/vrrp/upload")
    def vrrp_upload():
        try:
            text = flask.request.get_data().decode()
        except UnicodeDecodeError:
            return _message(400, "Invalid request", "the configuration is not UTF-8")
        errors = vrrp.validate(text)
        if errors:
            return _message(400, "Invalid request", errors)
        vrrp.install(text)
        return _message(200, "OK")

    @app.get(f"/{API_VERSION}/vrrp/config")
    def vrrp_config():
        text = vrrp.config()
        if text is None:
            return _message(404, "Not Found", "no keepalived configuration")
        return flask.Response(text.encode(), 200, mimetype="text/plain")

    @app.put(f"/{API_VERSION}/vrrp/<action>")
    def vrrp_act(action):
        if action not in ACTIONS:
            return _message(400, "Invalid Request", f"Unknown action: {action}")
        if vrrp.config() is None:
            return _message(404, "Not Found", "no keepalived configuration")
        getattr(vrrp, action)()
        done = {"start": "started", "stop": "stopped", "reload": "reloaded"}[action]
        return _message(202, "OK", f"keepalived {done}")

    @app.get(f"/{API_VERSION}/interface/<ip>")
    def interface(ip):
        name = interfaces.interface_of(ip)
        if name is None:
            return _message(404, "Error interface not found for IP address", ip)
        return {"message": "OK", "interface": name}

    @app.put(f"/{API_VERSION}/certificate")
    def certificate():
        holder = app.extensions.get("certificate")
        if holder is None:
            return _message(404, "Certificate rotation is not available",
                            "this agent serves no replaceable certificate")
        holder.replace(flask.request.get_data())   # ValueError -> 400
        return _message(202, "OK", "server certificate replaced")

    @app.get(f"/{API_VERSION}/details")
    def details():
        lb_ids = manager.lb_ids()
        heartbeat = app.extensions.get("heartbeat")
        return {"hostname": socket.gethostname(), "haproxy_version": manager.version(),
                "api_version": API_VERSION, "cpu_count": os.cpu_count(),
                "load": list(os.getloadavg()),
                "topology": "SINGLE" if vrrp.status() is None else "ACTIVE_STANDBY",
                "active": vrrp.status() is None or vrrp.holds_vip(),
                "vrrp_status": vrrp.status(), "vrrp_state": vrrp.state(),
                "listeners": lb_ids,
                "haproxy_count": sum(1 for lb in lb_ids if manager.pid(lb) is not None),
                "heartbeat": heartbeat.snapshot() if heartbeat else None}

    return app
