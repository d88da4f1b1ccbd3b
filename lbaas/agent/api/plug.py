"""The amphora's network interfaces: plug a VIP or a member network, find an address's."""
import flask

from lbaas.agent import interfaces
from lbaas.agent.api import common

blp = flask.Blueprint("plug", __name__)


def _json_body():
    body = flask.request.get_json(silent=True)
    if not isinstance(body, dict):
        raise interfaces.BadPlugRequest("the body is not a JSON object")
    return body


def _mac_wait():
    return flask.current_app.config["AGENT_PLUG_MAC_WAIT"]


@blp.post("/plug/vip/<vip>")
def plug_vip(vip):
    """Put the VIP on the interface with the body's MAC address."""
    name = interfaces.plug_vip(vip, _json_body(), _mac_wait())
    return common.answer(202, "OK", f"VIP {vip} plugged on interface {name}")


@blp.post("/plug/network")
def plug_network():
    """Bring up the interface with the body's MAC address on its member network."""
    name = interfaces.plug_network(_json_body(), _mac_wait())
    return common.answer(202, "OK", f"Plugged on interface {name}")


@blp.get("/interface/<ip>")
def interface(ip):
    """The name of the interface holding an IP address."""
    name = interfaces.interface_of(ip)
    if name is None:
        return common.answer(404, "Error interface not found for IP address", ip)
    return {"message": "OK", "interface": name}
