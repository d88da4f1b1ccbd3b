"""The nova compute backend: an amphora is a Nova server booted from the amphora image.

Order of a boot (lbaas.drivers.amphora.fleet.boot calls `create` twice):

1. the management port, made in Neutron first (so the agent's certificate can name its
   address): on the availability zone's management_network or the first of
   [controller_worker] amp_boot_network_list, with amp_secgroup_list, named
   ``lbaas-amphora-mgmt-<amphora id>``, device_owner ``Octavia`` (Octavia's owner of the
   ports it makes for amphorae) until Nova takes it;
2. the server ``amphora-<amphora id>`` (Octavia's server name) on that port (and any further
   boot networks), its user data the boot document (lbaas.agent.bootdata: the agent's
   certificate, key, CA, heartbeat key and settings; a config drive when
   user_data_config_drive), tagged ``lbaas-amphora`` with the metadata
   ``lbaas_amphora_id`` (nothing secret: any user of lbaas's project reads metadata back),
   then waited for until ACTIVE, at most amp_active_retries x amp_active_wait_sec.

A pair of an ACTIVE_STANDBY load balancer goes into the server group ``octavia-lb-<lb id>``
(Octavia's name) when [nova] enable_anti_affinity. Plugging a network port is Nova's
interface attach (the port's device_id is cleared first: Nova refuses a port in use); a
failed boot removes the server and its ports and raises a BootError whose user message
says why (lbaas.drivers.amphora.compute.nova_errors). lbaas's credentials are
[service_auth]'s, Neutron is where the neutron network backend finds it, Nova where [nova]
says (catalog type compute by default), Glance in the catalog.
"""
import base64
import logging
import threading
import time

from lbaas.agent import bootdata
from lbaas.drivers.amphora.compute import (AmphoraNotFound, ComputeBackend, ComputeError,
                                           Instance, Interface, nova_errors)

LOG = logging.getLogger(__name__)
TAG = "lbaas-amphora"               # every server this backend boots
META_ID = "lbaas_amphora_id"        # server metadata: the amphora it is
PORT_OWNER = "Octavia"
DELETE_WAIT = 60                    # seconds a deleted server may take to go away


def server_name(amphora_id):
    """The Nova server of an amphora (Octavia's name)."""
    return f"amphora-{amphora_id}"


def management_port_name(amphora_id):
    """The amphora's management port in Neutron."""
    return f"lbaas-amphora-mgmt-{amphora_id}"


def group_name(loadbalancer_id):
    """The server group of a load balancer's pair (Octavia's name)."""
    return f"octavia-lb-{loadbalancer_id}"


def _clients_class():
    """neutron_api.Clients with Nova found where [nova] says (imported on first use)."""
    from lbaas.network import neutron_api

    class Clients(neutron_api.Clients):
        def service_options(self):
            options = super().service_options()
            nova = self.conf.nova
            interfaces = list(nova.valid_interfaces or []) or ["public"]
            options["compute_interface"] = interfaces[0] if len(interfaces) == 1 else interfaces
            options["compute_service_type"] = nova.service_type or "compute"
            if nova.service_name:
                options["compute_service_name"] = nova.service_name
            if nova.endpoint_override:
                options["compute_endpoint_override"] = nova.endpoint_override
            return options
    return Clients


class NovaCompute(ComputeBackend):
    """Amphorae as Nova servers on Neutron ports, in lbaas's own project."""

    agent_at_boot = True   # the image's boot step starts the agent from the boot document

    def __init__(self, conf=None, sleep=time.sleep, **_):
        """conf: lbaas's configuration ([controller_worker], [nova], [service_auth])."""
        if conf is None:
            raise ComputeError("the nova compute backend needs lbaas's configuration")
        from lbaas.conf import register_neutron_opts, register_nova_opts
        register_neutron_opts(conf)
        register_nova_opts(conf)
        self.conf, self.options, self.sleep = conf, conf.controller_worker, sleep
        self.clients = _clients_class()(conf)
        self._lock = threading.Lock()

    # -- clients -----------------------------------------------------------------------
    @property
    def _sdk(self):
        return self.clients.connection()

    def _project(self):
        return self.clients.project_id()

    def _call(self, what, fn, *args, **kwargs):
        """fn(*args, **kwargs), its openstacksdk error a BootError saying `what` failed."""
        from openstack import exceptions as os_exc
        try:
            return fn(*args, **kwargs)
        except os_exc.SDKException as exc:
            raise nova_errors.from_sdk(what, exc) from None

    # -- lookups -----------------------------------------------------------------------
    def _server(self, amphora_id):
        """The amphora's server (by name and metadata), or None."""
        found = self._call("Nova GET /servers", list, self._sdk.compute.servers(
            name=f"^{server_name(amphora_id)}$", tags=TAG))
        return next((s for s in found if (s.metadata or {}).get(META_ID) == amphora_id), None)

    def _management_port(self, amphora_id):
        """The amphora's management port in lbaas's project, or None."""
        found = self._call("Neutron GET /ports", list, self._sdk.network.ports(
            name=management_port_name(amphora_id), project_id=self._project()))
        return found[0] if found else None

    def _management_network(self, boot):
        network = (boot.management_network if boot else None) or \
            next(iter(self.options.amp_boot_network_list or ()), None)
        if not network:
            raise ComputeError("[controller_worker] amp_boot_network_list is empty: the nova "
                               "compute backend has no management network",
                               "The amphora management network is not configured.")
        return network

    def _ensure_management_port(self, amphora_id, boot):
        port = self._management_port(amphora_id)
        if port is not None:
            return port
        attrs = {"name": management_port_name(amphora_id),
                 "network_id": self._management_network(boot),
                 "device_owner": PORT_OWNER, "admin_state_up": True,
                 "description": f"management port of lbaas amphora {amphora_id}"}
        if self.options.amp_secgroup_list:
            attrs["security_group_ids"] = list(self.options.amp_secgroup_list)
        return self._call("Neutron POST /ports", self._sdk.network.create_port, **attrs)

    @staticmethod
    def _address(port):
        return port.fixed_ips[0]["ip_address"] if port and port.fixed_ips else None

    def _image_id(self, boot):
        """The image to boot: amp_image_id, else the newest active one tagged (flavor's
        amp_image_tag, else amp_image_tag) and owned by amp_image_owner_id if set."""
        if self.options.amp_image_id:
            return self.options.amp_image_id
        tag = (boot.image_tag if boot else None) or self.options.amp_image_tag
        if not tag:
            raise ComputeError("neither [controller_worker] amp_image_id nor amp_image_tag is "
                               "set", nova_errors.IMAGE_MISSING)
        query = {"tag": tag, "status": "active", "sort": "created_at:desc"}
        if self.options.amp_image_owner_id:
            query["owner"] = self.options.amp_image_owner_id
        images = self._call("Glance GET /v2/images", list, self._sdk.image.images(**query))
        if not images:
            raise nova_errors.BootError(
                f"no active Glance image tagged {tag!r}"
                + (f" owned by {self.options.amp_image_owner_id}"
                   if self.options.amp_image_owner_id else ""), nova_errors.IMAGE_MISSING)
        return images[0].id

    def _instance(self, amphora_id, server, management):
        """The Instance of a server: its management address and its other interfaces."""
        interfaces = ()
        if server is not None:
            attached = self._call("Nova GET os-interface", list,
                                  self._sdk.compute.server_interfaces(server))
            interfaces = tuple(
                Interface(name=i.port_id, mac=i.mac_addr, network=i.net_id,
                          address=(i.fixed_ips or [{}])[0].get("ip_address"),
                          port_id=i.port_id)
                for i in attached if management is None or i.port_id != management.id)
        return Instance(amphora_id, server_name(amphora_id), self._address(management),
                        interfaces)

    # -- contract ----------------------------------------------------------------------
    def create(self, amphora_id, management=None, files=None, boot=None):
        """Without files: the management port (-> an Instance naming its address). With
        files: the server booted with them and `boot`'s settings, ACTIVE; idempotent."""
        port = self._ensure_management_port(amphora_id, boot)
        server = self._server(amphora_id)
        if files is None or (server is not None and server.status == "ACTIVE"):
            return self._instance(amphora_id, server, port)
        if boot is None:
            raise ComputeError("the nova compute backend boots amphorae with a Boot")
        try:
            if server is None:
                server = self._boot(amphora_id, port, files, boot)
            server = self._wait_active(server)
        except ComputeError:
            self._remove_after_failure(amphora_id)
            raise
        return self._instance(amphora_id, server, port)

    def _remove_after_failure(self, amphora_id):
        """Delete what a failed boot left (server, ports); a failure here is only logged
        (housekeeping removes the server later)."""
        try:
            self.delete(amphora_id)
        except ComputeError as exc:
            LOG.error("amphora %s: removing what its failed boot left failed: %s", amphora_id,
                      exc.operator_message)

    def _boot(self, amphora_id, port, files, boot):
        user_data = bootdata.encode(amphora_id, files, boot.agent_port, boot.controllers,
                                    boot.heartbeat_interval)
        flavor = boot.flavor or self.options.amp_flavor_id
        if not flavor:
            raise ComputeError("[controller_worker] amp_flavor_id is not set",
                               nova_errors.FLAVOR_MISSING)
        networks = [{"port": port.id}] + [{"uuid": n} for n in
                                          (self.options.amp_boot_network_list or [])[1:]]
        attrs = {"name": server_name(amphora_id), "image_id": self._image_id(boot),
                 "flavor_id": flavor, "networks": networks,
                 "user_data": base64.b64encode(user_data).decode("ascii"),
                 "metadata": {META_ID: amphora_id}, "tags": [TAG],
                 "config_drive": bool(self.options.user_data_config_drive)}
        zone = boot.zone or self.conf.nova.availability_zone
        if zone:
            attrs["availability_zone"] = zone
        if self.options.amp_ssh_key_name:
            attrs["key_name"] = self.options.amp_ssh_key_name
        if boot.anti_affinity and boot.loadbalancer_id:
            attrs["scheduler_hints"] = {"group": self.ensure_group(boot.loadbalancer_id).id}
        server = self._call("Nova POST /servers", self._sdk.compute.create_server, **attrs)
        LOG.info("amphora %s: Nova server %s booting (image %s, flavor %s%s)", amphora_id,
                 server.id, attrs["image_id"], flavor, f", zone {zone}" if zone else "")
        return server

    def _wait_active(self, server):
        """The server once ACTIVE; BootError when it goes ERROR or the retries run out."""
        retries, wait = self.options.amp_active_retries, self.options.amp_active_wait_sec
        for attempt in range(retries):
            server = self._call("Nova GET /servers", self._sdk.compute.get_server, server.id)
            if server.status == "ACTIVE":
                return server
            if server.status == "ERROR":
                raise nova_errors.from_fault(server.id, server.fault)
            if attempt + 1 < retries:
                self.sleep(wait)
        raise nova_errors.BootError(
            f"Nova server {server.id} is {server.status}, not ACTIVE, after {retries} x "
            f"{wait} s ([controller_worker] amp_active_retries x amp_active_wait_sec)",
            nova_errors.TIMEOUT)

    def plug(self, amphora_id, network):
        """Attach the Neutron port network.port_id to the amphora's server; -> Interface."""
        if not network.port_id:
            raise ComputeError(f"the nova compute backend plugs Neutron ports only, not "
                               f"{network.bridge}")
        server = self._server(amphora_id)
        if server is None:
            raise AmphoraNotFound(f"no Nova server for amphora {amphora_id}")
        port = self._call("Neutron GET /ports", self._sdk.network.get_port, network.port_id)
        if port.device_id and port.device_id != server.id:   # Nova refuses a port in use
            self._call("Neutron PUT /ports", self._sdk.network.update_port, port,
                       device_id="", device_owner="")
        if port.device_id != server.id:
            self._call("Nova POST os-interface", self._sdk.compute.create_server_interface,
                       server, port_id=network.port_id)
        return Interface(name=port.id, mac=port.mac_address, network=port.network_id,
                         address=self._address(port), port_id=port.id)

    def unplug(self, amphora_id, interface_name):
        """Detach the port `interface_name` (its id) from the server; harmless if gone."""
        server = self._server(amphora_id)
        if server is not None:
            self._call("Nova DELETE os-interface", self._sdk.compute.delete_server_interface,
                       interface_name, server=server, ignore_missing=True)

    def spawn(self, amphora_id, argv, log_path=None):
        """Never called: the amphora starts its agent at boot (agent_at_boot)."""
        raise ComputeError("a Nova amphora starts its agent at boot; nothing is spawned in it")

    def delete(self, amphora_id):
        """Delete the server (waited for) and the ports it had and its management port."""
        server = self._server(amphora_id)
        doomed = []
        if server is not None:   # Nova clears device_id of ports it did not make: list first
            doomed = self._call("Neutron GET /ports", list, self._sdk.network.ports(
                device_id=server.id, project_id=self._project()))
            self._call("Nova DELETE /servers", self._sdk.compute.delete_server, server,
                       ignore_missing=True)
            self._call("Nova GET /servers", self._sdk.compute.wait_for_delete, server,
                       wait=DELETE_WAIT)
        management = self._management_port(amphora_id)
        if management is not None and all(p.id != management.id for p in doomed):
            doomed.append(management)
        for port in doomed:
            self._call("Neutron DELETE /ports", self._sdk.network.delete_port, port,
                       ignore_missing=True)

    def exists(self, amphora_id):
        """Whether the amphora's server exists."""
        return self._server(amphora_id) is not None

    def get(self, amphora_id):
        """The Instance of the amphora's server; AmphoraNotFound without one."""
        server = self._server(amphora_id)
        if server is None:
            raise AmphoraNotFound(f"no Nova server for amphora {amphora_id}")
        return self._instance(amphora_id, server, self._management_port(amphora_id))

    def list(self):
        """Every server this backend booted (tag and metadata), as Instances (addresses as
        Nova lists them, interfaces not read)."""
        servers = self._call("Nova GET /servers", list, self._sdk.compute.servers(tags=TAG))
        found = []
        for server in servers:
            amphora_id = (server.metadata or {}).get(META_ID)
            if amphora_id and server.name == server_name(amphora_id):
                addresses = [a["addr"] for net in (server.addresses or {}).values()
                             for a in net]
                found.append(Instance(amphora_id, server.name,
                                      addresses[0] if addresses else None))
        return found

    # -- server groups -----------------------------------------------------------------
    def _group(self, loadbalancer_id):
        groups = self._call("Nova GET /os-server-groups", list,
                            self._sdk.compute.server_groups())
        return next((g for g in groups if g.name == group_name(loadbalancer_id)), None)

    def ensure_group(self, loadbalancer_id):
        """The load balancer's server group ([nova] anti_affinity_policy), made if missing."""
        with self._lock:   # the two amphorae of a pair boot in parallel
            group = self._group(loadbalancer_id)
            if group is None:
                group = self._call("Nova POST /os-server-groups",
                                   self._sdk.compute.create_server_group,
                                   name=group_name(loadbalancer_id),
                                   policy=self.conf.nova.anti_affinity_policy)
            return group

    def delete_group(self, loadbalancer_id):
        """Delete the load balancer's server group; harmless if there is none."""
        group = self._group(loadbalancer_id)
        if group is not None:
            self._call("Nova DELETE /os-server-groups", self._sdk.compute.delete_server_group,
                       group, ignore_missing=True)
