"""The controller's side of the amphora agent API 1.0: HTTPS with mutual TLS (requests).

Agent clients are loaded by name from the stevedore namespace `lbaas.amphora.agent`
(`[controller_worker] amphora_driver`, Octavia's option): `amphora_haproxy_rest_driver`
is this one; `amphora_noop_driver` (agent_noop.NoopAgentClient) answers from memory.
"""
import ipaddress

import requests
from stevedore import driver as stevedore_driver

from lbaas.agent import wire

API = "1.0"
NAMESPACE = "lbaas.amphora.agent"


def load(name, ca_file, cert_file, port, timeout):
    """The agent client `name` from entry points (AgentClient's constructor arguments)."""
    try:
        mgr = stevedore_driver.DriverManager(NAMESPACE, name, invoke_on_load=True,
                                             invoke_args=(ca_file, cert_file, port, timeout))
    except Exception as exc:
        raise RuntimeError(f"amphora agent client '{name}' (entry point {NAMESPACE}) "
                           f"could not be loaded: {exc}") from exc
    return mgr.driver


class AgentError(Exception):
    """An agent answered with an error, or could not be reached."""

    def __init__(self, message, status=None, details=None):
        super().__init__(f"{message} ({status}): {details}" if status else message)
        self.status, self.details = status, details


def _host(ip):
    """An IP as a URL host (IPv6 in brackets)."""
    return f"[{ip}]" if ipaddress.ip_address(ip).version == 6 else ip


def load_class(name):
    """The agent client class `name` (its class attributes describe the amphorae it drives)."""
    try:
        return stevedore_driver.DriverManager(NAMESPACE, name, invoke_on_load=False).driver
    except Exception as exc:
        raise RuntimeError(f"amphora agent client '{name}' (entry point {NAMESPACE}) "
                           f"could not be loaded: {exc}") from exc


class AgentClient:
    """Talks to agents with the controller's client certificate, trusting only the lbaas CA."""

    measures_health = True   # agents send heartbeats with what HAProxy measures
    # What these amphorae cannot serve yet (option -> why): the provider refuses it at the
    # API (501) rather than accept what would never carry traffic.
    unserved = {
        "UDP": "UDP listeners are not served by the amphora provider yet (their keepalived "
               "LVS configuration is rendered, but amphorae do not run IPVS).",
        "SCTP": "SCTP listeners are not served by the amphora provider yet (their keepalived "
                "LVS configuration is rendered, but amphorae do not run IPVS).",
        "PING": "PING health monitors are not supported by the amphora provider yet.",
        # (HAProxy enforces allowed_cidrs itself; IPVS cannot, and nothing else filters VIP
        # traffic yet)
        "LVS allowed_cidrs": "allowed_cidrs on UDP and SCTP listeners is not supported by "
                             "the amphora provider yet.",
    }

    def __init__(self, ca_file, cert_file, port=9443, timeout=30.0):
        """ca_file: the CA PEM; cert_file: client certificate and key in one PEM."""
        self.port, self.timeout = port, timeout
        self._session = requests.Session()
        self._session.trust_env = False   # no proxy, and no CA bundle from the environment
        self._session.verify = ca_file
        self._session.cert = cert_file
        self._fences = {}   # amphora ip -> (load balancer id, FENCE_HEADER value)

    def fence(self, ip, loadbalancer_id, generation):
        """Send the lease generation with every request to the amphora at ip until unfence
        (its agent then refuses requests of older generations: lbaas.agent.fence)."""
        self._fences[ip] = (loadbalancer_id, wire.format_fence(loadbalancer_id, generation))

    def unfence(self, loadbalancer_id):
        """Stop sending a lease generation to the load balancer's amphorae."""
        for ip, (lb_id, _) in list(self._fences.items()):
            if lb_id == loadbalancer_id:
                self._fences.pop(ip, None)

    def _request(self, method, ip, path, timeout=None, ok=(200, 202), **kwargs):
        url = f"https://{_host(ip)}:{self.port}/{path}"
        fence = self._fences.get(ip)
        if fence is not None:
            kwargs["headers"] = {**kwargs.get("headers", {}), wire.FENCE_HEADER: fence[1]}
        try:
            response = self._session.request(method, url, timeout=timeout or self.timeout,
                                             **kwargs)
        except requests.RequestException as exc:
            raise AgentError(f"agent at {ip} unreachable: {exc}") from exc
        if response.status_code not in ok:
            try:
                body = response.json()
                details = body.get("details") or body.get("message") or body
            except ValueError:
                details = response.text[:500]
            raise AgentError(f"agent at {ip}: {method} /{path} failed", response.status_code,
                             details)
        return response

    def ready(self, ip, timeout=1.0):
        """Whether the agent answers its version document."""
        try:
            self._request("GET", ip, "", timeout=timeout)
        except AgentError:
            return False
        return True

    def info(self, ip):
        """The agent's /info document."""
        return self._request("GET", ip, f"{API}/info").json()

    def config(self, ip, lb_id):
        """The HAProxy config the agent holds for a load balancer, or None."""
        response = self._request("GET", ip, f"{API}/loadbalancer/{lb_id}/haproxy", ok=(200, 404))
        return response.text if response.status_code == 200 else None

    def upload(self, ip, amphora_id, lb_id, text):
        """Validate and install a load balancer's HAProxy config (400 -> AgentError)."""
        self._request("PUT", ip, f"{API}/loadbalancer/{amphora_id}/{lb_id}/haproxy",
                      data=text.encode())

    def action(self, ip, lb_id, action):
        """start, reload or stop a load balancer's HAProxy."""
        self._request("PUT", ip, f"{API}/loadbalancer/{lb_id}/{action}")

    def listeners(self, ip):
        """[{"uuid", "status", "type", "applied"}] of the load balancers the agent runs."""
        return self._request("GET", ip, f"{API}/listeners").json()

    def remove(self, ip, lb_id):
        """Stop a load balancer's HAProxy and delete its files on the amphora."""
        self._request("DELETE", ip, f"{API}/listeners/{lb_id}", ok=(200, 202, 404))

    def certificates(self, ip, lb_id):
        """{file name: md5} of the certificate files the agent holds for a load balancer."""
        body = self._request("GET", ip, f"{API}/loadbalancer/{lb_id}/certificates").json()
        return {c["filename"]: c["md5sum"] for c in body.get("certificates", ())}

    def certificate_md5(self, ip, lb_id, filename):
        """The md5 of one certificate file of a load balancer on the amphora, or None."""
        response = self._request("GET", ip, f"{API}/loadbalancer/{lb_id}/certificates/"
                                 f"{filename}", ok=(200, 404))
        return response.json().get("md5sum") if response.status_code == 200 else None

    def put_certificate(self, ip, lb_id, filename, data):
        """Write one PEM file (mode 0600) into the load balancer's certs/ on the amphora."""
        self._request("PUT", ip, f"{API}/loadbalancer/{lb_id}/certificates/{filename}",
                      data=data)

    def delete_certificate(self, ip, lb_id, filename):
        """Remove one certificate file of a load balancer from the amphora."""
        self._request("DELETE", ip, f"{API}/loadbalancer/{lb_id}/certificates/{filename}",
                      ok=(200, 404))

    def plug_vip(self, ip, vip, body):
        """Configure the interface with body["mac_address"] to carry the VIP."""
        self._request("POST", ip, f"{API}/plug/vip/{vip}", json=body)

    def plug_network(self, ip, body):
        """Configure the interface with body["mac_address"] for a member network."""
        self._request("POST", ip, f"{API}/plug/network", json=body)

    def rotate_certificate(self, ip, pem):
        """Replace the agent's server certificate (cert + key PEM) without restarting it."""
        self._request("PUT", ip, f"{API}/certificate", data=pem)

    def vrrp_config(self, ip):
        """The keepalived config the agent holds, or None."""
        response = self._request("GET", ip, f"{API}/vrrp/config", ok=(200, 404))
        return response.text if response.status_code == 200 else None

    def vrrp_upload(self, ip, text):
        """Validate and install the amphora's keepalived config (400 -> AgentError)."""
        self._request("PUT", ip, f"{API}/vrrp/upload", data=text.encode())

    def vrrp_action(self, ip, action):
        """start, reload or stop the amphora's keepalived."""
        self._request("PUT", ip, f"{API}/vrrp/{action}")

    def details(self, ip):
        """The agent's /details document (topology, whether it holds the VIP, ...)."""
        return self._request("GET", ip, f"{API}/details").json()
