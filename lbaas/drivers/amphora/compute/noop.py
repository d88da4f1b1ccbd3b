"""The noop compute backend: amphorae kept in memory, for tests of the worker alone and,
with the noop agent client and network backend, for the amphora provider's API tests."""
import ipaddress
import itertools
import threading
import time

from lbaas.drivers.amphora.compute import (AmphoraNotFound, ComputeBackend, ComputeError,
                                           Instance, Interface)


class NoopCompute(ComputeBackend):
    """Accepts every call and remembers amphorae in a dict; nothing real is created."""

    def __init__(self, management_cidr="198.51.100.0/24", boot_delay=0.0, **_):
        """boot_delay: seconds creating an amphora takes ([amphora_compute] noop_boot_delay)."""
        self.boot_delay = boot_delay
        self._network = ipaddress.ip_network(management_cidr)
        self._next = 2   # host 1 is the management gateway
        self._lock = threading.Lock()
        self._macs = itertools.count(1)
        self._amps = {}
        self._pids = itertools.count(100000)

    def _free_address(self):
        """The next management address no recorded amphora holds (addresses are reused)."""
        taken = {inst.management_ip for inst in self._amps.values()}
        size = self._network.num_addresses
        for _ in range(size):
            candidate = self._network.network_address + self._next
            self._next = self._next + 1 if self._next + 2 < size else 2
            if str(candidate) not in taken:
                return str(candidate)
        raise ComputeError(f"no free management address left in {self._network}")

    def create(self, amphora_id, management=None, files=None):
        """Record the amphora with a free management address (files are not kept), after
        boot_delay seconds the first time."""
        if self.boot_delay and amphora_id not in self._amps:
            time.sleep(self.boot_delay)
        with self._lock:
            if amphora_id not in self._amps:
                ip = management.address.split("/")[0] if management and management.address \
                    else self._free_address()
                self._amps[amphora_id] = Instance(amphora_id, f"amp-{amphora_id[:8]}", ip)
            return self._amps[amphora_id]

    def plug(self, amphora_id, network):
        """Record an interface on `network`."""
        inst = self.get(amphora_id)
        n = next(self._macs)
        iface = Interface(f"eth{len(inst.interfaces) + 1}", f"02:00:00:00:{n >> 8:02x}:{n & 255:02x}",
                          network.bridge, network.address)
        self._amps[amphora_id] = Instance(inst.amphora_id, inst.name, inst.management_ip,
                                          inst.interfaces + (iface,))
        return iface

    def unplug(self, amphora_id, interface_name):
        """Forget an interface."""
        inst = self._amps.get(amphora_id)
        if inst:
            kept = tuple(i for i in inst.interfaces if i.name != interface_name)
            self._amps[amphora_id] = Instance(inst.amphora_id, inst.name, inst.management_ip, kept)

    def spawn(self, amphora_id, argv, log_path=None):
        """Pretend to start a process; returns a fake pid."""
        self.get(amphora_id)
        return next(self._pids)

    def delete(self, amphora_id):
        """Forget the amphora."""
        self._amps.pop(amphora_id, None)

    def exists(self, amphora_id):
        """Whether the amphora was created and not deleted."""
        return amphora_id in self._amps

    def get(self, amphora_id):
        """The recorded Instance."""
        try:
            return self._amps[amphora_id]
        except KeyError:
            raise AmphoraNotFound(f"no amphora {amphora_id} in the noop compute backend") from None

    def list(self):
        """Every recorded Instance."""
        return list(self._amps.values())
