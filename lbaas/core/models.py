"""The database model: one typed class per Octavia object, columns named as the API names them."""
import datetime
import functools
import uuid

from sqlalchemy import (JSON, Boolean, DateTime, Float, ForeignKey, Index, Integer, String,
                        UniqueConstraint, BigInteger, exists, select, union)
from sqlalchemy.dialects import mysql
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def new_id():
    """A fresh object id."""
    return str(uuid.uuid4())


def utcnow():
    """Now, as the naive UTC second the API renders."""
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None, microsecond=0)


class Base(DeclarativeBase):
    pass


class Tag(Base):
    """One tag of one object; resource_id is the id of any taggable object."""

    __tablename__ = "tag"
    resource_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tag: Mapped[str] = mapped_column(String(255), primary_key=True)


class Provisioned:
    """Columns and helpers every provisioned object shares (an L7 rule has no name)."""

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    project_id: Mapped[str | None] = mapped_column(String(36), index=True)
    admin_state_up: Mapped[bool] = mapped_column(Boolean, default=True)
    provisioning_status: Mapped[str] = mapped_column(String(16))
    operating_status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime.datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime.datetime | None] = mapped_column(DateTime, onupdate=utcnow)

    @property
    def tag_list(self):
        """The object's tags, sorted."""
        return sorted(t.tag for t in self.tags)

    def set_tags(self, tags):
        """Replace the object's tags."""
        self.tags = [Tag(resource_id=self.id, tag=t) for t in dict.fromkeys(tags)]


class Tagged(Provisioned):
    """A provisioned object with a name."""

    name: Mapped[str | None] = mapped_column(String(255))


def _tags(cls_name):
    return relationship(
        Tag, primaryjoin=f"foreign(Tag.resource_id) == {cls_name}.id",
        cascade="all, delete-orphan", lazy="selectin", overlaps="tags")


class LoadBalancer(Tagged, Base):
    __tablename__ = "load_balancer"
    # A page of the list (sorted by created_at, then id; per project for most callers) is
    # read off an index, not sorted out of every row: its cost is the page's, not the table's.
    __table_args__ = (Index("ix_load_balancer_created_at_id", "created_at", "id"),
                      Index("ix_load_balancer_project_created_at_id", "project_id",
                            "created_at", "id"))
    description: Mapped[str | None] = mapped_column(String(255))
    provider: Mapped[str | None] = mapped_column(String(64))
    flavor_id: Mapped[str | None] = mapped_column(
        ForeignKey("flavor.id", name="fk_load_balancer_flavor"), index=True)
    availability_zone: Mapped[str | None] = mapped_column(
        ForeignKey("availability_zone.name", name="fk_load_balancer_availability_zone"),
        index=True)
    topology: Mapped[str | None] = mapped_column(String(36))
    vip_address: Mapped[str | None] = mapped_column(String(64))
    vip_port_id: Mapped[str | None] = mapped_column(String(36))
    vip_subnet_id: Mapped[str | None] = mapped_column(String(36))
    vip_network_id: Mapped[str | None] = mapped_column(String(36))
    vip_qos_policy_id: Mapped[str | None] = mapped_column(String(36))
    vip_sg_ids: Mapped[list] = mapped_column(JSON, default=list)
    vip_vnic_type: Mapped[str] = mapped_column(String(64), default="normal")
    vip_octavia_owned: Mapped[bool] = mapped_column(Boolean, default=False)

    tags = _tags("LoadBalancer")
    additional_vips: Mapped[list["AdditionalVip"]] = relationship(
        back_populates="load_balancer", cascade="all, delete-orphan", lazy="selectin")
    listeners: Mapped[list["Listener"]] = relationship(
        back_populates="load_balancer", cascade="all, delete-orphan")
    pools: Mapped[list["Pool"]] = relationship(
        back_populates="load_balancer", cascade="all, delete-orphan")


class AdditionalVip(Base):
    __tablename__ = "additional_vip"
    load_balancer_id: Mapped[str] = mapped_column(
        ForeignKey("load_balancer.id", ondelete="CASCADE"), primary_key=True)
    subnet_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    network_id: Mapped[str | None] = mapped_column(String(36))
    ip_address: Mapped[str | None] = mapped_column(String(64))
    port_id: Mapped[str | None] = mapped_column(String(36))
    load_balancer: Mapped[LoadBalancer] = relationship(back_populates="additional_vips")


class Listener(Tagged, Base):
    __tablename__ = "listener"
    __table_args__ = (UniqueConstraint("loadbalancer_id", "l4_protocol", "protocol_port",
                                       name="uq_listener_l4_port"),)
    loadbalancer_id: Mapped[str] = mapped_column(
        ForeignKey("load_balancer.id", ondelete="CASCADE"), index=True)
    description: Mapped[str | None] = mapped_column(String(255))
    protocol: Mapped[str] = mapped_column(String(16))
    l4_protocol: Mapped[str] = mapped_column(String(8))
    protocol_port: Mapped[int] = mapped_column(Integer)
    connection_limit: Mapped[int] = mapped_column(Integer, default=-1)
    default_pool_id: Mapped[str | None] = mapped_column(
        ForeignKey("pool.id", ondelete="SET NULL", use_alter=True, name="fk_listener_default_pool"),
        index=True)
    insert_headers: Mapped[dict] = mapped_column(JSON, default=dict)
    timeout_client_data: Mapped[int | None] = mapped_column(Integer)
    timeout_member_connect: Mapped[int | None] = mapped_column(Integer)
    timeout_member_data: Mapped[int | None] = mapped_column(Integer)
    timeout_tcp_inspect: Mapped[int | None] = mapped_column(Integer)
    default_tls_container_ref: Mapped[str | None] = mapped_column(String(255))
    sni_container_refs: Mapped[list] = mapped_column(JSON, default=list)
    client_ca_tls_container_ref: Mapped[str | None] = mapped_column(String(255))
    client_authentication: Mapped[str] = mapped_column(String(10), default="NONE")
    client_crl_container_ref: Mapped[str | None] = mapped_column(String(255))
    allowed_cidrs: Mapped[list] = mapped_column(JSON, default=list)
    tls_ciphers: Mapped[str | None] = mapped_column(String(2048))
    tls_versions: Mapped[list | None] = mapped_column(JSON)
    alpn_protocols: Mapped[list | None] = mapped_column(JSON)
    hsts_max_age: Mapped[int | None] = mapped_column(Integer)
    hsts_include_subdomains: Mapped[bool] = mapped_column(Boolean, default=False)
    hsts_preload: Mapped[bool] = mapped_column(Boolean, default=False)

    tags = _tags("Listener")
    load_balancer: Mapped[LoadBalancer] = relationship(back_populates="listeners")
    default_pool: Mapped["Pool | None"] = relationship(foreign_keys=[default_pool_id])
    l7policies: Mapped[list["L7Policy"]] = relationship(
        back_populates="listener", cascade="all, delete-orphan",
        order_by="L7Policy.position")


class Pool(Tagged, Base):
    __tablename__ = "pool"
    loadbalancer_id: Mapped[str] = mapped_column(
        ForeignKey("load_balancer.id", ondelete="CASCADE"), index=True)
    description: Mapped[str | None] = mapped_column(String(255))
    protocol: Mapped[str] = mapped_column(String(16))
    lb_algorithm: Mapped[str] = mapped_column(String(32))
    session_persistence: Mapped[dict | None] = mapped_column(JSON)
    tls_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    tls_container_ref: Mapped[str | None] = mapped_column(String(255))
    ca_tls_container_ref: Mapped[str | None] = mapped_column(String(255))
    crl_container_ref: Mapped[str | None] = mapped_column(String(255))
    tls_ciphers: Mapped[str | None] = mapped_column(String(2048))
    tls_versions: Mapped[list | None] = mapped_column(JSON)
    alpn_protocols: Mapped[list | None] = mapped_column(JSON)

    tags = _tags("Pool")
    load_balancer: Mapped[LoadBalancer] = relationship(back_populates="pools")
    members: Mapped[list["Member"]] = relationship(
        back_populates="pool", cascade="all, delete-orphan", order_by="Member.created_at")
    healthmonitor: Mapped["HealthMonitor | None"] = relationship(
        back_populates="pool", cascade="all, delete-orphan", uselist=False)
    # The listeners sending traffic to the pool (see pool_listener_links).
    listeners: Mapped[list[Listener]] = relationship(
        secondary=lambda: pool_listener_links(),
        primaryjoin=lambda: Pool.id == pool_listener_links().c.pool_id,
        secondaryjoin=lambda: Listener.id == pool_listener_links().c.listener_id,
        order_by=lambda: (Listener.created_at, Listener.id), viewonly=True)


class Member(Tagged, Base):
    __tablename__ = "member"
    __table_args__ = (UniqueConstraint("pool_id", "address", "protocol_port",
                                       name="uq_member_address_port"),)
    pool_id: Mapped[str] = mapped_column(ForeignKey("pool.id", ondelete="CASCADE"), index=True)
    address: Mapped[str] = mapped_column(String(64))
    protocol_port: Mapped[int] = mapped_column(Integer)
    weight: Mapped[int] = mapped_column(Integer, default=1)
    backup: Mapped[bool] = mapped_column(Boolean, default=False)
    subnet_id: Mapped[str | None] = mapped_column(String(36))
    monitor_address: Mapped[str | None] = mapped_column(String(64))
    monitor_port: Mapped[int | None] = mapped_column(Integer)
    vnic_type: Mapped[str] = mapped_column(String(64), default="normal")

    tags = _tags("Member")
    pool: Mapped[Pool] = relationship(back_populates="members")


class HealthMonitor(Tagged, Base):
    __tablename__ = "health_monitor"
    pool_id: Mapped[str] = mapped_column(
        ForeignKey("pool.id", ondelete="CASCADE"), unique=True)
    type: Mapped[str] = mapped_column(String(36))
    delay: Mapped[int] = mapped_column(Integer)
    timeout: Mapped[int] = mapped_column(Integer)
    max_retries: Mapped[int] = mapped_column(Integer)
    max_retries_down: Mapped[int] = mapped_column(Integer, default=3)
    http_method: Mapped[str | None] = mapped_column(String(16))
    url_path: Mapped[str | None] = mapped_column(String(2048))
    expected_codes: Mapped[str | None] = mapped_column(String(64))
    http_version: Mapped[float | None] = mapped_column(Float)
    domain_name: Mapped[str | None] = mapped_column(String(255))

    tags = _tags("HealthMonitor")
    pool: Mapped[Pool] = relationship(back_populates="healthmonitor")


class ListenerStatistics(Base):
    """Absolute counters of one listener as seen by one reporter (an amphora, or the driver)."""

    __tablename__ = "listener_statistics"
    listener_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    amphora_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    bytes_in: Mapped[int] = mapped_column(BigInteger, default=0)
    bytes_out: Mapped[int] = mapped_column(BigInteger, default=0)
    active_connections: Mapped[int] = mapped_column(Integer, default=0)
    total_connections: Mapped[int] = mapped_column(BigInteger, default=0)
    request_errors: Mapped[int] = mapped_column(BigInteger, default=0)


class L7Policy(Tagged, Base):
    __tablename__ = "l7policy"
    listener_id: Mapped[str] = mapped_column(
        ForeignKey("listener.id", ondelete="CASCADE"), index=True)
    description: Mapped[str | None] = mapped_column(String(255))
    action: Mapped[str] = mapped_column(String(36))
    redirect_pool_id: Mapped[str | None] = mapped_column(
        ForeignKey("pool.id", ondelete="SET NULL"), index=True)
    redirect_url: Mapped[str | None] = mapped_column(String(255))
    redirect_prefix: Mapped[str | None] = mapped_column(String(255))
    redirect_http_code: Mapped[int | None] = mapped_column(Integer)
    position: Mapped[int] = mapped_column(Integer)

    tags = _tags("L7Policy")
    listener: Mapped[Listener] = relationship(back_populates="l7policies")
    redirect_pool: Mapped[Pool | None] = relationship(foreign_keys=[redirect_pool_id])
    rules: Mapped[list["L7Rule"]] = relationship(
        back_populates="l7policy", cascade="all, delete-orphan", order_by="L7Rule.created_at")


class L7Rule(Provisioned, Base):
    __tablename__ = "l7rule"
    l7policy_id: Mapped[str] = mapped_column(
        ForeignKey("l7policy.id", ondelete="CASCADE"), index=True)
    type: Mapped[str] = mapped_column(String(36))
    compare_type: Mapped[str] = mapped_column(String(36))
    key: Mapped[str | None] = mapped_column(String(255))
    value: Mapped[str] = mapped_column(String(255))
    invert: Mapped[bool] = mapped_column(Boolean, default=False)

    tags = _tags("L7Rule")
    l7policy: Mapped[L7Policy] = relationship(back_populates="rules")


@functools.cache
def pool_listener_links():
    """(listener_id, pool_id) of every listener sending traffic to a pool.

    A listener uses its default pool, and the redirect pools of its enabled L7 policies
    that have at least one rule (a policy without rules matches nothing).
    """
    listener, policy, rule = Listener.__table__, L7Policy.__table__, L7Rule.__table__
    by_default = select(listener.c.id.label("listener_id"),
                        listener.c.default_pool_id.label("pool_id")) \
        .where(listener.c.default_pool_id.is_not(None))
    by_policy = select(policy.c.listener_id, policy.c.redirect_pool_id).where(
        policy.c.redirect_pool_id.is_not(None), policy.c.admin_state_up,
        exists().where(rule.c.l7policy_id == policy.c.id))
    return union(by_default, by_policy).subquery("pool_listener")


class Quota(Base):
    """A project's limits; None means the configured default. Usage is counted, not stored."""

    __tablename__ = "quota"
    project_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    loadbalancer: Mapped[int | None] = mapped_column(Integer)
    listener: Mapped[int | None] = mapped_column(Integer)
    pool: Mapped[int | None] = mapped_column(Integer)
    healthmonitor: Mapped[int | None] = mapped_column(Integer)
    member: Mapped[int | None] = mapped_column(Integer)
    l7policy: Mapped[int | None] = mapped_column(Integer)
    l7rule: Mapped[int | None] = mapped_column(Integer)


class FlavorProfile(Base):
    __tablename__ = "flavor_profile"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(255))
    provider_name: Mapped[str] = mapped_column(String(255))
    flavor_data: Mapped[str] = mapped_column(String(4096))


class Flavor(Base):
    __tablename__ = "flavor"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    description: Mapped[str | None] = mapped_column(String(255))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    flavor_profile_id: Mapped[str] = mapped_column(ForeignKey("flavor_profile.id"), index=True)

    flavor_profile: Mapped[FlavorProfile] = relationship()


class AvailabilityZoneProfile(Base):
    __tablename__ = "availability_zone_profile"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(255))
    provider_name: Mapped[str] = mapped_column(String(255))
    availability_zone_data: Mapped[str] = mapped_column(String(4096))


class AvailabilityZone(Base):
    __tablename__ = "availability_zone"
    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    description: Mapped[str | None] = mapped_column(String(255))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    availability_zone_profile_id: Mapped[str] = mapped_column(
        ForeignKey("availability_zone_profile.id"), index=True)

    availability_zone_profile: Mapped[AvailabilityZoneProfile] = relationship()


class Amphora(Base):
    """One HAProxy instance serving a load balancer (filled by the amphora driver)."""

    __tablename__ = "amphora"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    loadbalancer_id: Mapped[str | None] = mapped_column(
        ForeignKey("load_balancer.id", ondelete="SET NULL"), index=True)
    compute_id: Mapped[str | None] = mapped_column(String(36))
    status: Mapped[str] = mapped_column(String(36), index=True)
    lb_network_ip: Mapped[str | None] = mapped_column(String(64))
    vrrp_ip: Mapped[str | None] = mapped_column(String(64))
    ha_ip: Mapped[str | None] = mapped_column(String(64))
    vrrp_port_id: Mapped[str | None] = mapped_column(String(36))
    ha_port_id: Mapped[str | None] = mapped_column(String(36))
    role: Mapped[str | None] = mapped_column(String(36))
    cert_expiration: Mapped[datetime.datetime | None] = mapped_column(DateTime)
    cert_busy: Mapped[bool] = mapped_column(Boolean, default=False)
    vrrp_interface: Mapped[str | None] = mapped_column(String(16))
    vrrp_id: Mapped[int | None] = mapped_column(Integer)
    vrrp_priority: Mapped[int | None] = mapped_column(Integer)
    cached_zone: Mapped[str | None] = mapped_column(String(255))
    image_id: Mapped[str | None] = mapped_column(String(36))
    compute_flavor: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime.datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime.datetime | None] = mapped_column(DateTime, onupdate=utcnow)

    load_balancer: Mapped[LoadBalancer | None] = relationship()


class AmphoraHealth(Base):
    """When an amphora's last valid heartbeat arrived (written by the health manager)."""

    __tablename__ = "amphora_health"
    amphora_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    # microseconds on MySQL too (its DATETIME holds whole seconds): liveness is judged in
    # fractions of heartbeat_timeout
    last_update: Mapped[datetime.datetime] = mapped_column(
        DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql"), index=True)
    seq: Mapped[int] = mapped_column(BigInteger, default=0)
    busy: Mapped[bool] = mapped_column(Boolean, default=False)


class AmphoraLease(Base):
    """Which amphora worker may reconcile a load balancer, until when (the amphora driver's
    lease: one holder at a time, taken over once it expires; `generation` grows with every
    claim and is the fencing token)."""

    __tablename__ = "amphora_lease"
    loadbalancer_id: Mapped[str] = mapped_column(
        ForeignKey("load_balancer.id", ondelete="CASCADE"), primary_key=True)
    holder: Mapped[str | None] = mapped_column(String(64), index=True)
    generation: Mapped[int] = mapped_column(BigInteger, default=0)
    expires_at: Mapped[datetime.datetime | None] = mapped_column(
        DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql"))
    again: Mapped[bool] = mapped_column(Boolean, default=False)


class AmphoraWorker(Base):
    """A live amphora worker process (its registry row, refreshed while it runs): the
    periodic sweep is spread over the workers seen lately."""

    __tablename__ = "amphora_worker"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    host: Mapped[str] = mapped_column(String(255))
    last_seen: Mapped[datetime.datetime] = mapped_column(
        DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql"), index=True)


class LoadBalancerEvent(Base):
    """A load balancer operation whose completion is still to be announced (lbaas.core.events).

    Written with the create, update or delete it names; taken, once, by the status report
    that ends it, which sends the event notification after its transaction commits.
    """

    __tablename__ = "load_balancer_event"
    loadbalancer_id: Mapped[str] = mapped_column(
        ForeignKey("load_balancer.id", ondelete="CASCADE"), primary_key=True)
    operation: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime.datetime] = mapped_column(DateTime, default=utcnow)


class AmphoraJob(Base):
    """A job of the amphora driver that several processes share (the spare pool's top-up):
    its row is written by compare-and-swap in the transaction doing the job, so two
    processes doing it at once are serialized, on Galera too."""

    __tablename__ = "amphora_job"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    generation: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime.datetime | None] = mapped_column(
        DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql"))


class NetworkPort(Base):
    """An address a network backend handed out (a VIP, an amphora's leg on a subnet).

    Backends that own their addresses (the `local` backend) record them here, so an
    allocation survives restarts and is shared by every process; Neutron keeps its own.
    """

    __tablename__ = "network_port"
    __table_args__ = (UniqueConstraint("subnet_id", "ip_address"),)
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(255), default="")
    network_id: Mapped[str] = mapped_column(String(36), index=True)
    subnet_id: Mapped[str] = mapped_column(String(36))
    ip_address: Mapped[str] = mapped_column(String(64))
    mac_address: Mapped[str | None] = mapped_column(String(64))
    device_id: Mapped[str] = mapped_column(String(255), default="", index=True)
    device_owner: Mapped[str] = mapped_column(String(255), default="")
    project_id: Mapped[str] = mapped_column(String(36), default="")
    created_at: Mapped[datetime.datetime] = mapped_column(DateTime, default=utcnow)
