"""The database model: one typed class per Octavia object, columns named as the API names them."""
import datetime
import uuid

from sqlalchemy import (JSON, Boolean, DateTime, Float, ForeignKey, Integer, String,
                        UniqueConstraint, BigInteger)
from sqlalchemy.orm import DeclarativeBase, Mapped, foreign, mapped_column, relationship


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


class Tagged:
    """Columns and helpers every provisioned object shares."""

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    project_id: Mapped[str | None] = mapped_column(String(36), index=True)
    name: Mapped[str | None] = mapped_column(String(255))
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


def _tags(cls_name):
    return relationship(
        Tag, primaryjoin=f"foreign(Tag.resource_id) == {cls_name}.id",
        cascade="all, delete-orphan", lazy="selectin", overlaps="tags")


class LoadBalancer(Tagged, Base):
    __tablename__ = "load_balancer"
    description: Mapped[str | None] = mapped_column(String(255))
    provider: Mapped[str | None] = mapped_column(String(64))
    flavor_id: Mapped[str | None] = mapped_column(String(36))
    availability_zone: Mapped[str | None] = mapped_column(String(255))
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
    listeners: Mapped[list[Listener]] = relationship(
        primaryjoin=lambda: foreign(Listener.default_pool_id) == Pool.id, viewonly=True)


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
