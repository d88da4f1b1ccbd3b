"""Bring one load balancer's amphora to what the database says, then report its statuses.

Every step checks before it acts (the amphora row, the namespace, the agent, each plugged
interface, the installed config), so running a reconcile twice changes nothing and a
reconcile cut short by a crash is finished by the next one.
"""
import logging
import os
import sys
import time

from sqlalchemy import select

from lbaas.core import constants as c
from lbaas.core import models, statistics
from lbaas.drivers import completion
from lbaas.drivers.amphora import certs, desired
from lbaas.drivers.amphora.agent_client import AgentClient
from lbaas.drivers.amphora.compute import Network
from lbaas.drivers.amphora.haproxy.render import Settings, render

LOG = logging.getLogger(__name__)
AMP_PORT_OWNER = "lbaas:amphora"
FDS_PER_CONNECTION = 2   # a proxied connection holds a client and a server socket
FD_RESERVE = 1000        # listeners, health checks, sockets of the runtime API
AGENT_FILES = {"ca": "ca.pem", "cert": "server.pem", "key": "heartbeat.key"}


class Reconciler:
    """Reconciles load balancers of one provider with a compute backend and the agents."""

    def __init__(self, core, compute, provider="amphora", controller=None):
        """controller: "ip:port" heartbeats go to (default: [health_manager] settings)."""
        self.core, self.conf, self.compute, self.provider = core, core.conf, compute, provider
        self.ca = certs.CertificateAuthority.from_conf(self.conf)
        self.ca_file = os.path.join(self.ca.directory, certs.CA_CERT)
        worker = self.conf.controller_worker
        client_pem = self._client_certificate()
        self.agents = AgentClient(self.ca_file, client_pem, worker.agent_port,
                                  worker.agent_request_timeout)
        self.controllers = controller_addresses(self.conf, compute) if controller is None \
            else [controller]
        self._limits = {}   # management ip -> the agent's open-file limit

    def _client_certificate(self):
        cert, key = self.ca.issue_client("lbaas-controller")
        directory = os.path.join(self.conf.state_path, "controller-certs")
        os.makedirs(directory, mode=0o700, exist_ok=True)
        return certs.write_pair(directory, f"client-{os.getpid()}", cert, key)

    # -- the one entry point ----------------------------------------------------------
    def reconcile(self, loadbalancer_id):
        """Converge one load balancer; raises on failure (the caller retries or reports ERROR).

        Returns "took-spare" when a spare amphora was bound to it (time to boot another).
        """
        seen = self.core.library.loadbalancer_tree(loadbalancer_id)   # before the desired state
        with self.core.db.read() as session:
            want = desired.load(session, loadbalancer_id)
        if seen is None or want is None or want.provider != self.provider:
            return None
        took_spare = False
        if want.provisioning_status == c.PENDING_DELETE:
            self._teardown(want)
        else:
            amphora, took_spare = self._ensure_amphora(want)
            ip = amphora.lb_network_ip
            self._plumb(want, amphora, ip)
            self._push(want, amphora, ip)
        self._report(seen, c.ACTIVE)
        return "took-spare" if took_spare else None

    def replace(self, loadbalancer_id, amphora_ids):
        """Tear down amphorae to be replaced (None in amphora_ids: all of the load balancer's);
        the reconcile that follows builds or takes their successors."""
        with self.core.db.read() as session:
            current = set(session.scalars(select(models.Amphora.id).where(
                models.Amphora.loadbalancer_id == loadbalancer_id,
                models.Amphora.status != c.DELETED)))
        doomed = current if None in amphora_ids else current & set(amphora_ids)
        for amphora_id in sorted(doomed):
            LOG.info("replacing amphora %s of load balancer %s", amphora_id, loadbalancer_id)
            self.delete_amphora(amphora_id)
        return doomed

    def fail(self, loadbalancer_id):
        """Report every pending object of the load balancer ERROR (retries are exhausted)."""
        seen = self.core.library.loadbalancer_tree(loadbalancer_id)
        if seen is not None:
            self._report(seen, c.ERROR)

    def _report(self, seen, outcome):
        """Finish what this reconcile saw pending, and only if it is still in that state.

        `seen` was read before the desired state, so everything it shows pending was
        converged. An object that became pending afterwards (a delete arriving during the
        reconcile) is not this run's to finish: its own cast runs another reconcile.
        """
        update = completion.completion(seen, observed=True, outcome=outcome)
        now = self.core.library.loadbalancer_tree(seen["id"])
        if not update or now is None:
            return
        before, current = _statuses(seen), _statuses(now)
        kept = {}
        for collection, records in update.items():
            records = [r for r in records if "provisioning_status" not in r
                       or current.get(r["id"]) == before.get(r["id"])]
            if records:
                kept[collection] = records
        if kept:
            self.core.library.update_loadbalancer_status(kept)

    # -- amphorae -----------------------------------------------------------------------
    def _ensure_amphora(self, want):
        """(the load balancer's amphora, created and its agent answering; whether a spare)."""
        amphora = next((a for a in want.amphorae if a.status != c.ERROR), None)
        spare = None
        if amphora is None:
            spare = self._claim_spare(want.loadbalancer_id)
            amphora = spare or self._new_amphora_row(want.loadbalancer_id)
        if not self.compute.exists(amphora.id):
            self._boot(amphora)
        else:
            instance = self.compute.get(amphora.id)
            if not self.agents.ready(instance.management_ip):
                self._start_agent(amphora.id, instance)
        if amphora.status != "ALLOCATED" or not amphora.lb_network_ip:
            instance = self.compute.get(amphora.id)
            with self.core.db.write() as session:
                row = session.get(models.Amphora, amphora.id)
                row.status, row.lb_network_ip = "ALLOCATED", instance.management_ip
                row.updated_at = models.utcnow()
            amphora.status, amphora.lb_network_ip = "ALLOCATED", instance.management_ip
        statistics.watch_amphora(self.core.db, amphora.id)
        return amphora, spare is not None

    def _new_amphora_row(self, loadbalancer_id):
        with self.core.db.write() as session:
            amphora_id = models.new_id()
            row = models.Amphora(id=amphora_id, compute_id=amphora_id, status="BOOTING",
                                 loadbalancer_id=loadbalancer_id, role="STANDALONE",
                                 cert_busy=False)
            session.add(row)
            session.flush()
            session.expunge(row)
        return row

    # -- spares ---------------------------------------------------------------------------
    def _claim_spare(self, loadbalancer_id):
        """Bind a READY spare amphora to the load balancer (None when there is none)."""
        with self.core.db.write() as session:
            stmt = select(models.Amphora).where(models.Amphora.status == "READY",
                                                models.Amphora.loadbalancer_id.is_(None)) \
                .order_by(models.Amphora.created_at).limit(1)
            if not self.core.db.is_sqlite:
                stmt = stmt.with_for_update(skip_locked=True)
            row = session.scalars(stmt).first()
            if row is None:
                return None
            row.loadbalancer_id, row.status = loadbalancer_id, "ALLOCATED"
            row.role, row.updated_at = "STANDALONE", models.utcnow()
            session.flush()
            session.expunge(row)
        LOG.info("load balancer %s takes spare amphora %s", loadbalancer_id, row.id)
        return row

    def replenish_spares(self):
        """Boot spare amphorae until [house_keeping] spare_amphora_pool_size are READY."""
        wanted = self.conf.house_keeping.spare_amphora_pool_size
        with self.core.db.read() as session:
            spares = list(session.scalars(select(models.Amphora).where(
                models.Amphora.loadbalancer_id.is_(None),
                models.Amphora.status.in_(("BOOTING", "READY")))))
        booting = [a for a in spares if a.status == "BOOTING"]   # left by a crash
        missing = max(0, wanted - len(spares))
        for amphora in booting + [self._new_amphora_row(None) for _ in range(missing)]:
            try:
                self._boot(amphora)
            except Exception:
                self.delete_amphora(amphora.id)
                raise
            with self.core.db.write() as session:
                row = session.get(models.Amphora, amphora.id)
                if row is not None and row.loadbalancer_id is None and row.status == "BOOTING":
                    row.status, row.role = "READY", None
        return missing

    def _boot(self, amphora):
        """Create the amphora, deliver its certificate and key files, start its agent."""
        instance = self.compute.create(amphora.id)
        cert, key = self.ca.issue_server(amphora.id, [instance.management_ip])
        files = {AGENT_FILES["ca"]: self.ca.ca_pem, AGENT_FILES["cert"]: cert + key,
                 AGENT_FILES["key"]: (self.conf.health_manager.heartbeat_key or "").encode()}
        instance = self.compute.create(amphora.id, files=files)
        with self.core.db.write() as session:
            row = session.get(models.Amphora, amphora.id)
            row.cert_expiration = certs.expiry(cert)
            row.lb_network_ip = instance.management_ip
        self._start_agent(amphora.id, instance)

    def _start_agent(self, amphora_id, instance):
        base = instance.files_dir or "/var/lib/lbaas-agent"
        worker = self.conf.controller_worker
        argv = [sys.executable, "-m", "lbaas.agent.server", "--base-dir", f"{base}/lb",
                "--bind", instance.management_ip, "--port", str(worker.agent_port),
                "--ca", f"{base}/{AGENT_FILES['ca']}", "--cert", f"{base}/{AGENT_FILES['cert']}",
                "--haproxy", self.conf.haproxy_amphora.haproxy_cmd, "--amphora-id", amphora_id,
                "--heartbeat-interval", str(self.conf.health_manager.heartbeat_interval)]
        if self.conf.health_manager.heartbeat_key:
            argv += ["--heartbeat-key-file", f"{base}/{AGENT_FILES['key']}"]
            for address in self.controllers:
                argv += ["--controller", address]
        self.compute.spawn(amphora_id, argv)
        deadline = time.monotonic() + worker.agent_timeout
        while not self.agents.ready(instance.management_ip, timeout=0.5):
            if time.monotonic() > deadline:
                raise TimeoutError(f"agent of amphora {amphora_id} did not answer within "
                                   f"{worker.agent_timeout} s")
            time.sleep(0.05)

    # -- networks -----------------------------------------------------------------------
    def _interface(self, amphora_id, plumbing):
        """The amphora's interface on a subnet's bridge, plugged if missing."""
        instance = self.compute.get(amphora_id)
        found = next((i for i in instance.interfaces if i.network == plumbing.bridge), None)
        if found is None:
            prefix = plumbing.cidr.split("/")[1]
            host = f"{plumbing.host_ip}/{prefix}" if plumbing.host_ip else None
            found = self.compute.plug(amphora_id, Network(plumbing.bridge, host_address=host))
        return found

    def _plumb(self, want, amphora, ip):
        """Put the VIP and one leg on every member subnet into the amphora."""
        network = self.core.network
        vip_plumbing = network.plumbing(want.vip_subnet_id) if want.vip_subnet_id else None
        if vip_plumbing is not None and want.vip_address:
            iface = self._interface(amphora.id, vip_plumbing)
            self.agents.plug_vip(ip, want.vip_address, {
                "mac_address": iface.mac, "subnet_cidr": vip_plumbing.cidr,
                "gateway": vip_plumbing.gateway, "mtu": vip_plumbing.mtu})
        for subnet_id in sorted(want.member_subnets - {want.vip_subnet_id}):
            plumbing = network.plumbing(subnet_id)
            if plumbing is None:
                continue
            port = network.allocate_port(amphora.id, subnet_id, AMP_PORT_OWNER,
                                         name=f"lbaas-amphora-{amphora.id}")
            iface = self._interface(amphora.id, plumbing)
            self.agents.plug_network(ip, {
                "mac_address": iface.mac, "mtu": plumbing.mtu,
                "fixed_ips": [{"ip_address": f["ip_address"], "subnet_cidr": plumbing.cidr}
                              for f in port["fixed_ips"]]})

    # -- HAProxy ------------------------------------------------------------------------
    def settings(self, max_open_files=None):
        """The runtime values of a rendered config (connections capped by the amphora's files)."""
        ha = self.conf.haproxy_amphora
        cap = (max_open_files - FD_RESERVE) // FDS_PER_CONNECTION if max_open_files else None
        return Settings(stats_socket="stats.sock", pid_file="haproxy.pid",
                        state_file="servers.state", user="nobody", group=ha.user_group,
                        default_connection_limit=ha.default_connection_limit,
                        threads=ha.threads or None, splice=ha.splice,
                        max_connections=max(cap, 1) if cap is not None
                        else Settings.max_connections,
                        timeout_client_data=ha.timeout_client_data,
                        timeout_member_connect=ha.timeout_member_connect,
                        timeout_member_data=ha.timeout_member_data)

    def _push(self, want, amphora, ip):
        """Install and (re)load the rendered config unless the agent already runs it."""
        lb_id = want.loadbalancer_id
        serving = [li for li in want.model.listeners if li.admin_state_up is not False] \
            if want.model.admin_state_up is not False else []
        if not serving:   # HAProxy refuses to run without a frontend: nothing should listen
            self.agents.remove(ip, lb_id)
            return
        text = render(want.model, self.settings(self._open_files(ip)))
        running = {e["uuid"]: e["status"] for e in self.agents.listeners(ip)}
        if self.agents.config(ip, lb_id) == text and running.get(lb_id) == "ACTIVE":
            return
        self.agents.upload(ip, amphora.id, lb_id, text)
        self.agents.action(ip, lb_id, "reload")

    def _open_files(self, ip):
        """The agent's open-file limit, which HAProxy's connections must fit in (cached)."""
        if ip not in self._limits:
            self._limits[ip] = self.agents.info(ip).get("max_open_files")
        return self._limits[ip]

    # -- deletion -----------------------------------------------------------------------
    def _teardown(self, want):
        """Remove the load balancer's amphorae and their ports; the VIP goes with the LB row."""
        for amphora in want.amphorae:
            self.delete_amphora(amphora.id)

    def delete_amphora(self, amphora_id):
        """Remove one amphora (namespace, processes, ports) and mark its row DELETED."""
        self.compute.delete(amphora_id)
        self.core.network.release_ports(amphora_id)
        with self.core.db.write() as session:
            row = session.get(models.Amphora, amphora_id)
            if row is not None:
                row.status, row.updated_at = c.DELETED, models.utcnow()


def _statuses(tree):
    """{object id: provisioning_status} of every object of a loadbalancer_tree()."""
    found = {tree["id"]: tree["provisioning_status"]}
    for pool in tree["pools"]:
        found[pool["id"]] = pool["provisioning_status"]
        for member in pool["members"]:
            found[member["id"]] = member["provisioning_status"]
        if pool["healthmonitor"]:
            found[pool["healthmonitor"]["id"]] = pool["healthmonitor"]["provisioning_status"]
    for listener in tree["listeners"]:
        found[listener["id"]] = listener["provisioning_status"]
        for policy in listener.get("l7policies", ()):
            found[policy["id"]] = policy["provisioning_status"]
            for rule in policy["rules"]:
                found[rule["id"]] = rule["provisioning_status"]
    return found


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
