"""The driver side of the sockets: one DriverLibrary, on the paths the driver agent publishes."""
import os
import threading

from octavia_lib.api.drivers import driver_lib

_lock = threading.Lock()
_library = None


def socket_paths():
    """The status, stats and get socket paths: lbaas's environment, else octavia-lib's defaults."""
    return dict(
        status_socket=os.environ.get("LBAAS_DRIVER_AGENT_STATUS_SOCKET",
                                     driver_lib.DEFAULT_STATUS_SOCKET),
        stats_socket=os.environ.get("LBAAS_DRIVER_AGENT_STATS_SOCKET",
                                    driver_lib.DEFAULT_STATS_SOCKET),
        get_socket=os.environ.get("LBAAS_DRIVER_AGENT_GET_SOCKET",
                                  driver_lib.DEFAULT_GET_SOCKET))


def library():
    """The process's DriverLibrary, made on first use (it waits for the sockets to exist)."""
    global _library
    with _lock:
        if _library is None:
            _library = driver_lib.DriverLibrary(**socket_paths())
        return _library
