"""What a driver is handed, seen through the driver agent's get socket (octavia-lib framing)."""
import json
import os
import socket


def fetch(get_socket, collection, object_id, timeout=10.0):
    """One get-socket round trip; -> the provider object as a dict ({} when unknown)."""
    payload = json.dumps({"object": collection, "id": object_id}).encode()
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        sock.connect(get_socket)
        sock.sendall(f"{len(payload)}\n".encode() + payload)
        header = b""
        while not header.endswith(b"\n"):
            chunk = sock.recv(1)
            if not chunk:
                raise ConnectionError("the get socket closed before replying")
            header += chunk
        size, body = int(header), b""
        while len(body) < size:
            chunk = sock.recv(size - len(body))
            if not chunk:
                raise ConnectionError("the get socket closed mid-reply")
            body += chunk
    return json.loads(body)


def available(bench):
    """The get socket's path when lbaas serves one, else None."""
    path = getattr(bench.lbaas, "get_socket", None) if getattr(bench, "lbaas", None) else None
    return path if path and os.path.exists(path) else None


# Documented attributes (provider-drivers.md section 3.2) the suite compares with the API.
LB_FIELDS = ("loadbalancer_id", "project_id", "vip_address", "vip_subnet_id", "admin_state_up",
             "listeners", "pools")
LISTENER_FIELDS = ("listener_id", "loadbalancer_id", "protocol", "protocol_port",
                   "default_pool_id", "connection_limit", "project_id")
POOL_FIELDS = ("pool_id", "loadbalancer_id", "protocol", "lb_algorithm", "members",
               "healthmonitor", "project_id")
MEMBER_FIELDS = ("member_id", "pool_id", "address", "protocol_port", "weight", "backup",
                 "admin_state_up", "project_id")
MONITOR_FIELDS = ("healthmonitor_id", "pool_id", "type", "delay", "timeout", "max_retries",
                  "max_retries_down", "project_id")


def missing(obj, fields, what):
    """Documented fields absent from a driver object, as messages."""
    return [f"{what} lacks {f!r}" for f in fields if f not in obj]
