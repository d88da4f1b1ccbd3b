"""Bring one load balancer's amphora to what the database says, then report its statuses.

Every step checks before it acts (the amphora row, the namespace, the agent, each plugged
interface, the installed config), so running a reconcile twice changes nothing and a
reconcile cut short by a crash is finished by the next one.
"""
import concurrent.futures
import contextvars
import dataclasses
import hashlib
import logging

from lbaas.core import certificates
from lbaas.core import constants as c
from lbaas.drivers import report
from lbaas.drivers.amphora.compute import Network
from lbaas.drivers.amphora.fleet import ACTIVE_STANDBY, Fleet
from lbaas.drivers.amphora.haproxy import tls
from lbaas.drivers.amphora.haproxy.render import Settings, render
from lbaas.drivers.amphora.vrrp.pair import (AMP_PORT_OWNER, PEER_PORT, Pair, peer_name,
                                             vip_port_extras, vip_port_name)

LOG = logging.getLogger(__name__)
FDS_PER_CONNECTION = 2   # a proxied connection holds a client and a server socket
FD_RESERVE = 1000        # listeners, health checks, sockets of the runtime API
AGENT_CERT_DIR = "certs"   # the agent's certificate directory, relative to the LB directory


class Reconciler:
    """Reconciles load balancers of one provider with a compute backend and the agents."""

    def __init__(self, context, compute, provider="amphora", controller=None):
        """controller: "ip:port" heartbeats go to (default: [health_manager] settings)."""
        self.context, self.conf, self.compute, self.provider = context, context.conf, compute, \
            provider
        self.library = context.library
        self.fleet = Fleet(context, compute, controller)
        self.ca, self.agents = self.fleet.ca, self.fleet.agents
        self._infos = {}    # amphora id -> its agent's /info (open-file limit, paths)
        self._groups = {}   # lb id -> the security group state last synced (this process)
        self.pair = Pair(self.fleet, self.agents, self.info, self.each)

    def request_failover(self, loadbalancer_id, amphora_id=None):
        """Mark amphorae of the load balancer to be replaced (None: all of them): the next
        reconcile reads the marks (PENDING_DELETE, as upstream shows an amphora being failed
        over), so a failover interrupted by a crash is finished by the next one; -> the ids
        marked."""
        marked = set()
        for amphora in self.fleet.rows.of_loadbalancer(loadbalancer_id):
            if amphora_id in (None, amphora.id):
                self.fleet.rows.set(amphora, status=c.PENDING_DELETE)
                marked.add(amphora.id)
        return marked

    def _answers(self, amphora):
        """Whether the amphora's agent answers (a healthy amphora, failed over on request)."""
        return bool(amphora.lb_network_ip) and self.agents.ready(amphora.lb_network_ip)

    def _fail_over(self, want):
        """Replace the amphorae marked by request_failover; -> the successors that were spares.

        SINGLE, a healthy amphora: make before break (_swap). A pair: one amphora at a time,
        the one not holding the VIP first, each successor built and a VRRP peer before the
        next goes, so the VIP always has a HAProxy behind it; the last goes, and the converge
        that follows builds its successor. Otherwise the marked amphorae are removed and the
        converge builds successors.
        """
        doomed = [a for a in want.amphorae if a.status == c.PENDING_DELETE]
        if not doomed:
            return 0
        if want.topology != ACTIVE_STANDBY and len(want.amphorae) == 1 \
                and self._answers(doomed[0]):
            return self._swap(want, doomed[0])
        if want.topology != ACTIVE_STANDBY:
            for amphora in doomed:
                self.fleet.delete(amphora.id)
            return 0
        doomed.sort(key=self.pair.holds_vip)
        LOG.info("failing over %s of load balancer %s in this order (the VIP's holder last)",
                 ", ".join(a.id for a in doomed), want.loadbalancer_id)
        took = 0
        for amphora in doomed[:-1]:
            self.fleet.delete(amphora.id)
            took += self._converge_all(self.fleet.want(want.loadbalancer_id))
            self.pair.await_standby(want.loadbalancer_id, {a.id for a in doomed})
        self.fleet.delete(doomed[-1].id)
        return took

    def _swap(self, want, old):
        """Make before break: a successor serving everything but the VIP, then the VIP moved
        to it (with a gratuitous ARP), then the old amphora removed; -> 1 if the successor
        was a spare.

        For a moment both hold the VIP; neighbours follow the announcement. A crash in
        between leaves two amphorae with the old one still marked: the next reconcile
        removes it.
        """
        LOG.info("failing over amphora %s of load balancer %s: successor first", old.id,
                 want.loadbalancer_id)
        new = self.fleet.claim_spare(want.loadbalancer_id)
        spare = new is not None
        new = new or self.fleet.new_row(want.loadbalancer_id)
        try:
            self.fleet.ready(new, want)
            ip = new.lb_network_ip
            self._plumb(want, new, ip, standby=True)
            self._push(want, new, ip)
            self._plumb(want, new, ip)          # the VIP, announced: traffic moves here
        except Exception:
            self.fleet.delete(new.id)           # the old one still serves: a retry starts over
            raise
        self.fleet.delete(old.id)
        return int(spare)

    def replenish_spares(self):
        """Boot spare amphorae until [house_keeping] spare_amphora_pool_size are READY."""
        return self.fleet.replenish_spares()

    def delete_amphora(self, amphora_id):
        """Remove one amphora (namespace, processes, ports) and mark its row DELETED."""
        self.fleet.delete(amphora_id)

    # -- the one entry point ----------------------------------------------------------
    def reconcile(self, loadbalancer_id, lease=None):
        """Converge one load balancer, amphorae marked for failover replaced first; raises on
        failure (the caller retries or reports ERROR). -> whether a spare amphora was bound
        to it (time to boot another).

        lease: the worker's lease on it (store.Lease), checked before each step; when it has
        been taken over, LeaseLost is raised before the next side effect.
        """
        if lease is None:
            with self.context.network.reads_cached():
                return self._reconcile(loadbalancer_id)
        self.fleet.leases[loadbalancer_id] = lease
        try:
            with self.context.network.reads_cached():
                return self._reconcile(loadbalancer_id)
        finally:
            self.fleet.leases.pop(loadbalancer_id, None)
            self.agents.unfence(loadbalancer_id)

    def _fence(self, loadbalancer_id, amphorae):
        """Under a lease, send its generation with every request to these amphorae, so
        their agents refuse the requests of a holder it superseded."""
        lease = self.fleet.leases.get(loadbalancer_id)
        for amphora in amphorae if lease is not None else ():
            if amphora.lb_network_ip:
                self.agents.fence(amphora.lb_network_ip, loadbalancer_id, lease.generation)

    def _reconcile(self, loadbalancer_id):
        seen = self.library.loadbalancer_tree(loadbalancer_id)   # before the desired state
        want = self.fleet.want(loadbalancer_id)
        if seen is None or want is None or want.provider != self.provider:
            return False
        took_spare = 0
        self.fleet.step(loadbalancer_id)
        if want.provisioning_status == c.PENDING_DELETE:
            self._teardown(want)
        else:
            took_spare = self._fail_over(want)
            if took_spare or any(a.status == c.PENDING_DELETE for a in want.amphorae):
                want = self.fleet.want(loadbalancer_id)
            took_spare += self._converge_all(want, alongside=lambda: self._sync_security_group(
                want, loadbalancer_id))
            self.fleet.step(loadbalancer_id)
        self.fleet.step(loadbalancer_id)
        self._report(seen, c.ACTIVE)
        return bool(took_spare)

    def _converge_all(self, want, alongside=None):
        """Every amphora the load balancer should have, ready and running its configuration;
        alongside (the security group's sync) runs while the configurations are pushed,
        once the amphorae's ports exist; -> how many were spares."""
        amphorae, took_spare = self.fleet.ensure(want)
        self._fence(want.loadbalancer_id, amphorae)
        self.fleet.step(want.loadbalancer_id)
        legs = self.pair.legs(want, amphorae)
        for amphora in amphorae if not legs else ():
            self.fleet.record_vip(want, amphora)
        self.each(amphorae, lambda amphora: self._plumb_one(want, amphora, legs))
        jobs = [lambda amphora=amphora: self._configure(want, amphora, legs)
                for amphora in amphorae] + ([alongside] if alongside else [])
        actions = self.each(jobs, lambda job: job())[:len(amphorae)]
        self.fleet.step(want.loadbalancer_id)
        self.pair.run(want, dict(zip((a.id for a in amphorae), actions)), amphorae)
        return took_spare

    @staticmethod
    def each(amphorae, step):
        """[step(amphora) for every amphora], run in parallel when there are several (each
        in a copy of the caller's context: the network backend's reads_cached)."""
        if len(amphorae) == 1:
            return [step(amphorae[0])]
        with concurrent.futures.ThreadPoolExecutor(len(amphorae)) as pool:
            futures = [pool.submit(contextvars.copy_context().run, step, a) for a in amphorae]
        return [future.result() for future in futures]

    def _plumb_one(self, want, amphora, legs):
        """Plumb one amphora: its VIP (or VRRP) leg and its member legs."""
        self.fleet.step(want.loadbalancer_id)
        self._plumb(want, amphora, amphora.lb_network_ip, legs.get(amphora.id))

    def _configure(self, want, amphora, legs):
        """Install one plumbed amphora's HAProxy config, and its keepalived one if paired;
        -> what keepalived needs: None, "reload" or "start"."""
        ip = amphora.lb_network_ip
        self.fleet.step(want.loadbalancer_id)
        self._push(want, amphora, ip, legs)
        return self.pair.push(want, amphora, ip, legs) if legs else None

    def fail(self, loadbalancer_id):
        """Report every pending object of the load balancer ERROR (retries are exhausted)."""
        seen = self.library.loadbalancer_tree(loadbalancer_id)
        if seen is not None:
            self._report(seen, c.ERROR)

    def _report(self, seen, outcome):
        """Finish what this reconcile saw pending, and only if it is still in that state
        (lbaas.drivers.report)."""
        report.finish(self.library, seen, outcome, observed=True,
                      measured=self.agents.measures_health)

    # -- networks -----------------------------------------------------------------------
    def _interface(self, amphora_id, plumbing, port=None):
        """The amphora's interface on a subnet's bridge (or, when the backend binds ports,
        on the port), plugged if missing."""
        instance = self.compute.get(amphora_id)
        if plumbing.bound_ports:
            found = next((i for i in instance.interfaces
                          if getattr(i, "port_id", None) == port["id"]), None)
            if found is None:
                found = self.compute.plug(amphora_id, Network(
                    plumbing.bridge, port_id=port["id"], mac=port["mac_address"]))
            return found
        found = next((i for i in instance.interfaces if i.network == plumbing.bridge), None)
        if found is None:
            prefix = plumbing.cidr.split("/")[1]
            host = f"{plumbing.host_ip}/{prefix}" if plumbing.host_ip else None
            found = self.compute.plug(amphora_id, Network(plumbing.bridge, host_address=host))
        return found

    def _plumb(self, want, amphora, ip, leg=None, standby=False):
        """Put the VIP (or, paired, the amphora's VRRP address; standby: neither yet) and one
        leg on every member subnet into the amphora."""
        members = sorted(want.member_subnets - {want.vip_subnet_id})
        plumbings, ports = self._legs(want, amphora, leg, members)
        vip_plumbing = plumbings.get(want.vip_subnet_id)
        if vip_plumbing is not None and want.vip_address:
            port = None
            if vip_plumbing.bound_ports:   # the amphora's own port, the VIP its allowed pair
                port = leg.port if leg is not None and leg.port else ports[want.vip_subnet_id]
            iface = self._interface(amphora.id, vip_plumbing, port)
            body = {"mac_address": iface.mac, "subnet_cidr": vip_plumbing.cidr,
                    "gateway": vip_plumbing.gateway, "mtu": vip_plumbing.mtu}
            if leg is not None:
                body["vrrp_ip"] = leg.address
                leg.interface = iface.name
            if standby:
                body["standby"] = True
            self.agents.plug_vip(ip, want.vip_address, body)
        for subnet_id in members:
            plumbing = plumbings[subnet_id]
            if plumbing is None:
                continue
            port = ports[subnet_id]
            iface = self._interface(amphora.id, plumbing, port)
            self.agents.plug_network(ip, {
                "mac_address": iface.mac, "mtu": plumbing.mtu,
                "fixed_ips": [{"ip_address": f["ip_address"], "subnet_cidr": plumbing.cidr}
                              for f in port["fixed_ips"]]})

    def _legs(self, want, amphora, leg, members):
        """({subnet: its Plumbing or None}, {subnet: the amphora's port}) of the VIP subnet
        and the member subnets; with a backend of bound ports (Neutron) the subnets are read,
        then the ports made, all at once (independent calls)."""
        network = self.context.network
        subnets = ([want.vip_subnet_id] if want.vip_subnet_id else []) + members
        found = self.each(subnets, network.plumbing) if subnets else []
        plumbings = dict(zip(subnets, found))
        made = {}
        vip_plumbing = plumbings.get(want.vip_subnet_id)
        if vip_plumbing is not None and want.vip_address and vip_plumbing.bound_ports and \
                not (leg is not None and leg.port):
            made[want.vip_subnet_id] = lambda: network.allocate_port(
                amphora.id, want.vip_subnet_id, AMP_PORT_OWNER, name=vip_port_name(amphora.id),
                **vip_port_extras(want, vip_plumbing, self.compute))
        for subnet_id in members:
            plumbing = plumbings[subnet_id]
            if plumbing is not None:
                made[subnet_id] = lambda subnet_id=subnet_id, bound=plumbing.bound_ports: \
                    network.allocate_port(amphora.id, subnet_id, AMP_PORT_OWNER,
                                          name=f"lbaas-amphora-{amphora.id}",
                                          **({"host": self.compute.host} if bound else {}))
        bound = all(p.bound_ports for p in plumbings.values() if p is not None)
        jobs = list(made.values())
        ports = self.each(jobs, lambda job: job()) if bound and jobs else [j() for j in jobs]
        return plumbings, dict(zip(made, ports))

    def _sync_security_group(self, want, lease_of=None):
        """Have the network backend open the VIP port to the listeners (allowed_cidrs), or
        carry the user's vip_sg_ids; only when that changed since this process last did it.
        A failure raises: the worker retries, then reports ERROR. lease_of: the load
        balancer whose lease is checked first."""
        if lease_of is not None:
            self.fleet.step(lease_of)
        model = want.model
        extra = [v.get("ip_address") for v in getattr(model, "additional_vips", None) or []
                 if isinstance(v, dict)]
        state = {"id": want.loadbalancer_id,
                 "vip_sg_ids": sorted(getattr(model, "vip_sg_ids", None) or []),
                 "vip_addresses": [want.vip_address, *extra],
                 "topology": want.topology,
                 "peer_port": PEER_PORT if want.topology == ACTIVE_STANDBY else None,
                 "amphorae": sorted(self.fleet.rows.ids_of(want.loadbalancer_id)),
                 "listeners": sorted(({"protocol": li.protocol, "protocol_port": li.protocol_port,
                                       "allowed_cidrs": sorted(li.allowed_cidrs or [])}
                                      for li in _listed(model.listeners)),
                                     key=lambda li: (li["protocol_port"], li["protocol"]))}
        if self._groups.get(want.loadbalancer_id) == state:
            return
        self.context.network.sync_security_group(state)
        self._groups[want.loadbalancer_id] = state

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

    def _push(self, want, amphora, ip, legs=None):
        """Push the certificate files that changed, install and (re)load the rendered config
        unless the agent already runs it with those files, then drop files no longer named."""
        lb_id = want.loadbalancer_id
        serving = [li for li in want.model.listeners if li.admin_state_up is not False] \
            if want.model.admin_state_up is not False else []
        if not serving:   # HAProxy refuses to run without a frontend: nothing should listen
            self.agents.remove(ip, lb_id)
            return
        settings = self.settings(self.info(amphora).get("max_open_files"))
        # relative to the LB directory, HAProxy's working directory on the amphora
        settings = dataclasses.replace(settings, cert_dir=AGENT_CERT_DIR)
        if legs:   # stick tables follow the VIP: both HAProxys sync them as peers
            settings = dataclasses.replace(
                settings, peer_name=peer_name(amphora.id),
                peers=tuple((peer_name(a), f"{leg.address}:{PEER_PORT}")
                            for a, leg in sorted(legs.items())))
        text = render(want.model, settings)
        files = self._certificate_files(want)
        held = self.agents.certificates(ip, lb_id)
        changed = sorted(n for n, data in files.items()
                         if held.get(n) != hashlib.md5(data).hexdigest())
        for name in changed:
            self.agents.put_certificate(ip, lb_id, name, files[name])
        # an agent that says HAProxy does not run the installed config (an upload whose
        # sender was killed before its reload) is reloaded even when that config is right
        running = {e["uuid"]: e["status"] if e.get("applied", True) else "UNAPPLIED"
                   for e in self.agents.listeners(ip)}
        if changed or self.agents.config(ip, lb_id) != text or running.get(lb_id) != "ACTIVE":
            self.agents.upload(ip, amphora.id, lb_id, text)
            self.agents.action(ip, lb_id, "reload")
            if changed:
                LOG.info("load balancer %s: amphora %s reloaded with new certificate files %s",
                         lb_id, amphora.id, ", ".join(changed))
        for name in sorted(set(held) - set(files)):   # only once the new config runs
            self.agents.delete_certificate(ip, lb_id, name)

    def _certificate_files(self, want):
        """{file name: PEM bytes} of the load balancer's TLS files, read now through the
        configured certificate manager; a reference that no longer reads is logged and
        raised (the worker retries, then reports the objects ERROR)."""
        try:
            return tls.certificate_files(want.model, certificates.get_manager(self.conf))
        except certificates.CertificateError as exc:
            LOG.error("load balancer %s: a TLS certificate reference cannot be used, nothing "
                      "pushed to its amphorae: %s (%s)", want.loadbalancer_id,
                      exc.user_message, exc.operator_message)
            raise

    def info(self, amphora):
        """The amphora agent's /info: its open-file limit, which HAProxy's connections must
        fit in, and where its scripts are (cached per amphora)."""
        if amphora.id not in self._infos:
            self._infos[amphora.id] = self.agents.info(amphora.lb_network_ip)
        return self._infos[amphora.id]

    # -- deletion -----------------------------------------------------------------------
    def _teardown(self, want):
        """Remove the load balancer's amphorae and their ports; the VIP goes with the LB row."""
        self._fence(want.loadbalancer_id, want.amphorae)
        for amphora in want.amphorae:
            self.fleet.step(want.loadbalancer_id)
            self.fleet.delete(amphora.id)
        self.fleet.delete_group(want.loadbalancer_id)   # a pair's server group, if any
        self._groups.pop(want.loadbalancer_id, None)   # the group goes with the VIP


def _listed(value):
    """A model's list field as a list (octavia-lib leaves an unset one Unset)."""
    return value if isinstance(value, list) else []

