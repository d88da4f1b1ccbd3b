"""The amphora's keepalived (ACTIVE_STANDBY): PUT and GET its config, start, stop or reload."""
import flask

from lbaas.agent.api import common

blp = flask.Blueprint("vrrp", __name__)


def _not_found():
    return common.answer(404, "Not Found", "no keepalived configuration")


@blp.put("/vrrp/upload")
def upload():
    """Validate a keepalived.conf and install it."""
    vrrp = common.keepalived()
    text = common.request_text()
    errors = vrrp.validate(text)
    if errors:
        return common.answer(400, "Invalid request", errors)
    vrrp.install(text)
    return common.answer(200, "OK")


@blp.get("/vrrp/config")
def config():
    """The installed keepalived.conf as text."""
    text = common.keepalived().config()
    if text is None:
        return _not_found()
    return flask.Response(text.encode(), 200, mimetype="text/plain")


@blp.put("/vrrp/<action>")
def act(action):
    """Start, stop or reload keepalived."""
    if action not in common.ACTIONS:
        return common.unknown_action(action)
    vrrp = common.keepalived()
    if vrrp.config() is None:
        return _not_found()
    getattr(vrrp, action)()
    return common.answer(202, "OK", f"keepalived {common.ACTIONS[action]}")
