"""The `app` backend of the amphora benchmarks' vip_rps_ratio, a stdlib-only script.

Started inside a namespace by path (so it needs no package on sys.path):
`python bench/app_server.py IP PORT WORKERS`.
"""
import json
import os
import sys


def serve_app(ip, port, workers):
    """A small stdlib application server: WORKERS processes (one per core, like gunicorn's
    default) sharing one socket, a thread per keep-alive connection, and per request a little
    work: a JSON document of 20 computed and sorted items plus the request's headers, sent
    in one write with TCP_NODELAY (as any production server does: no Nagle stall)."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from socketserver import TCPServer

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def log_message(self, fmt, *args):
            pass

        def do_GET(self):
            items = sorted(({"id": i, "name": f"item-{i}", "score": (i * 7919 + len(self.path))
                             % 101} for i in range(20)), key=lambda it: (-it["score"], it["id"]))
            body = json.dumps({"path": self.path, "headers": dict(self.headers.items()),
                               "items": items}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self._headers_buffer.append(b"\r\n" + body)   # headers and body: one send
            self.flush_headers()

    class Server(ThreadingHTTPServer):
        daemon_threads = True
        request_queue_size = 256

        def server_bind(self):   # TCPServer's only: no getfqdn() (a DNS wait in a netns)
            TCPServer.server_bind(self)

        def handle_error(self, request, client_address):   # wrk resets its connections
            pass

    server = Server((ip, port), Handler)
    for _ in range(workers - 1):
        if os.fork() == 0:
            break
    server.serve_forever()


if __name__ == "__main__":
    serve_app(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
