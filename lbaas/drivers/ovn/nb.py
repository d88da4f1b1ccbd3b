"""The Northbound database: the connection, and the one command that converges a load balancer.

`Converge` runs inside an ovsdbapp transaction, in the connection's thread, against the
IDL's current copy of the database: it finds every Load_Balancer row carrying the load
balancer's id in external_ids, creates, updates or deletes rows until they are the Plan
(deleting duplicates of a row), rewrites health checks that differ, and attaches each row to
exactly the switches and routers of the Plan. Running it twice changes nothing the second
time. Rows without lbaas's external_ids are never touched.

Several processes (the API processes of one deployment each run an OVN worker) may converge
one load balancer at the same moment. A transaction that inserts a row verifies the
`load_balancer` column of every datapath it attaches to, which any other insert for the same
datapath changes: the second of two racing inserts gets TRY_AGAIN, and ovsdbapp runs the
command again on the updated copy, where the first one's row is found and reused. So no
duplicate is ever written (a load balancer planned on no datapath at all has nothing to
verify; the sync deletes a duplicate of such a row).
"""
import logging

from ovsdbapp.backend.ovs_idl import command, connection
from ovsdbapp.schema.ovn_northbound import impl_idl

from lbaas.drivers.ovn import plan as rows_plan

LOG = logging.getLogger(__name__)
DATAPATHS = ("Logical_Switch", "Logical_Router")


class WatchedIdl(connection.OvsdbIdl):
    """An IDL that calls `on_synced()` each time it has (re)loaded the whole database."""

    on_synced = None

    def run(self):
        """Process messages; call on_synced when the monitor (re)starts."""
        before = self.state
        result = super().run()
        if self.state == self.IDL_S_MONITORING and before != self.IDL_S_MONITORING \
                and self.on_synced is not None:
            self.on_synced()
        return result


def connect(remote, schema, timeout, tables=None, on_synced=None, idl_class=WatchedIdl):
    """An ovsdbapp Connection to `remote` (unix:... or tcp:...), started."""
    idl = idl_class.from_server(remote, schema, helper_tables=tables)
    idl.on_synced = on_synced
    conn = connection.Connection(idl=idl, timeout=timeout)
    conn.start()
    return conn


class Northbound:
    """The OVN Northbound API of one process (ovsdbapp), with lbaas's commands."""

    def __init__(self, remote, timeout, on_synced=None):
        self.connection = connect(remote, "OVN_Northbound", timeout, on_synced=on_synced)
        # ovsdbapp keeps the connection on the API *class*; a class per instance lets one
        # process hold several connections (tests, a restarted worker).
        api_class = type("NorthboundApi", (impl_idl.OvnNbApiIdlImpl,), {})
        self.api = api_class(self.connection)

    def converge(self, plan):
        """Make the NB rows of plan.loadbalancer_id what `plan` says (None: delete them)."""
        with self.api.transaction(check_error=True) as txn:
            txn.add(Converge(self.api, plan))

    def loadbalancer_ids(self):
        """Ids of every load balancer that has rows in NB (read under the connection lock)."""
        return ReadIds(self.api).execute(check_error=True)

    def sources(self, loadbalancer_id=None, exclude=None):
        """Health-check source addresses named by Load_Balancer ip_port_mappings: of one
        load balancer's rows, or of every row (anyone's, not only lbaas's) but `exclude`'s."""
        return ReadSources(self.api, loadbalancer_id, exclude).execute(check_error=True)

    def svc_monitor_mac(self):
        """The MAC ovn-northd gives health-check probes (NB_Global options), or None."""
        return ReadMonitorMac(self.api).execute(check_error=True)

    def stop(self):
        """Close the connection."""
        self.connection.stop()


class ReadMonitorMac(command.ReadOnlyCommand):
    """NB_Global options:svc_monitor_mac (ovn-northd sets it), or None."""

    def run_idl(self, txn):
        rows = list(self.api.tables["NB_Global"].rows.values())
        self.result = (rows[0].options.get("svc_monitor_mac") or None) if rows else None


class ReadIds(command.ReadOnlyCommand):
    """The set of lbaas load balancer ids found in Load_Balancer external_ids."""

    def run_idl(self, txn):
        self.result = {row.external_ids[rows_plan.LB_KEY]
                       for row in self.api.tables["Load_Balancer"].rows.values()
                       if rows_plan.LB_KEY in row.external_ids}


def mapping_source(value):
    """The source address of an ip_port_mappings value ("lsp:ip" or "lsp:[ipv6]")."""
    _, _, rest = value.partition(":")
    return rest[1:].partition("]")[0] if rest.startswith("[") else rest.partition(":")[0]


class ReadSources(command.ReadOnlyCommand):
    """The source addresses of ip_port_mappings (see Northbound.sources)."""

    def __init__(self, api, loadbalancer_id, exclude):
        super().__init__(api)
        self.loadbalancer_id, self.exclude = loadbalancer_id, exclude

    def run_idl(self, txn):
        found = set()
        for row in self.api.tables["Load_Balancer"].rows.values():
            owner = row.external_ids.get(rows_plan.LB_KEY)
            if (self.loadbalancer_id is not None and owner != self.loadbalancer_id) or \
                    (self.exclude is not None and owner == self.exclude):
                continue
            found.update(mapping_source(v) for v in row.ip_port_mappings.values())
        self.result = found


def _lsp_name(switch, address):
    """The name of the switch port whose addresses hold `address`, or None."""
    for port in switch.ports:
        for entry in list(port.addresses) + list(port.dynamic_addresses):
            if address in entry.split()[1:]:
                return port.name
    return None


def _mapping_value(lsp, source):
    return f"{lsp}:[{source}]" if ":" in source else f"{lsp}:{source}"


class Converge(command.BaseCommand):
    """Bring one load balancer's Load_Balancer rows to a Plan (or delete them: plan.rows = {})."""

    def __init__(self, api, plan):
        super().__init__(api)
        self.plan = plan

    def run_idl(self, txn):
        tables, self._txn = self.api.tables, txn
        lb_id = self.plan.loadbalancer_id
        for table, names in (("Logical_Switch", self.plan.switches),
                             ("Logical_Router", self.plan.routers)):
            missing = set(names) - {r.name for r in tables[table].rows.values()}
            if missing and self.plan.rows:
                raise LookupError(f"{table} {', '.join(sorted(missing))} (named by the network "
                                  f"backend) is not in the Northbound database")
        found = {}
        for row in list(tables["Load_Balancer"].rows.values()):
            if row.external_ids.get(rows_plan.LB_KEY) == lb_id:
                found.setdefault(row.name, []).append(row)
        kept = []
        for name, rows in found.items():
            want = self.plan.rows.get(name)
            extra = rows if want is None else rows[1:]
            for row in extra:      # gone from the plan, or a duplicate of a kept row
                self._detach(row, ())
                row.delete()
        switches = {r.name: r for r in tables["Logical_Switch"].rows.values()}
        if set(self.plan.rows) - set(found):
            self._guard_inserts()
        for name, want in self.plan.rows.items():
            rows = found.get(name)
            row = rows[0] if rows else txn.insert(tables["Load_Balancer"])
            self._set(row, want, switches)
            kept.append(row)
        for row in kept:
            self._detach(row, self.plan.switches | self.plan.routers)
            self._attach(row, "Logical_Switch", self.plan.switches)
            self._attach(row, "Logical_Router", self.plan.routers)
        self.result = len(kept)

    def _guard_inserts(self):
        """Make this transaction fail with TRY_AGAIN if another client attached a load
        balancer to one of our datapaths meanwhile; ovsdbapp then runs the command again on
        the updated copy, which finds that client's row instead of inserting a second one."""
        for table, names in (("Logical_Switch", self.plan.switches),
                             ("Logical_Router", self.plan.routers)):
            for datapath in self.api.tables[table].rows.values():
                if datapath.name in names:
                    datapath.verify("load_balancer")

    @staticmethod
    def _update(row, column, value):
        if getattr(row, column, None) != value:
            setattr(row, column, value)

    def _set(self, row, want, switches):
        self._update(row, "name", want.name)
        self._update(row, "protocol", [want.protocol])
        self._update(row, "vips", want.vips)
        self._update(row, "selection_fields", want.selection_fields)
        self._update(row, "options", want.options)
        self._update(row, "external_ids", want.external_ids)
        mappings = {}
        for address, (switch_name, source) in want.mappings.items():
            switch = switches.get(switch_name)
            lsp = _lsp_name(switch, address) if switch is not None else None
            if lsp is None:
                LOG.warning("no port of switch %s holds member address %s: it is not health "
                            "checked", switch_name, address)
                continue
            mappings[address] = _mapping_value(lsp, source)
        self._update(row, "ip_port_mappings", mappings)
        self._health_check(row, want.health_check)

    def _health_check(self, row, want):
        current = list(getattr(row, "health_check", []))
        same = want is not None and len(current) == 1 and \
            current[0].vip == want["vip"] and dict(current[0].options) == want["options"] \
            and dict(current[0].external_ids) == want["external_ids"]
        if same or (want is None and not current):
            return
        for check in current:
            row.delvalue("health_check", check)
            check.delete()
        if want is not None:
            check = self.api.tables["Load_Balancer_Health_Check"]
            new = self._insert(check)
            new.vip, new.options, new.external_ids = \
                want["vip"], want["options"], want["external_ids"]
            row.addvalue("health_check", new)

    def _insert(self, table):
        return self._txn.insert(table)

    def _detach(self, row, allowed):
        """Remove the row from every switch and router not named in `allowed`."""
        for table in DATAPATHS:
            for datapath in self.api.tables[table].rows.values():
                if datapath.name not in allowed and \
                        any(lb.uuid == row.uuid for lb in datapath.load_balancer):
                    datapath.delvalue("load_balancer", row)

    def _attach(self, row, table, names):
        for datapath in self.api.tables[table].rows.values():
            if datapath.name in names and \
                    not any(lb.uuid == row.uuid for lb in datapath.load_balancer):
                datapath.addvalue("load_balancer", row)
