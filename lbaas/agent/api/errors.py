"""The agent's error answers: framework errors as {"error", "http_code"}, ours as
{"message", "details"} with the code the spec gives each kind."""
import flask
from pyroute2 import NetlinkError
from werkzeug.exceptions import HTTPException

from lbaas.agent import interfaces
from lbaas.agent.api.common import answer
from lbaas.agent.fence import Fenced
from lbaas.agent.haproxy import HAProxyError


def _framework_error(exc):
    response = flask.jsonify({"error": exc.description, "http_code": exc.code})
    response.status_code = exc.code
    return response


def _bad_request(exc):
    return answer(400, "Invalid request", str(exc))


def _haproxy_failed(exc):
    return answer(500, exc.message, exc.details)


def _no_interface(exc):
    return answer(404, "Interface not found", str(exc))


def _netlink_failed(exc):
    return answer(500, "Error plugging the interface", str(exc))


def _fenced(exc):
    return answer(409, "Fenced", str(exc))


def register(app):
    """Install the agent's error handlers on a Flask app."""
    app.register_error_handler(HTTPException, _framework_error)
    app.register_error_handler(ValueError, _bad_request)   # a bad id, name or body
    app.register_error_handler(HAProxyError, _haproxy_failed)
    app.register_error_handler(interfaces.InterfaceNotFound, _no_interface)
    app.register_error_handler(NetlinkError, _netlink_failed)
    app.register_error_handler(Fenced, _fenced)
