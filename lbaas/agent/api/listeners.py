"""The load balancers this agent runs: GET /1.0/listeners lists them, DELETE removes one."""
import flask

from lbaas.agent.api import common

blp = flask.Blueprint("listeners", __name__)


@blp.get("/listeners")
def listeners():
    """Each load balancer's id, HAProxy status and mode, and whether HAProxy runs the
    installed config (`applied`: false after an upload that no reload followed)."""
    manager = common.haproxy()
    return flask.jsonify([{"status": manager.status(lb), "uuid": lb, "type": manager.mode(lb),
                           "applied": manager.applied(lb)}
                          for lb in manager.lb_ids()])


@blp.delete("/listeners/<lb_id>")
def delete(lb_id):
    """Stop a load balancer's HAProxy and remove its files."""
    common.haproxy().remove(lb_id)
    return common.answer(200, "OK")
