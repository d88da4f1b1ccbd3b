"""A load balancer's HAProxy: PUT and GET its haproxy.cfg, PUT start, stop or reload."""
import hashlib

import flask

from lbaas.agent.api import common

blp = flask.Blueprint("loadbalancers", __name__)


def not_found(lb_id):
    """The 404 for a load balancer this agent has no configuration of."""
    return common.answer(404, "Loadbalancer Not Found", f"No loadbalancer with UUID: {lb_id}")


@blp.put("/loadbalancer/<amphora_id>/<lb_id>/haproxy")
def upload(amphora_id, lb_id):
    """Validate a haproxy.cfg and install it (202 with the body's MD5 as ETag)."""
    manager = common.haproxy()
    manager.path(lb_id)   # a bad id: ValueError -> 400
    text = common.request_text()
    errors = manager.validate(text, lb_id)
    if errors:
        return common.answer(400, "Invalid request", errors)
    manager.install(lb_id, text)
    return common.answer(202, "OK", ETag=hashlib.md5(flask.request.get_data()).hexdigest())


@blp.get("/loadbalancer/<lb_id>/haproxy")
def get_config(lb_id):
    """The installed haproxy.cfg as text, with its MD5 as ETag."""
    text = common.haproxy().config(lb_id)
    if text is None:
        return not_found(lb_id)
    data = text.encode()
    return flask.Response(data, 200, mimetype="text/plain",
                          headers={"ETag": hashlib.md5(data).hexdigest()})


@blp.put("/loadbalancer/<lb_id>/<action>")
def act(lb_id, action):
    """Start, stop or reload the load balancer's HAProxy."""
    if action not in common.ACTIONS:
        return common.unknown_action(action)
    manager = common.haproxy()
    if manager.config(lb_id) is None:
        return not_found(lb_id)
    heartbeat = common.heartbeat()
    if heartbeat is not None and action in ("reload", "stop"):
        heartbeat.checkpoint(lb_id)   # the outgoing worker's counts ride the next heartbeat
    getattr(manager, action)(lb_id)
    return common.answer(202, "OK", f"haproxy daemon for {lb_id} {common.ACTIONS[action]}")
