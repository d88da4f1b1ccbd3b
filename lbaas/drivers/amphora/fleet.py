"""The amphorae of the amphora driver: booted, claimed from the spares, replaced, deleted.

An amphora row is committed before its compute instance is created, and an instance is
deleted before its row is marked DELETED, so at every moment the database knows about
every amphora that exists (housekeeping relies on it to find orphans).
"""
import concurrent.futures
import dataclasses
import datetime
import logging
import os
import sys
import time

from lbaas.core import constants as c
from lbaas.core.port import Desired
from lbaas.drivers.amphora import agent_client, certs, controller_cert
from lbaas.drivers.amphora.compute import Boot, ComputeError
from lbaas.drivers.amphora.store import Amphorae, Heartbeats, Jobs
from lbaas.drivers.amphora.store.jobs import SPARE_POOL
from lbaas.drivers.amphora.store.rows import utcnow
from lbaas.drivers.amphora.vrrp.render import ACTIVE_STANDBY, PRIORITIES

LOG = logging.getLogger(__name__)
# a spare BOOTING without a change for this many lease durations was left by a worker that
# died booting it (its booter touches it every lease_renew_interval: touch_spares)
SPARE_BOOT_STALE_LEASES = 3
AGENT_FILES = {"ca": "ca.pem", "cert": "server.pem", "key": "heartbeat.key"}
PAIR = ("MASTER", "BACKUP")


@dataclasses.dataclass
class Want(Desired):
    """A load balancer's desired state with its amphorae (AmphoraRecords not DELETED)."""

    amphorae: list = dataclasses.field(default_factory=list)


class Fleet:
    """Amphorae on one compute backend, with the CA and the client that talk to their agents."""

    def __init__(self, context, compute, controller=None):
        """controller: "ip:port" heartbeats go to (default: [health_manager] settings)."""
        self.context, self.conf, self.compute = context, context.conf, compute
        self.rows, self.heartbeats = Amphorae(context), Heartbeats(context)
        self.jobs = Jobs(context.database)
        self.ca = certs.CertificateAuthority.from_conf(self.conf)
        self.ca_file = os.path.join(self.ca.directory, certs.CA_CERT)
        worker = self.conf.controller_worker
        self.agents = agent_client.load(worker.amphora_driver, self.ca_file,
                                        self._client_certificate(), worker.agent_port,
                                        worker.agent_request_timeout)
        self.controllers = controller_addresses(self.conf, compute) if controller is None \
            else [controller]
        self.leases = {}   # lb id -> the worker's lease during its reconcile (store.Lease)
        self.booting = set()   # ids of the spares this process is booting now

    def step(self, loadbalancer_id):
        """Before a step of a reconcile: the worker still holds the load balancer's lease
        (renewed), or LeaseLost (nothing to check outside a leased reconcile)."""
        lease = self.leases.get(loadbalancer_id)
        if lease is not None:
            lease.check()

    def set(self, amphora, **values):
        """Write columns of an amphora row (rows.set), fenced by the worker's lease on its
        load balancer during a leased reconcile: a worker that lost it writes nothing."""
        lease = self.leases.get(amphora.loadbalancer_id)
        self.rows.set(amphora, fence=lease.within if lease else None, **values)

    def _client_certificate(self):
        """This process's client certificate (cert + key PEM file) for the agents.

        Written again at the same path when renewed: each new connection to an agent reads
        the file, open ones keep the certificate they started with. Removed at exit; files
        of processes that are gone are removed here (lbaas.drivers.amphora.controller_cert).
        """
        cert, key = self.ca.issue_client("lbaas-controller")
        self.client_cert_expires = certs.expiry(cert)
        return controller_cert.write(
            os.path.join(self.conf.state_path, controller_cert.DIRECTORY), cert, key)

    def refresh_client_certificate(self, now=None):
        """Renew this process's client certificate when it expires within cert_rotate_before
        (at most half its validity); True if renewed."""
        validity = self.conf.certificates.cert_validity_time
        margin = min(self.conf.house_keeping.cert_rotate_before, validity / 2)
        now = now or utcnow()
        if (self.client_cert_expires - now).total_seconds() > margin:
            return False
        self._client_certificate()
        LOG.info("controller client certificate renewed (valid until %s)",
                 self.client_cert_expires)
        return True

    def want(self, loadbalancer_id):
        """The load balancer's desired state and amphorae, or None when it is gone."""
        desired = self.context.desired(loadbalancer_id)
        if desired is None:
            return None
        fields = {f.name: getattr(desired, f.name) for f in dataclasses.fields(Desired)}
        return Want(**fields, amphorae=self.rows.of_loadbalancer(loadbalancer_id))

    def ensure(self, want):
        """(the load balancer's amphorae, created and their agents answering; spares taken).

        SINGLE: one STANDALONE amphora. ACTIVE_STANDBY: a MASTER and a BACKUP; when only a
        BACKUP is left (its MASTER failed over) it holds the VIP, so it becomes the MASTER
        and the replacement the BACKUP. Two amphorae are readied in parallel.
        """
        live = sorted((a for a in want.amphorae if a.status != c.ERROR),
                      key=lambda a: a.updated_at or a.created_at, reverse=True)
        if want.topology != ACTIVE_STANDBY:
            for extra in live[1:]:   # a swap cut short by a crash: keep the newest
                LOG.warning("load balancer %s has a second amphora %s: removing it",
                            want.loadbalancer_id, extra.id)
                self.delete(extra.id)
            chosen = [(live[0] if live else None, "STANDALONE")]
        else:
            if len(live) == 1 and live[0].role == "BACKUP":
                self.set_role(live[0], "MASTER")
            chosen = [(next((a for a in live if a.role == role), None), role)
                      for role in PAIR]
        amphorae, spares = [], 0
        for amphora, role in chosen:
            if amphora is None:
                self.step(want.loadbalancer_id)
                amphora = self.claim_spare(want.loadbalancer_id, role) \
                    if self._spare_fits(want) else None
                spares += amphora is not None
                amphora = amphora or self.new_row(want.loadbalancer_id, role)
            amphorae.append(amphora)
        if len(amphorae) == 1:
            self.ready(amphorae[0], want)
        else:
            with concurrent.futures.ThreadPoolExecutor(len(amphorae)) as pool:
                for future in [pool.submit(self.ready, a, want) for a in amphorae]:
                    future.result()
        return amphorae, spares

    def ready(self, amphora, want=None):
        """Boot the amphora (where and how `want`, its load balancer, says) or start its
        agent as needed; mark it ALLOCATED (unless it is marked for failover) and watched."""
        if not self.compute.exists(amphora.id) or \
                not self.agents.ready(self.compute.get(amphora.id).management_ip):
            # booted again when its agent does not answer: a worker killed in the middle
            # of a boot leaves a namespace without the agent's certificate files, and an
            # agent started there can only fail (create() is idempotent: the files are
            # delivered, then the agent started)
            self.boot(amphora, want)
        if amphora.status not in ("ALLOCATED", c.PENDING_DELETE) or not amphora.lb_network_ip:
            instance = self.compute.get(amphora.id)
            values = {"lb_network_ip": instance.management_ip}
            if amphora.status != c.PENDING_DELETE:   # marked for failover: it stays marked
                values["status"] = "ALLOCATED"
            self.set(amphora, **values)
        if self.agents.measures_health:   # a noop agent never sends a heartbeat
            self.heartbeats.watch(amphora.id)

    def set_role(self, amphora, role):
        """Give an amphora its role (and that role's VRRP priority), in the row and the copy."""
        self.set(amphora, role=role, vrrp_priority=PRIORITIES.get(role))

    def record_vip(self, want, amphora):
        """An amphora without a VRRP address of its own holds the VIP on the VIP's port:
        record that port and address as both its VRRP (base) and HA ones, as the amphora API
        shows them."""
        if want.vip_address:
            self.set(amphora, vrrp_ip=want.vip_address, vrrp_port_id=want.vip_port_id,
                     ha_ip=want.vip_address, ha_port_id=want.vip_port_id)

    def new_row(self, loadbalancer_id, role="STANDALONE"):
        """A BOOTING amphora row (committed before anything is built: never an orphan)."""
        lease = self.leases.get(loadbalancer_id)
        return self.rows.add(loadbalancer_id, role if loadbalancer_id else None,
                             PRIORITIES.get(role), fence=lease.within if lease else None)

    def _spare_fits(self, want):
        """Whether a spare (booted in no zone and no server group) may serve the load
        balancer: not when a backend that boots amphorae must place them (compute_zone,
        management_network, an anti-affinity pair)."""
        if not self.compute.agent_at_boot:
            return True
        placement = self.boot_settings(want)
        return not (placement.zone or placement.management_network
                    or placement.anti_affinity)

    # -- spares ---------------------------------------------------------------------------
    def claim_spare(self, loadbalancer_id, role="STANDALONE"):
        """Bind a READY spare amphora to the load balancer in a role (None when none is left)."""
        amphora = self.rows.claim_spare(loadbalancer_id, role, PRIORITIES.get(role))
        if amphora is not None:
            LOG.info("load balancer %s takes spare amphora %s", loadbalancer_id, amphora.id)
        return amphora

    def replenish_spares(self):
        """Boot spare amphorae until [house_keeping] spare_amphora_pool_size are READY;
        -> how many new ones were added.

        Safe from several workers at once: the missing rows are added in one transaction
        serialized on the pool's job row (store.jobs), and a BOOTING spare is booted by the
        worker that added it (which touches its row while it boots it: touch_spares), or,
        untouched for SPARE_BOOT_STALE_LEASES lease durations (its booter died), by the one
        worker that takes it over by compare-and-swap.
        """
        wanted = self.conf.house_keeping.spare_amphora_pool_size
        stale = self.rows.take_stale_spares(utcnow() - datetime.timedelta(
            seconds=SPARE_BOOT_STALE_LEASES * self.conf.controller_worker.lease_duration))
        self.jobs.prepare(SPARE_POOL)
        new = self.rows.top_up_spares(wanted,
                                      lambda session: self.jobs.exclusive(session, SPARE_POOL))
        missing = len(new)
        if new:
            LOG.info("booting %d spare amphorae (pool size %d)", missing, wanted)
        todo = stale + new
        self.booting.update(a.id for a in todo)
        try:
            for i, amphora in enumerate(todo):
                try:
                    self.boot(amphora)
                except Exception:
                    self.delete(amphora.id)
                    for unbooted in todo[i + 1:]:   # the next top-up adds them again
                        self.rows.mark_deleted(unbooted.id)
                    raise
                self.rows.spare_ready(amphora.id)
                self.booting.discard(amphora.id)
        finally:
            self.booting.difference_update(a.id for a in todo)
        return missing

    def touch_spares(self):
        """The spares this process is booting are still being booted (called every
        lease_renew_interval): nobody takes them over while it lives."""
        return self.rows.touch_booting_spares(set(self.booting))

    def boot_settings(self, want=None):
        """The Boot of an amphora of `want`'s load balancer (None: a spare): the agent's
        settings, its availability zone's compute_zone and management_network, its flavor's
        compute_flavor and amp_image_tag, and whether a pair is kept apart."""
        zone, flavor = (want.zone, want.flavor) if want is not None else ({}, {})
        return Boot(agent_port=self.conf.controller_worker.agent_port,
                    controllers=tuple(self.controllers),
                    heartbeat_interval=float(self.conf.health_manager.heartbeat_interval),
                    loadbalancer_id=want.loadbalancer_id if want is not None else None,
                    zone=zone.get("compute_zone") or None,
                    management_network=zone.get("management_network") or None,
                    flavor=flavor.get("compute_flavor") or None,
                    image_tag=flavor.get("amp_image_tag") or None,
                    anti_affinity=bool(want is not None and want.topology == ACTIVE_STANDBY
                                       and self.conf.nova.enable_anti_affinity))

    def boot(self, amphora, want=None):
        """Create the amphora, deliver its certificate and key files, start its agent (or,
        when the backend starts it at boot, hand it the agent's settings).

        A backend that boots amphorae (agent_at_boot) that fails to, or whose agent does
        not answer in time, has the amphora removed and its row marked ERROR (the reason in
        the log): the next attempt boots a new one.
        """
        at_boot = self.compute.agent_at_boot
        extra = {"boot": self.boot_settings(want)} if at_boot else {}
        try:
            instance = self.compute.create(amphora.id, **extra)
            self.step(amphora.loadbalancer_id)   # a boot takes long: still the lease holder?
            cert, key = self.ca.issue_server(amphora.id, [instance.management_ip])
            files = {AGENT_FILES["ca"]: self.ca.ca_pem, AGENT_FILES["cert"]: cert + key,
                     AGENT_FILES["key"]: (self.conf.health_manager.heartbeat_key or "").encode()}
            instance = self.compute.create(amphora.id, files=files, **extra)
            self.set(amphora, cert_expiration=certs.expiry(cert),
                     lb_network_ip=instance.management_ip)
            self.start_agent(amphora.id, instance)
        except (ComputeError, TimeoutError) as exc:
            if not at_boot:
                raise
            self._failed(amphora, exc)
            raise

    def _failed(self, amphora, exc):
        """A booted amphora that failed: log why, remove it, mark its row ERROR."""
        LOG.error("amphora %s of load balancer %s failed to boot: %s", amphora.id,
                  amphora.loadbalancer_id, getattr(exc, "operator_message", exc))
        try:
            self.compute.delete(amphora.id)
            self.context.network.release_ports(amphora.id)
        except Exception:
            LOG.exception("could not remove amphora %s after its failed boot (housekeeping "
                          "removes it later)", amphora.id)
        self.set(amphora, status=c.ERROR)

    @staticmethod
    def _files(instance):
        """Where the amphora's agent finds its files (and keeps its state under lb/)."""
        return instance.files_dir or "/var/lib/lbaas-agent"

    def start_agent(self, amphora_id, instance):
        """Run the agent in the amphora (unless it starts its agent at boot) and wait until
        it answers over mutual TLS."""
        if not self.compute.agent_at_boot:
            self.compute.spawn(amphora_id, self._agent_argv(amphora_id, instance))
        self.wait_agent(amphora_id, instance)

    def _agent_argv(self, amphora_id, instance):
        """The command line of the agent the fleet runs in an amphora."""
        base = self._files(instance)
        worker = self.conf.controller_worker
        argv = [sys.executable, "-m", "lbaas.agent.server", "--base-dir", f"{base}/lb",
                "--bind", instance.management_ip, "--port", str(worker.agent_port),
                "--ca", f"{base}/{AGENT_FILES['ca']}", "--cert", f"{base}/{AGENT_FILES['cert']}",
                "--haproxy", self.conf.haproxy_amphora.haproxy_cmd,
                "--keepalived", self.conf.keepalived_vrrp.keepalived_cmd, "--amphora-id", amphora_id,
                "--heartbeat-interval", str(self.conf.health_manager.heartbeat_interval)]
        if self.conf.health_manager.heartbeat_key:
            argv += ["--heartbeat-key-file", f"{base}/{AGENT_FILES['key']}"]
            for address in self.controllers:
                argv += ["--controller", address]
        return argv

    def wait_agent(self, amphora_id, instance):
        """Wait until the amphora's agent answers; TimeoutError after agent_timeout."""
        worker = self.conf.controller_worker
        deadline = time.monotonic() + worker.agent_timeout
        while not self.agents.ready(instance.management_ip, timeout=0.5):
            if time.monotonic() > deadline:
                raise TimeoutError(f"agent of amphora {amphora_id} did not answer within "
                                   f"{worker.agent_timeout} s")
            time.sleep(0.05)


    def replace(self, loadbalancer_id, amphora_ids):
        """Tear down amphorae to be replaced (None in amphora_ids: all of the load balancer's);
        the reconcile that follows builds or takes their successors."""
        current = self.rows.ids_of(loadbalancer_id)
        doomed = current if None in amphora_ids else current & set(amphora_ids)
        for amphora_id in sorted(doomed):
            LOG.info("replacing amphora %s of load balancer %s", amphora_id, loadbalancer_id)
            self.delete(amphora_id)
        return doomed

    def delete(self, amphora_id):
        """Remove one amphora (namespace, processes, ports) and mark its row DELETED."""
        self.compute.delete(amphora_id)
        self.context.network.release_ports(amphora_id)
        self.rows.mark_deleted(amphora_id)

    def delete_group(self, loadbalancer_id):
        """Remove the compute backend's group of the load balancer's amphorae (if any)."""
        self.compute.delete_group(loadbalancer_id)


def controller_addresses(conf, compute):
    """Where agents send heartbeats: [health_manager] controller_ip_port_list, or the
    health manager's bind address as the amphorae see it (the management gateway of the
    local compute backend when it binds a loopback address)."""
    hm = conf.health_manager
    if hm.controller_ip_port_list:
        return list(hm.controller_ip_port_list)
    gateway = getattr(compute, "gateway", None)
    host = gateway.split("/")[0] if gateway and hm.bind_ip in ("127.0.0.1", "::1") \
        else hm.bind_ip
    return [f"{host}:{hm.bind_port}"]
