"""Quotas: each project's stored limits, the effective limits, the defaults; PUT and reset.

A stored record holds None where the project uses the configured default; every answer,
lists included, shows the effective limits. List filters and sort keys apply to the stored
values. Enforcement is lbaas.core.services.quota_usage; this module only reads and writes
the limits.
"""
from sqlalchemy import select

from lbaas.core import constants as c
from lbaas.core import errors, listing, models
from lbaas.core.services import quota_usage

# Deprecated spellings accepted on PUT (and rendered beside the canonical ones).
ALIASES = {"load_balancer": "loadbalancer", "health_monitor": "healthmonitor"}

RBAC = "quota"

# Filter and sort keys of the quota list: the record's columns, under both spellings.
LIST_FIELDS = {"project_id": models.Quota.project_id,
               **{r: getattr(models.Quota, r) for r in c.QUOTA_RESOURCES},
               **{alias: getattr(models.Quota, r) for alias, r in ALIASES.items()}}


def limits_of(project_id, limits):
    """A quota as the API answers it: the project and one value per resource."""
    return {"project_id": project_id, **{r: limits[r] for r in c.QUOTA_RESOURCES}}


def changes(body):
    """The limits a PUT body sets, by canonical name; a canonical key beats its alias."""
    result = {}
    for key, value in body.items():
        resource = ALIASES.get(key, key)
        if key == resource or resource not in body:
            result[resource] = value
    return result


class QuotaService:
    """Every rule of the quota resource."""

    def __init__(self, core):
        self.core = core

    def list(self, ctx, options):
        """A page of the projects with a quota record, each with its effective limits (the
        default where it has no value of its own), as upstream lists them."""
        options = self.core.policy.scope_list(ctx, RBAC, options)
        with self.core.db.read() as session:
            page = listing.fetch_page(session, select(models.Quota), models.Quota, options,
                                      LIST_FIELDS, key="project_id")
        page.rows = [limits_of(r.project_id, quota_usage.effective(self.core.conf, r))
                     for r in page.rows]
        return page

    def get(self, ctx, project_id):
        """A project's effective limits (the defaults where it has no value of its own)."""
        self.core.policy.authorize(ctx, RBAC, "get_one", project_id)
        with self.core.db.read() as session:
            record = session.get(models.Quota, project_id)
            return limits_of(project_id, quota_usage.effective(self.core.conf, record))

    def defaults(self, ctx, project_id):
        """The configured default limits, shown for a project (or for "defaults")."""
        self.core.policy.authorize(ctx, RBAC, "get_defaults", project_id)
        return limits_of(project_id, quota_usage.defaults(self.core.conf))

    def update(self, ctx, project_id, body):
        """Set some of a project's limits (None: back to the default); returns the effective."""
        if len(project_id) > c.MAX_PROJECT_ID:
            raise errors.InvalidInput(
                attr="project_id", value=project_id,
                reason=f"Value should have a maximum character requirement of "
                       f"{c.MAX_PROJECT_ID}")
        self.core.policy.authorize(ctx, RBAC, "put", project_id)
        with self.core.db.write() as session:
            record = quota_usage.lock_record(session, project_id)
            for resource, value in changes(body).items():
                setattr(record, resource, value)
            return limits_of(project_id, quota_usage.effective(self.core.conf, record))

    def delete(self, ctx, project_id):
        """Reset every limit of a project to the default (404 if it never had a record)."""
        self.core.policy.authorize(ctx, RBAC, "delete", project_id)
        with self.core.db.write() as session:
            record = session.scalars(select(models.Quota).where(
                models.Quota.project_id == project_id).with_for_update()).one_or_none()
            if record is None:
                raise errors.NotFound(resource="Quotas", id=project_id)
            for resource in c.QUOTA_RESOURCES:
                setattr(record, resource, None)
