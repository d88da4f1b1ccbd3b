"""Bring one load balancer's amphora to what the database says, then report its statuses.

Every step checks before it acts (the amphora row, the namespace, the agent, each plugged
interface, the installed config), so running a reconcile twice changes nothing and a
reconcile cut short by a crash is finished by the next one.
"""
import logging

from lbaas.core import constants as c
from lbaas.drivers import completion
from lbaas.drivers.amphora import desired
from lbaas.drivers.amphora.compute import Network
from lbaas.drivers.amphora.fleet import Fleet
from lbaas.drivers.amphora.haproxy.render import Settings, render

LOG = logging.getLogger(__name__)
AMP_PORT_OWNER = "lbaas:amphora"
FDS_PER_CONNECTION = 2   # a proxied connection holds a client and a server socket
FD_RESERVE = 1000        # listeners, health checks, sockets of the runtime API


class Reconciler:
    """Reconciles load balancers of one provider with a compute backend and the agents."""

    def __init__(self, core, compute, provider="amphora", controller=None):
        """controller: "ip:port" heartbeats go to (default: [health_manager] settings)."""
        self.core, self.conf, self.compute, self.provider = core, core.conf, compute, provider
        self.fleet = Fleet(core, compute, controller)
        self.ca, self.agents = self.fleet.ca, self.fleet.agents
        self._limits = {}   # management ip -> the agent's open-file limit

    def replace(self, loadbalancer_id, amphora_ids):
        """Tear down amphorae to be replaced (None: all); the next reconcile builds successors."""
        return self.fleet.replace(loadbalancer_id, amphora_ids)

    def replenish_spares(self):
        """Boot spare amphorae until [house_keeping] spare_amphora_pool_size are READY."""
        return self.fleet.replenish_spares()

    def delete_amphora(self, amphora_id):
        """Remove one amphora (namespace, processes, ports) and mark its row DELETED."""
        self.fleet.delete(amphora_id)

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
            amphora, took_spare = self.fleet.ensure(want)
            ip = amphora.lb_network_ip
            self._plumb(want, amphora, ip)
            self._push(want, amphora, ip)
        self._report(seen, c.ACTIVE)
        return "took-spare" if took_spare else None

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
            self.fleet.delete(amphora.id)



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
