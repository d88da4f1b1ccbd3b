"""Keystone-style project lookups, served only under noauth.

`openstack loadbalancer quota set|unset|reset <project>` resolves the project
through Keystone on the same endpoint before it calls the quota API. Under
noauth there is no Keystone and projects are plain strings, so every project
id names itself: with these routes the CLI's quota commands work standalone.
"""
import flask

blp = flask.Blueprint("projects", __name__)


def _project(project_id):
    return {"id": project_id, "name": project_id, "domain_id": "default", "enabled": True}


@blp.get("/projects/<project_id>")
@blp.get("/v3/projects/<project_id>")
def project(project_id):
    """A project named by its own id."""
    return {"project": _project(project_id)}


@blp.get("/projects")
@blp.get("/v3/projects")
def projects():
    """The project a ?name= or ?id= query names (projects exist as soon as they are named)."""
    wanted = flask.request.args.get("id") or flask.request.args.get("name")
    return {"projects": [_project(wanted)] if wanted else []}
