"""Flavors, availability zones and their profiles: the options a load balancer is created with.

A profile holds one provider's metadata (a JSON object, kept as the string the
caller sent) that the provider's driver has accepted. A flavor (known by id) or an
availability zone (known by name) puts a profile under a name users may choose when
they create a load balancer.

What is in use stays: a profile used by a flavor or zone, a flavor or zone used by a
load balancer that is not DELETED. The foreign keys decide (no count is trusted), so
a delete racing a create cannot leave a dangling reference: whichever commits second
gets the 409 (or, for a load balancer create, the 400 of a missing flavor or zone).
Deleted load balancers keep no reference: a delete first clears theirs.
"""
import dataclasses
import json

from sqlalchemy import select, update

from lbaas.core import constants as c
from lbaas.core import drivers, errors, listing, models
from lbaas.core.services import common, vip as vips

NIL_UUID = "00000000-0000-0000-0000-000000000000"
TOPOLOGIES = ("SINGLE", "ACTIVE_STANDBY")
VNIC_DIRECT = "direct"
NO_ZONES = "This provider does not support availability zones."


@dataclasses.dataclass(frozen=True)
class Kind:
    """One profile/option pair: flavor profiles and flavors, or zone profiles and zones."""

    profile: type          # the profile model
    option: type           # the model users choose by key (Flavor, AvailabilityZone)
    data: str              # the profile's metadata attribute
    profile_id: str        # the option's reference to its profile
    key: str               # the option's identifying attribute
    record: str            # the option's noun in "A <record> of <name> already exists."
    validate: str          # the driver method that checks the metadata
    lb_column: str         # the load balancer column that references the option
    option_fields: tuple   # the option's attributes, for filters and sorting
    option_rbac: str       # the option's policy resource (flavor, availability-zone)
    profile_rbac: str      # the profile's policy resource

    @property
    def profile_fields(self):
        """The profile's attributes, for filters and sorting."""
        return ("id", "name", "provider_name", self.data)


FLAVORS = Kind(
    profile=models.FlavorProfile, option=models.Flavor, data="flavor_data",
    profile_id="flavor_profile_id", key="id", record="flavor", validate="validate_flavor",
    lb_column="flavor_id",
    option_fields=("id", "name", "description", "enabled", "flavor_profile_id"),
    option_rbac="flavor", profile_rbac="flavor-profile")

AVAILABILITY_ZONES = Kind(
    profile=models.AvailabilityZoneProfile, option=models.AvailabilityZone,
    data="availability_zone_data", profile_id="availability_zone_profile_id", key="name",
    record="availability zone", validate="validate_availability_zone",
    lb_column="availability_zone",
    option_fields=("name", "description", "enabled", "availability_zone_profile_id"),
    option_rbac="availability-zone", profile_rbac="availability-zone-profile")


def parse_data(kind, raw):
    """The metadata a profile's JSON string holds; 400 unless it is a JSON object."""
    try:
        data = json.loads(raw)
    except (TypeError, ValueError, RecursionError):
        data = None
    if not isinstance(data, dict):
        raise errors.InvalidOption(value=raw, option=kind.data)
    return data


def _check_with_driver(core, kind, provider, data):
    """Have the provider's driver accept the metadata (400 provider disabled, 501 refused)."""
    drivers.call(core.drivers.get(provider), kind.validate, data)


def _in_use(model, object_id):
    return errors.ObjectInUse(object=common.HUMAN_NAMES[model], id=object_id)


class ProfileService:
    """Flavor profiles or availability-zone profiles (admin only)."""

    def __init__(self, core, kind):
        self.core = core
        self.kind = kind

    def get(self, ctx, profile_id):
        """One profile (404 if absent)."""
        self.core.policy.authorize_own(ctx, self.kind.profile_rbac, "get_one")
        with self.core.db.read() as session:
            return common.get_or_404(session, self.kind.profile, profile_id)

    def list(self, ctx, options):
        """A page of profiles matching the list options."""
        self.core.policy.authorize_own(ctx, self.kind.profile_rbac, "get_all")
        model = self.kind.profile
        with self.core.db.read() as session:
            return listing.fetch_page(session, select(model), model, options,
                                      common.columns(model, self.kind.profile_fields))

    def create(self, ctx, body):
        """Create a profile whose metadata its provider's driver accepts."""
        kind = self.kind
        self.core.policy.authorize_own(ctx, kind.profile_rbac, "post")
        raw = body[kind.data]
        _check_with_driver(self.core, kind, body["provider_name"], parse_data(kind, raw))
        with self.core.db.write() as session:
            row = kind.profile(id=models.new_id(), name=body["name"],
                               provider_name=body["provider_name"], **{kind.data: raw})
            session.add(row)
            session.flush()
        return row

    def update(self, ctx, profile_id, body):
        """Rename a profile, or change its provider or metadata while nothing uses it."""
        kind = self.kind
        self.core.policy.authorize_own(ctx, kind.profile_rbac, "put")
        for field in ("name", "provider_name", kind.data):
            if field in body and body[field] is None:
                raise errors.InvalidOption(value=None, option=field)
        with self.core.db.write() as session:
            # Locked: a flavor or zone created meanwhile waits, then sees the new values.
            row = session.get(kind.profile, profile_id, with_for_update=True) \
                if profile_id else None
            if row is None:
                raise errors.NotFound(resource=common.HUMAN_NAMES[kind.profile], id=profile_id)
            if kind.data in body or "provider_name" in body:
                user = session.scalar(select(kind.option).where(
                    getattr(kind.option, kind.profile_id) == profile_id).limit(1))
                if user is not None:
                    raise _in_use(kind.profile, profile_id)
                data = parse_data(kind, body.get(kind.data, getattr(row, kind.data)))
                _check_with_driver(self.core, kind, body.get("provider_name", row.provider_name),
                                   data)
            for field in ("name", "provider_name", kind.data):
                if field in body:
                    setattr(row, field, body[field])
            session.flush()
        return row

    def delete(self, ctx, profile_id):
        """Delete a profile no flavor or zone uses (409 otherwise)."""
        kind = self.kind
        self.core.policy.authorize_own(ctx, kind.profile_rbac, "delete")
        with self.core.db.write() as session:
            row = common.get_or_404(session, kind.profile, profile_id, lock=True)
            session.delete(row)
            common.flush_or_conflict(session, _in_use(kind.profile, profile_id))


class OptionService:
    """Flavors (by id) or availability zones (by name): read by all, written by admins."""

    def __init__(self, core, kind):
        self.core = core
        self.kind = kind

    def get(self, ctx, key):
        """One flavor or zone (404 if absent)."""
        self.core.policy.authorize_own(ctx, self.kind.option_rbac, "get_one")
        with self.core.db.read() as session:
            return common.get_or_404(session, self.kind.option, key)

    def list(self, ctx, options):
        """A page of flavors or zones matching the list options."""
        kind = self.kind
        self.core.policy.authorize_own(ctx, kind.option_rbac, "get_all")
        with self.core.db.read() as session:
            return listing.fetch_page(session, select(kind.option), kind.option,
                                      options,
                                      common.columns(kind.option, kind.option_fields),
                                      key=kind.key)

    def create(self, ctx, body):
        """Create a flavor or zone on an existing profile; its name must be new (409)."""
        kind = self.kind
        self.core.policy.authorize_own(ctx, kind.option_rbac, "post")
        name, profile_id = body["name"], body[kind.profile_id]
        taken = errors.RecordAlreadyExists(field=kind.record, name=name)
        if kind.key == "name" and name == NIL_UUID:
            raise taken  # upstream keeps a placeholder zone of that name
        with self.core.db.write() as session:
            # Shared lock: the profile can neither go nor change until this commits.
            profile = session.get(kind.profile, profile_id,
                                  with_for_update={"read": True}) if profile_id else None
            if profile is None:
                raise errors.NotFound(resource=common.HUMAN_NAMES[kind.profile], id=profile_id)
            values = {"name": name, "description": body.get("description"),
                      "enabled": bool(body.get("enabled", True)), kind.profile_id: profile_id}
            if kind.key == "id":
                values["id"] = models.new_id()
            row = kind.option(**values)
            session.add(row)
            common.flush_or_conflict(session, taken)
        return row

    def update(self, ctx, key, body):
        """Change a flavor's name, or a flavor's or zone's description and enabled flag."""
        kind = self.kind
        self.core.policy.authorize_own(ctx, kind.option_rbac, "put")
        if "name" in body and body["name"] is None:
            raise errors.InvalidOption(value=None, option="name")
        with self.core.db.write() as session:
            row = common.get_or_404(session, kind.option, key, lock=True)
            for field in ("name", "description", "enabled"):
                if field in body:
                    value = body[field]
                    setattr(row, field, bool(value) if field == "enabled" else value)
            common.flush_or_conflict(
                session, errors.RecordAlreadyExists(field=kind.record, name=body.get("name")))
        return row

    def delete(self, ctx, key):
        """Delete a flavor or zone no live load balancer uses (409 otherwise)."""
        kind = self.kind
        self.core.policy.authorize_own(ctx, kind.option_rbac, "delete")
        with self.core.db.write() as session:
            row = common.get_or_404(session, kind.option, key, lock=True)
            column = getattr(models.LoadBalancer, kind.lb_column)
            session.execute(
                update(models.LoadBalancer)
                .where(column == key, models.LoadBalancer.provisioning_status == c.DELETED)
                .values({kind.lb_column: None})
                .execution_options(synchronize_session=False))
            session.delete(row)
            common.flush_or_conflict(session, _in_use(kind.option, key))


@dataclasses.dataclass
class LoadBalancerOptions:
    """What a new load balancer takes from its flavor, its availability zone and its provider."""

    provider: str
    driver: object
    flavor_id: str | None = None
    availability_zone: str | None = None
    flavor: dict = dataclasses.field(default_factory=dict)
    zone: dict = dataclasses.field(default_factory=dict)
    topology: str | None = None
    vnic_type: str = c.VNIC_NORMAL


def _chosen(session, kind, key):
    """The option row and its profile's (provider, metadata), share-locked; None if absent."""
    option = session.execute(
        select(kind.option).where(getattr(kind.option, kind.key) == key)
        .with_for_update(read=True)).scalar()
    if option is None:
        return None, None, None
    profile = session.get(kind.profile, getattr(option, kind.profile_id))
    return option, profile.provider_name, parse_data(kind, getattr(profile, kind.data))


def choose(core, session, body):
    """The flavor, zone and provider of a load balancer create body (400/501 when unusable).

    The flavor and zone rows stay share-locked until the create commits, so neither can
    be deleted or disabled under it.
    """
    chosen = {}
    flavor_id = body.get("flavor_id")
    flavor_provider = None
    if flavor_id:
        flavor, flavor_provider, chosen["flavor"] = _chosen(session, FLAVORS, flavor_id)
        if flavor is None:
            raise errors.ValidationException(detail="Invalid flavor_id.")
        if not flavor.enabled:
            raise errors.DisabledOption(option="flavor", value=flavor_id)
    zone_name = body.get("availability_zone")
    if zone_name:
        zone, _, chosen["zone"] = _chosen(session, AVAILABILITY_ZONES, zone_name)
        if zone is None:
            raise errors.ValidationException(detail="Invalid availability zone.")
        if not zone.enabled:
            raise errors.DisabledOption(option="availability_zone", value=zone_name)
    requested = body.get("provider")
    if requested and flavor_provider and requested != flavor_provider:
        raise errors.ProviderFlavorMismatchError(flav=flavor_id, prov=requested)
    provider = requested or flavor_provider or core.drivers.default
    return LoadBalancerOptions(provider=provider, driver=core.drivers.get(provider),
                               flavor_id=flavor_id or None,
                               availability_zone=zone_name or None, **chosen)


def _networks(value):
    """An availability zone's valid_vip_networks as a list of ids (None when it names none)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [str(v) for v in value]
    return None


def apply(conf, options, vip):
    """Have the driver re-check the metadata, then derive topology, VIP network and vnic type.

    Run after the quota check, as Octavia orders it. Fills options.topology and
    options.vnic_type.
    """
    if options.flavor:
        drivers.call(options.driver, "validate_flavor", options.flavor)
    if options.zone:
        try:
            drivers.call(options.driver, "validate_availability_zone", options.zone)
        except errors.ProviderNotImplementedError as exc:
            raise errors.ProviderNotImplementedError(
                exc.operator_message, prov=options.driver.name, user_msg=NO_ZONES) from exc
    topology = options.flavor.get("loadbalancer_topology")
    options.topology = topology if topology in TOPOLOGIES else \
        conf.controller_worker.loadbalancer_topology
    vips.check_network(conf, vip.network_id, _networks(options.zone.get("valid_vip_networks")))
    if options.flavor.get("sriov_vip") is True:
        if vip.sg_ids:
            raise errors.ValidationException(
                detail="VIP Security Groups are not allowed with VNIC direct type")
        options.vnic_type = VNIC_DIRECT
