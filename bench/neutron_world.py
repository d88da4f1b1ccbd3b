"""The Neutron modes' world: a user's networks in a real Neutron, namespaces on its ports,
and `lbaas serve` on that cloud (bench.amphora_neutron; bench.ovn_neutron: `OvnOnNeutron`).

On a bench.cloud cloud (Keystone, Neutron ML2/OVN on a full OVN stack), user alpha-member
makes a VIP network and a member network (random 10.x.y.0/24 subnets, no DHCP) joined by a
router, and a security group admitting the members' port. A client namespace sits on a
bound port of the VIP network, member namespaces on bound ports of the member network
(each running the HTTP backend of testbed/backends.py on MEMBER_PORT). Calls to lbaas carry
a Keystone token. Everything here goes with the cloud (its OVN stack removes the
namespaces); `NeutronAmphorae` removes its amphorae and management bridge itself.
"""
import concurrent.futures
import os
import secrets
import textwrap
import time

from bench.client import Client, http_status
from bench.harness import ROOT, log
from bench.world import Instance, amp_ns
from lbaas.conf.logs import default_log_levels
from testbed.backends import setns
from testbed.cloud.lbaas_on_neutron import amphora_on_br_int, config_text
from testbed.cloud.neutron_dataplane import bound_vm, host_id
from testbed.host import free_subnets
from testbed.service import Service, clean_env, free_port, venv_command

USER, ADMIN = "alpha-member", "cloud-admin"
MEMBER_PORT = 8080      # bench.world.STATIC_PORT too: the amphora graph's member port


class TokenClient(Client):
    """bench.client.Client sending a Keystone token with every call."""

    def __init__(self, port, token, timeout=30.0):
        super().__init__(port, timeout)
        self.token = token

    def raw(self, method, path, body=None, extra_headers=None):
        """Client.raw with X-Auth-Token."""
        return super().raw(method, path, body, {"X-Auth-Token": self.token,
                                                **(extra_headers or {})})


class NeutronNetworks:
    """Alpha's VIP and member networks, a router, a client and `members` member namespaces."""

    def __init__(self, cloud, prefix, members=2):
        self.cloud, self.prefix, self.members_wanted = cloud, prefix, members
        self.token = secrets.token_hex(2)
        self.client = None
        self.members = []
        self._probe = None

    def build(self):
        """Create the networks, router, group and namespaces; wait until their ports are up."""
        admin, alpha = self.cloud.connection(ADMIN), self.cloud.connection(USER)
        project = self.cloud.project_id("alpha")
        router = alpha.network.create_router(name=f"{self.prefix}-router")
        made = {}
        for tag, cidr in zip(("vip", "mem"), free_subnets(2)):
            net = alpha.network.create_network(name=f"{self.prefix}-{tag}")
            sub = alpha.network.create_subnet(network_id=net.id, ip_version=4, cidr=str(cidr),
                                              enable_dhcp=False, name=f"{self.prefix}-{tag}")
            alpha.network.add_interface_to_router(router, subnet=sub.id)
            made[tag] = (net, sub)
        self.vip_cidr, self.member_cidr = made["vip"][1].cidr, made["mem"][1].cidr
        self.vip_subnet_id, self.member_subnet_id = made["vip"][1].id, made["mem"][1].id
        web = alpha.network.create_security_group(name=f"{self.prefix}-web")
        alpha.network.create_security_group_rule(
            security_group_id=web.id, direction="ingress", ethertype="IPv4", protocol="tcp",
            port_range_min=MEMBER_PORT, port_range_max=MEMBER_PORT)
        name = f"{self.prefix}{self.token}"
        self.client = bound_vm(self.cloud, admin, f"{name}c", *made["vip"], project,
                               f"{name}-client")
        self.members = [bound_vm(self.cloud, admin, f"{name}m{k}", *made["mem"], project,
                                 f"{name}-member{k}", [web.id])
                        for k in range(1, self.members_wanted + 1)]
        for vm in [self.client, *self.members]:
            vm.wait_active(admin)
        for vm in self.members:
            vm.start_tcp(MEMBER_PORT)
        self._probe = concurrent.futures.ThreadPoolExecutor(
            1, initializer=setns, initargs=(self.client.netns,))
        log(f"neutron networks: vip {self.vip_cidr}, member {self.member_cidr}; client "
            f"{self.client.ip}, members {self.member_ips}")
        return self

    @property
    def member_ips(self):
        return [vm.ip for vm in self.members]

    @property
    def backend_ips(self):
        """bench.world.Network's name for the members' addresses (Instance.graph)."""
        return self.member_ips

    def in_client(self, fn, *args):
        """fn(*args) run in the client namespace (one thread that lives there); its result."""
        return self._probe.submit(fn, *args).result()

    def close(self):
        """Let the client namespace's thread end (the namespaces go with the cloud)."""
        if self._probe is not None:
            self._probe.shutdown(wait=True)


def _generic(path):
    """A Neutron path with its ids replaced by {id} (calls of one kind counted together)."""
    return "/".join("{id}" if len(part) == 36 and part.count("-") == 4 else part
                    for part in path.split("/"))


def wait_http_200(vip, port, deadline):
    """GET http://vip:port/ on a new connection every 5 ms (250 ms timeout each) until it
    answers 200, as bench.amphora's first-response probe does."""
    while http_status(vip, port, timeout=0.25) != 200:
        if time.perf_counter() > deadline:
            raise TimeoutError(f"{vip}:{port} did not answer 200 in time")
        time.sleep(0.005)


CALL_LOGGER = "lbaas.network.neutron_api"   # its DEBUG line per Neutron call is counted
CALL_LINE = "Neutron call "


class NeutronAmphorae(Instance):
    """bench.world.Instance on a Neutron cloud: the amphora provider with the neutron network
    backend, amphora legs on br-int ports; the user's calls with alpha-member's token, the
    amphora API's with cloud-admin's."""

    def __init__(self, cloud, networks, root, label, spare):
        self.cloud = cloud
        self.mgmt_bridge = f"lbn{secrets.token_hex(3)}"
        (self.mgmt_cidr,) = free_subnets(1)
        super().__init__(networks, root, label, spare)

    def config_text(self):
        stack = self.cloud.stack
        return config_text(self.cloud, textwrap.dedent(f"""
            [DEFAULT]
            state_path = {self.state}
            default_log_levels = {",".join(default_log_levels() + [CALL_LOGGER + "=DEBUG"])}

            [api_settings]
            bind_host = 127.0.0.1
            bind_port = {self.port}

            [haproxy_amphora]
            default_connection_limit = 2000
            """) + amphora_on_br_int(stack, self.mgmt_bridge, self.mgmt_cidr, host_id(),
                                    self.spare)
            + f"\n[compute_local]\nstate_dir = {self.amphora_dir}\n")

    def start(self):
        """lbaas serve on the cloud; clients with the user's and the admin's tokens."""
        self.serve(f"lbaas serve ({self.label}, neutron)", 90)
        self.client = TokenClient(self.port, self.cloud.token(USER))
        self.admin = TokenClient(self.port, self.cloud.token(ADMIN))
        self.vip_subnet, self.member_subnet = self.net.vip_subnet_id, self.net.member_subnet_id
        log(f"lbaas serve ({self.label}, neutron, spare pool {self.spare}) on "
            f"127.0.0.1:{self.port}, pid {self.proc.pid}")
        return self

    def log_mark(self):
        """Where the lbaas serve log ends now (for neutron_calls)."""
        return os.path.getsize(self.log_path)

    def neutron_calls(self, mark):
        """{"METHOD /path": [count, total ms]} of the Neutron calls logged since mark."""
        calls = {}
        with open(self.log_path, errors="replace") as fh:
            fh.seek(mark)
            for line in fh:
                at = line.find(CALL_LINE)
                if at < 0:
                    continue
                head, _, tail = line[at + len(CALL_LINE):].rpartition(": ")
                method, path = head.split(" ")[:2]
                key = f"{method} {_generic(path)}"
                entry = calls.setdefault(key, [0, 0.0])
                entry[0] += 1
                entry[1] += float(tail.split(" in ")[1].split(" ")[0])
        return calls

    def amphorae(self, **query):
        """GET /v2/octavia/amphorae as the cloud's admin (the amphora API is admin-only)."""
        qs = "&".join(f"{k}={v}" for k, v in query.items())
        body, _ = self.admin.call("GET", "/v2/octavia/amphorae" + (f"?{qs}" if qs else ""))
        amps = body["amphorae"]
        self.seen_amphorae |= {a["id"] for a in amps}
        return amps

    def scrub(self):
        """Delete this instance's amphorae (their br-int ports too), then its mgmt bridge."""
        from pyroute2 import IPRoute
        try:
            if os.path.isdir(self.amphora_dir):
                from lbaas.drivers.amphora.compute.local import LocalCompute
                stack = self.cloud.stack
                compute = LocalCompute(self.mgmt_bridge, str(self.mgmt_cidr), self.amphora_dir,
                                       integration_bridge="br-int",
                                       ovs_db=f"unix:{stack.db_sock}",
                                       ovs_netns=stack.hv_netns, host=host_id())
                self.seen_amphorae |= {e[:-5] for e in os.listdir(self.amphora_dir)
                                       if e.endswith(".json")}
                for inst in compute.list():
                    compute.delete(inst.amphora_id)
                for amphora_id in self.seen_amphorae:
                    compute.delete(amphora_id)
        finally:
            with IPRoute() as ipr:
                for index in ipr.link_lookup(ifname=self.mgmt_bridge):
                    ipr.link("del", index=index)

    def leftovers(self):
        """Our amphora namespaces and management bridge, if still there."""
        from pyroute2 import IPRoute, netns
        spaces = set(netns.listnetns())
        found = [f"namespace {amp_ns(a)}" for a in self.seen_amphorae if amp_ns(a) in spaces]
        with IPRoute() as ipr:
            if ipr.link_lookup(ifname=self.mgmt_bridge):
                found.append(f"link {self.mgmt_bridge}")
        return found


class OvnOnNeutron:
    """`lbaas serve` with provider ovn and the neutron network backend on the cloud's OVN
    databases (Neutron's NB/SB), Keystone auth, SQLite; `client` calls as alpha-member."""

    def __init__(self, cloud, root, sync_interval):
        self.cloud, self.root = cloud, str(root)
        self.sync_interval = sync_interval
        self.port = free_port()
        self.service = self.client = None

    def start(self):
        """Write the config and start lbaas serve."""
        stack = self.cloud.stack
        os.makedirs(self.root, exist_ok=True)
        conf = os.path.join(self.root, "lbaas.conf")
        with open(conf, "w") as fh:
            fh.write(config_text(self.cloud, textwrap.dedent(f"""
                [DEFAULT]
                state_path = {self.root}

                [api_settings]
                bind_host = 127.0.0.1
                bind_port = {self.port}
                enabled_provider_drivers = ovn:The OVN driver
                default_provider_driver = ovn

                [database]
                connection = sqlite:///{self.root}/lbaas.sqlite

                [ovn]
                ovn_nb_connection = {stack.nb}
                ovn_sb_connection = {stack.sb}
                sync_interval = {self.sync_interval}
                """)))
        env = clean_env(PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1", PYTHONWARNINGS="ignore")
        self.service = Service("lbaas serve (ovn, neutron)",
                               [venv_command("lbaas"), "--config-file", conf, "serve"],
                               self.port, os.path.join(self.root, "lbaas-serve.log"),
                               env=env, cwd=self.root).start(timeout=90)
        self.client = TokenClient(self.port, self.cloud.token(USER))
        log(f"lbaas serve (ovn on neutron) on 127.0.0.1:{self.port}")
        return self

    def delete_all(self, timeout=60.0):
        """DELETE ?cascade every load balancer of the user; wait until each is gone."""
        body, _ = self.client.call("GET", "/v2/lbaas/loadbalancers")
        ids = [lb["id"] for lb in body["loadbalancers"]]
        for lb_id in ids:
            self.client.call("DELETE", f"/v2/lbaas/loadbalancers/{lb_id}?cascade=true",
                             expect=(204, 404))
        deadline = time.monotonic() + timeout
        while ids and time.monotonic() < deadline:
            ids = [i for i in ids if self.client.raw("GET", f"/v2/lbaas/loadbalancers/{i}")[0]
                   != 404]
            time.sleep(0.05)
        if ids:
            raise TimeoutError(f"load balancers not deleted: {ids}")

    def stop(self):
        """Stop lbaas serve."""
        if self.service is not None:
            self.service.stop()
