"""The agent itself: GET / (its API version), GET /1.0/info and GET /1.0/details."""
import os
import resource
import socket

import flask

from lbaas.agent.api import common

blp = flask.Blueprint("info", __name__)


@blp.get("/")
def version():
    """The API version this agent speaks."""
    return {"api_version": common.API_VERSION}


@blp.get(f"{common.PREFIX}/info")
def info():
    """Host name, HAProxy version, open-file limit and the keepalived scripts."""
    return {"hostname": socket.gethostname(), "haproxy_version": common.haproxy().version(),
            "api_version": common.API_VERSION,
            "max_open_files": resource.getrlimit(resource.RLIMIT_NOFILE)[0],
            **common.keepalived().scripts()}


@blp.get(f"{common.PREFIX}/details")
def details():
    """The host, its load, topology and VRRP role, its load balancers, the last heartbeat,
    and the highest lease generation seen per load balancer."""
    manager, vrrp, heartbeat = common.haproxy(), common.keepalived(), common.heartbeat()
    lb_ids = manager.lb_ids()
    return {"hostname": socket.gethostname(), "haproxy_version": manager.version(),
            "api_version": common.API_VERSION, "cpu_count": os.cpu_count(),
            "load": list(os.getloadavg()),
            "topology": "SINGLE" if vrrp.status() is None else "ACTIVE_STANDBY",
            "active": vrrp.status() is None or vrrp.holds_vip(),
            "vrrp_status": vrrp.status(), "vrrp_state": vrrp.state(),
            "listeners": lb_ids,
            "haproxy_count": sum(1 for lb in lb_ids if manager.pid(lb) is not None),
            "heartbeat": heartbeat.snapshot() if heartbeat else None,
            "fences": flask.current_app.extensions["fences"].snapshot()}
