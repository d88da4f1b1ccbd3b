"""What the agent's blueprints share: the API version, the answer's shape, the app's parts."""
import flask

API_VERSION = "1.0"
PREFIX = f"/{API_VERSION}"
# The actions a PUT may ask of HAProxy or keepalived, each with the word its answer uses.
ACTIONS = {"start": "started", "stop": "stopped", "reload": "reloaded"}


def answer(code, message, details=None, **headers):
    """A view's JSON answer {"message", "details"?} with its status code (and headers)."""
    body = {"message": message}
    if details is not None:
        body["details"] = details
    response = flask.jsonify(body)
    response.status_code = code
    response.headers.update(headers)
    return response


def unknown_action(action):
    """The 400 for an action that is none of ACTIONS."""
    return answer(400, "Invalid Request", f"Unknown action: {action}")


def request_text():
    """The request body as text; a body that is not UTF-8 is a ValueError (a 400)."""
    try:
        return flask.request.get_data().decode()
    except UnicodeDecodeError:
        raise ValueError("the configuration is not UTF-8") from None


def haproxy():
    """The app's HAProxyManager."""
    return flask.current_app.extensions["haproxy"]


def keepalived():
    """The app's KeepalivedManager."""
    return flask.current_app.extensions["vrrp"]


def heartbeat():
    """The app's HeartbeatSender, or None when this agent sends no heartbeats."""
    return flask.current_app.extensions.get("heartbeat")
