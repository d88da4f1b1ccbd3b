"""The Southbound database, read only: Service_Monitor rows, followed with ovsdbapp row events.

ovn-northd creates one Service_Monitor row per health-checked backend (ip, port, protocol,
logical_port); ovn-controller writes its `status` (online, offline, error). Every change
calls `on_change()`, and so does every (re)connection, once the IDL holds the whole table.
"""
from ovsdbapp import event as ovsdb_event
from ovsdbapp.backend.ovs_idl import command
from ovsdbapp.backend.ovs_idl import event as row_event

from lbaas.drivers.ovn import nb

TABLE = "Service_Monitor"
_RANK = {"offline": 3, "error": 2, "online": 1}


class ServiceMonitorChanged(row_event.RowEvent):
    """Any create, update or delete of a Service_Monitor row."""

    def __init__(self, callback):
        super().__init__((self.ROW_CREATE, self.ROW_UPDATE, self.ROW_DELETE), TABLE, None)
        self.callback = callback
        self.event_name = "ServiceMonitorChanged"

    def run(self, event, row, old):
        """Tell the driver that member health may have changed."""
        self.callback()


class EventIdl(nb.WatchedIdl):
    """An IDL that hands every row change to ovsdbapp's RowEventHandler."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.notify_handler = ovsdb_event.RowEventHandler()

    def notify(self, event, row, updates=None):
        """Dispatch a row change to the watched events."""
        self.notify_handler.notify(event, row, updates)


class ReadStatuses(command.ReadOnlyCommand):
    """{(ip, port, protocol): status} of every Service_Monitor row; the worst status wins."""

    def run_idl(self, txn):
        found = {}
        for row in self.api.tables[TABLE].rows.values():
            status = row.status[0] if row.status else None
            protocol = row.protocol[0] if row.protocol else "tcp"
            key = (row.ip, int(row.port), protocol)
            if status and _RANK[status] >= _RANK.get(found.get(key), 0):
                found[key] = status
        self.result = found


class _Api:
    """The minimum of an ovsdbapp API the read-only command needs."""

    def __init__(self, connection):
        self.ovsdb_connection = connection
        self.tables = connection.idl.tables


class Southbound:
    """A read-only view of Service_Monitor that calls `on_change` when it changes."""

    def __init__(self, remote, timeout, on_change):
        self.connection = nb.connect(remote, "OVN_Southbound", timeout, tables=[TABLE],
                                     on_synced=on_change, idl_class=EventIdl)
        self.connection.idl.notify_handler.watch_event(ServiceMonitorChanged(on_change))
        self.api = _Api(self.connection)

    def statuses(self):
        """{(ip, port, protocol): "online" | "offline" | "error"} as ovn-controller reports."""
        return ReadStatuses(self.api).execute(check_error=True)

    def stop(self):
        """Close the connection and its event thread."""
        self.connection.stop()
        self.connection.idl.notify_handler.shutdown()
