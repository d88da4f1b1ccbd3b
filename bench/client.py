"""HTTP as the benchmarks speak it: a keep-alive JSON client and a one-shot status probe."""
import http.client
import json
import time

HOST = "127.0.0.1"
LB = "/v2/lbaas/loadbalancers"


class HTTPError(Exception):
    """An answer with a status the caller did not expect."""

    def __init__(self, method, path, status, body):
        super().__init__(f"{method} {path} -> {status}: {body[:300]!r}")
        self.status = status


class Client:
    """A minimal keep-alive JSON client (http.client: a few µs per call, not requests' ~0.3 ms).

    A server that answers `Connection: close` makes http.client reconnect on the next call
    by itself, so the same object works whatever the server keeps alive.
    """

    def __init__(self, port, timeout=30.0):
        self.port = port
        self.timeout = timeout
        self.conn = http.client.HTTPConnection(HOST, port, timeout=timeout)

    def close(self):
        """Close the connection (the next call opens a new one)."""
        self.conn.close()

    def raw(self, method, path, body=None, extra_headers=None):
        """(status, body bytes, seconds from send to the last byte read)."""
        data = None if body is None else json.dumps(body).encode()
        headers = {"Accept": "application/json", **(extra_headers or {})}
        if data is not None:
            headers["Content-Type"] = "application/json"
        for attempt in (0, 1):
            t0 = time.perf_counter()
            try:
                self.conn.request(method, path, body=data, headers=headers)
                resp = self.conn.getresponse()
                payload = resp.read()
                elapsed = time.perf_counter() - t0
                if resp.will_close:
                    self.conn.close()
                return resp.status, payload, elapsed
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError,
                    http.client.CannotSendRequest, http.client.ResponseNotReady):
                self.conn.close()
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def call(self, method, path, body=None, expect=(200,)):
        """(parsed JSON or None, seconds); raises HTTPError on an unexpected status."""
        status, payload, elapsed = self.raw(method, path, body)
        if status not in expect:
            raise HTTPError(method, path, status, payload.decode(errors="replace"))
        return (json.loads(payload) if payload else None), elapsed


def http_status(address, port, path="/", timeout=0.25):
    """Status of one GET on a new connection; None when it fails."""
    conn = http.client.HTTPConnection(address, port, timeout=timeout)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        resp.read()
        return resp.status
    except OSError:
        return None
    except http.client.HTTPException:
        return None
    finally:
        conn.close()
