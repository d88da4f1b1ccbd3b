"""Neutron's REST API for the neutron backend: who calls it, and its errors as lbaas's.

Two kinds of client, one interface (`NeutronApi.call`):

- the service client: openstacksdk's network proxy on a keystoneauth1 session with
  lbaas's own credentials ([service_auth]), Neutron found through the catalog
  ([neutron] region_name, valid_interfaces, service_name) or endpoint_override;
- a caller's client: the same endpoint with the caller's Keystone token, for the
  lookups Octavia makes as the user (a caller cannot use what Neutron hides from them).

Bodies are Neutron's own JSON (the seam's Neutron-shaped dicts). Every failure becomes an
lbaas.core.errors error with Neutron's reason for the user and the request for the operator.
"""
import concurrent.futures
import contextvars
import logging
import threading
import time

from lbaas.conf import neutron as neutron_conf
from lbaas.core import errors

LOG = logging.getLogger(__name__)
DEFAULT_TIMEOUT = 30  # seconds, when [neutron] timeout is unset: never hang an API request
UNREACHABLE = "The network service (Neutron)"
ADDRESS_IN_USE = {"IpAddressAlreadyAllocated", "IpAddressInUse"}
NO_ROOM = {"IpAddressGenerationFailure", "OverQuota"}
IDEMPOTENT = {"GET", "PUT", "DELETE"}  # tried again when the connection fails; never POST
IDEMPOTENT_RETRIES = 2


class NeutronApi:
    """Neutron's REST API through one requester; `call` answers Neutron's JSON body or None."""

    def __init__(self, request):
        self._request = request  # request(method, path, **kwargs) -> a requests.Response

    def call(self, method, path, body=None, params=None, missing_ok=False):
        """One call: its JSON body ({} when empty); None for a 404 when missing_ok
        (also a 403: Neutron hides what a caller may not see); else an lbaas error."""
        from keystoneauth1 import exceptions as ks_exc
        from openstack import exceptions as os_exc
        kwargs = {"raise_exc": False, "params": params or {}}
        if body is not None:
            kwargs["json"] = body
        attempts = 1 + (IDEMPOTENT_RETRIES if method in IDEMPOTENT else 0)
        started = time.perf_counter()
        for attempt in range(attempts):
            try:
                resp = self._request(method, path, **kwargs)
                break
            except ks_exc.ConnectFailure as exc:
                # a kept-alive connection the server closed meanwhile is reset on reuse
                if attempt + 1 < attempts:
                    LOG.info("Neutron %s %s: %s; trying again", method, path, exc)
                    continue
                raise errors.ServiceUnavailable(
                    f"Neutron {method} {path}: {type(exc).__name__}: {exc}",
                    service=UNREACHABLE) from None
            except (ks_exc.ClientException, os_exc.SDKException, OSError) as exc:
                raise errors.ServiceUnavailable(
                    f"Neutron {method} {path}: {type(exc).__name__}: {exc}",
                    service=UNREACHABLE) from None
        # one line per call (DEBUG): what the reconcile costs in Neutron round trips
        LOG.debug("Neutron call %s %s %s: %d in %.0f ms", method, path, _shown(params),
                  resp.status_code, (time.perf_counter() - started) * 1000)
        if resp.status_code in (403, 404) and missing_ok and method == "GET":
            return None
        if resp.status_code == 404 and method == "DELETE":
            return None
        if resp.status_code >= 400:
            raise _error(method, path, resp)
        return resp.json() if resp.content else {}


def together(*calls):
    """[call() for call in calls], run at once (independent Neutron calls); every call ends
    before the first failure is raised, so nothing is left in flight."""
    if len(calls) < 2:
        return [call() for call in calls]
    with concurrent.futures.ThreadPoolExecutor(len(calls)) as pool:
        futures = [pool.submit(contextvars.copy_context().run, call) for call in calls]
    return [future.result() for future in futures]


def _shown(params):
    """A call's query parameters, short, for the log."""
    return "?" + "&".join(f"{k}={v}" for k, v in sorted(params.items())) if params else ""


def _reason(resp):
    """(Neutron's error type, its message) from an error response."""
    try:
        fault = resp.json().get("NeutronError") or {}
    except ValueError:
        fault = {}
    if not isinstance(fault, dict):
        return None, str(fault)
    return fault.get("type"), fault.get("message") or resp.text[:300]


def _error(method, path, resp):
    """The lbaas error for a Neutron error response."""
    kind, message = _reason(resp)
    operator = f"Neutron {method} {path}: {resp.status_code} {kind}: {message}"
    code = resp.status_code
    if kind in ADDRESS_IN_USE:
        return errors.VIPAddressConflict(operator, msg=message)
    if kind in NO_ROOM or code == 409:
        return errors.NetworkConflict(operator, message=message)
    if code in (400, 404):
        return errors.BadRequest(operator, message=message)
    LOG.warning("%s", operator)  # 401/403 with lbaas's own credentials, or a Neutron failure
    return errors.ServiceUnavailable(operator, service=UNREACHABLE)


class Clients:
    """The service client (made on first use) and caller clients, for one configuration."""

    def __init__(self, conf):
        self.conf = conf
        self._lock = threading.Lock()
        self._connection = None
        self._endpoint = None

    def _session_kwargs(self):
        settings = neutron_conf.endpoint_settings(self.conf)
        verify = False if settings["insecure"] else (settings["cafile"] or True)
        opts = self.conf.neutron
        cert = (opts.certfile, opts.keyfile) if opts.certfile and opts.keyfile else \
            opts.certfile
        return {"verify": verify, "cert": cert, "timeout": opts.timeout or DEFAULT_TIMEOUT}

    def connection(self):
        """openstacksdk's Connection with lbaas's credentials ([service_auth])."""
        with self._lock:
            if self._connection is None:
                self._connection = self._connect()
            return self._connection

    def _connect(self):
        from keystoneauth1 import exceptions as ks_exc
        from keystoneauth1 import loading, session
        from openstack import connection
        try:
            auth = loading.load_auth_from_conf_options(self.conf, neutron_conf.SERVICE_AUTH)
        except ks_exc.ClientException as exc:
            raise errors.ServiceUnavailable(
                f"[service_auth] cannot authenticate lbaas: {exc}", service=UNREACHABLE) from None
        sess = session.Session(auth=auth, **self._session_kwargs())
        return connection.Connection(session=sess, **self.service_options())

    def service_options(self):
        """openstacksdk Connection options saying where each service is (Neutron's here)."""
        settings = neutron_conf.endpoint_settings(self.conf)
        interfaces = settings["interface"]
        options = {"region_name": settings["region_name"],
                   "network_interface": interfaces[0] if len(interfaces) == 1 else interfaces,
                   "network_service_type": settings["service_type"]}
        if settings["service_name"]:
            options["network_service_name"] = settings["service_name"]
        if settings["endpoint_override"]:
            options["network_endpoint_override"] = settings["endpoint_override"]
        return options

    def service(self):
        """NeutronApi with lbaas's own credentials."""
        proxy = None

        def request(method, path, **kwargs):
            nonlocal proxy
            if proxy is None:
                proxy = self.connection().network
            return proxy.request(path, method, **kwargs)
        return NeutronApi(request)

    def versioned_endpoint(self):
        """Neutron's v2.0 URL, as the service client discovered it (cached)."""
        if self._endpoint is None:
            api = self.service()
            api.call("GET", "/extensions", params={"alias": "quotas"})  # discovery, or a 503
            self._endpoint = self.connection().network.get_endpoint().rstrip("/")
        return self._endpoint

    def project_id(self):
        """The project of lbaas's own credentials (where amphora ports live)."""
        from keystoneauth1 import exceptions as ks_exc
        try:
            return self.connection().current_project_id
        except ks_exc.ClientException as exc:
            raise errors.ServiceUnavailable(f"Keystone: {exc}", service=UNREACHABLE) from None

    def caller(self, token):
        """NeutronApi with a caller's Keystone token, on the endpoint the service client uses."""
        from keystoneauth1 import session, token_endpoint
        endpoint = self.versioned_endpoint()
        sess = session.Session(auth=token_endpoint.Token(endpoint, token),
                               **self._session_kwargs())

        def request(method, path, **kwargs):
            return sess.request(endpoint + path, method, **kwargs)
        return NeutronApi(request)
