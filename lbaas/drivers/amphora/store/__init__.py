"""The amphora driver's rows: amphorae, their liveness, and per-amphora listener counters.

The only part of the driver that touches the database. Every query the fleet, the VRRP
pair, the health manager, the failover scanner and housekeeping make is here, on the tables
the in-tree driver port lends (lbaas.core.port.Tables) and through its database's sessions;
callers get AmphoraRecord copies, never rows. One module per job:

- rows: amphora rows as the fleet and the pair change them;
- heartbeats: what a heartbeat leaves (liveness, counters) and what the failover scanner
  reads and claims;
- upkeep: what housekeeping purges and rotates;
- leases: which worker may reconcile a load balancer, and the registry of live workers;
- jobs: jobs several processes share, done one at a time (the spare pool's top-up).
"""
from lbaas.drivers.amphora.store.heartbeats import Heartbeats
from lbaas.drivers.amphora.store.jobs import Jobs
from lbaas.drivers.amphora.store.leases import Lease, LeaseLost, Leases, Registry
from lbaas.drivers.amphora.store.rows import AmphoraRecord, Amphorae
from lbaas.drivers.amphora.store.upkeep import Upkeep

__all__ = ["AmphoraRecord", "Amphorae", "Heartbeats", "Jobs", "Lease", "LeaseLost", "Leases",
           "Registry", "Upkeep"]
