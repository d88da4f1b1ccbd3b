"""The Blueprint every resource uses: flask-smorest's, reading bodies the API already parsed."""
import flask
import flask_smorest
from webargs.flaskparser import FlaskParser, is_json_request


class _ParsedOnce(FlaskParser):
    """webargs' Flask parser, reusing the body errors.check_request parsed before the view."""

    def _raw_load_json(self, req):
        if is_json_request(req) and "json_body" in flask.g:
            return flask.g.json_body
        return super()._raw_load_json(req)


class Blueprint(flask_smorest.Blueprint):
    """A resource blueprint whose request bodies are parsed from JSON only once."""

    ARGUMENTS_PARSER = _ParsedOnce()


