"""The noop amphora agent client: every agent answers at once and runs nothing.

With the noop compute and network backends it lets the amphora provider's whole control
flow run with no namespace, process or bridge: amphora rows are made, claimed, failed over
and deleted, configurations are rendered and "pushed" (kept here in memory), and the admin
amphora API has real rows to show. It is what upstream Octavia's `amphora_noop_driver` is
to its API tests. Nothing measures health: no heartbeats are expected (amphorae are not
watched), and operating statuses stay as the API set them (`measures_health = False`).
Listener protocols and monitor types real amphorae here cannot serve yet (UDP, SCTP, PING)
are accepted, as upstream's noop job accepts them; the API still validates them.
"""
import collections
import hashlib
import threading

API = "1.0"
MAX_ENTRIES = 10000   # configurations and certificate files remembered; the oldest go


class NoopAgentClient:
    """Answers the agent API 1.0 calls of AgentClient from memory."""

    measures_health = False   # no heartbeat ever arrives from a noop agent
    unserved = {}             # it serves nothing, so it lacks nothing (UDP, SCTP, PING)

    def __init__(self, *_args, **_kwargs):
        self._lock = threading.Lock()
        # (ip, lb id or "vrrp", kind, name) -> the config text, a certificate file's bytes,
        # or "ACTIVE" (kind "state": HAProxy or keepalived runs)
        self._files = collections.OrderedDict()

    def _put(self, key, value):
        with self._lock:
            self._files[key] = value
            self._files.move_to_end(key)
            while len(self._files) > MAX_ENTRIES:
                self._files.popitem(last=False)

    def _get(self, key):
        with self._lock:
            return self._files.get(key)

    def _states(self, ip):
        """The load balancers running on the amphora at ip ("vrrp": keepalived)."""
        with self._lock:
            return [k[1] for k in self._files if k[0] == ip and k[2] == "state"]

    def _drop(self, match):
        with self._lock:
            for key in [k for k in self._files if match(k)]:
                del self._files[key]

    def fence(self, ip, loadbalancer_id, generation):
        """Noop agents keep no lease generations."""

    def unfence(self, loadbalancer_id):
        """Noop agents keep no lease generations."""

    def ready(self, ip, timeout=1.0):
        """Every noop agent answers."""
        return True

    def info(self, ip):
        """An agent's /info, with the limits and script paths a real one reports."""
        return {"hostname": f"noop-{ip}", "haproxy_version": "noop", "api_version": API,
                "max_open_files": 1048576, "vrrp_check_script": "/bin/true",
                "vrrp_notify_script": "/bin/true"}

    def config(self, ip, lb_id):
        """The HAProxy config last uploaded for the load balancer, or None."""
        return self._get((ip, lb_id, "haproxy", ""))

    def upload(self, ip, amphora_id, lb_id, text):
        """Keep the config (nothing validates it: no HAProxy runs)."""
        self._put((ip, lb_id, "haproxy", ""), text)

    def action(self, ip, lb_id, action):
        """start and reload mark the load balancer running; stop marks it stopped."""
        if action == "stop":
            self._drop(lambda k: k == (ip, lb_id, "state", ""))
        else:
            self._put((ip, lb_id, "state", ""), "ACTIVE")

    def listeners(self, ip):
        """The load balancers "running" on the amphora."""
        return [{"uuid": lb, "status": "ACTIVE", "type": "HAPROXY"}
                for lb in self._states(ip) if lb != "vrrp"]

    def remove(self, ip, lb_id):
        """Forget the load balancer's config and files."""
        self._drop(lambda k: k[0] == ip and k[1] == lb_id)

    def certificates(self, ip, lb_id):
        """{file name: md5} of the files kept for the load balancer."""
        with self._lock:
            return {k[3]: hashlib.md5(v).hexdigest() for k, v in self._files.items()
                    if k[:3] == (ip, lb_id, "cert")}

    def certificate_md5(self, ip, lb_id, filename):
        """The md5 of one kept file, or None."""
        data = self._get((ip, lb_id, "cert", filename))
        return hashlib.md5(data).hexdigest() if data is not None else None

    def put_certificate(self, ip, lb_id, filename, data):
        """Keep one certificate file."""
        self._put((ip, lb_id, "cert", filename), bytes(data))

    def delete_certificate(self, ip, lb_id, filename):
        """Forget one certificate file."""
        self._drop(lambda k: k == (ip, lb_id, "cert", filename))

    def plug_vip(self, ip, vip, body):
        """Nothing to plug."""

    def plug_network(self, ip, body):
        """Nothing to plug."""

    def rotate_certificate(self, ip, pem):
        """Nothing serves a certificate."""

    def vrrp_config(self, ip):
        """The keepalived config last uploaded, or None."""
        return self._get((ip, "vrrp", "keepalived", ""))

    def vrrp_upload(self, ip, text):
        """Keep the config."""
        self._put((ip, "vrrp", "keepalived", ""), text)

    def vrrp_action(self, ip, action):
        """start and reload mark keepalived running; stop marks it stopped."""
        self.action(ip, "vrrp", action)

    def details(self, ip):
        """An agent's /details: it holds the VIP, and keepalived "runs" once started."""
        running = self._states(ip)
        vrrp = "ACTIVE" if "vrrp" in running else None
        lbs = [lb for lb in running if lb != "vrrp"]
        return {"hostname": f"noop-{ip}", "haproxy_version": "noop", "api_version": API,
                "topology": "SINGLE" if vrrp is None else "ACTIVE_STANDBY", "active": True,
                "vrrp_status": vrrp, "vrrp_state": "MASTER" if vrrp else None,
                "listeners": lbs, "haproxy_count": len(lbs), "heartbeat": None}
