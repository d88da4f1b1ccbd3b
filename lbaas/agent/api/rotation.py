"""The agent's own server certificate: PUT /1.0/certificate replaces it while serving."""
import flask

from lbaas.agent.api import common

blp = flask.Blueprint("rotation", __name__)


@blp.put("/certificate")
def certificate():
    """Check a certificate and key PEM, then serve it to new connections."""
    holder = flask.current_app.extensions.get("certificate")
    if holder is None:
        return common.answer(404, "Certificate rotation is not available",
                             "this agent serves no replaceable certificate")
    holder.replace(flask.request.get_data())   # ValueError -> 400
    return common.answer(202, "OK", "server certificate replaced")
