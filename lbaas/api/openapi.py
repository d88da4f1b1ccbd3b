"""The OpenAPI document's error bodies: what lbaas.api.errors really sends.

Every 4xx and 5xx carries Octavia's fault body, except the 406 of an Accept header that
admits no JSON, which carries the API-WG error list as upstream's does.
"""
import flask_smorest
from apispec import BasePlugin
from marshmallow import Schema, fields, validate

NOT_ACCEPTABLE = "NotAcceptable"


class Fault(Schema):
    """Octavia's error body."""

    faultcode = fields.String(required=True, validate=validate.OneOf(["Client", "Server"]),
                              metadata={"description": "Client for a 4xx, Server for a 5xx"})
    faultstring = fields.String(required=True, metadata={"description": "What went wrong"})
    debuginfo = fields.String(required=True, allow_none=True,
                              metadata={"description": "Always null"})


class ApiWgError(Schema):
    """One error of the API-WG list."""

    status = fields.Integer(required=True)
    title = fields.String(required=True)
    detail = fields.String(required=True)
    request_id = fields.String(required=True)


class ApiWgErrors(Schema):
    """The API-WG error list of a 406."""

    errors = fields.List(fields.Nested(ApiWgError), required=True)


class _NotAcceptableResponses(BasePlugin):
    """Adds the 406 and its body to every operation."""

    def init_spec(self, spec):
        """Register the 406 response once."""
        spec.components.response(NOT_ACCEPTABLE, {
            "description": "The Accept header admits no JSON",
            "content": {"application/json": {"schema": ApiWgErrors}}})

    def operation_helper(self, path=None, operations=None, **kwargs):
        """Reference the 406 response from each operation of a path."""
        for operation in (operations or {}).values():
            operation.setdefault("responses", {})["406"] = NOT_ACCEPTABLE


class Api(flask_smorest.Api):
    """flask-smorest's Api, documenting the error bodies the API sends."""

    ERROR_SCHEMA = Fault

    def __init__(self, app):
        super().__init__(app, spec_kwargs={"extra_plugins": [_NotAcceptableResponses()]})
