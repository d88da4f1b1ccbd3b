"""Start `lbaas serve` for the suite (generated config or the operator's), or use a running one."""
import os
import signal
import socket
import subprocess
import sys
import time

import requests

GET_SOCKET = "get.sock"


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _lbaas_command():
    """The `lbaas` console script beside this interpreter, else `python -m lbaas.cmd.main`."""
    path = os.path.join(os.path.dirname(sys.executable), "lbaas")
    return [path] if os.access(path, os.X_OK) else [sys.executable, "-m", "lbaas.cmd.main"]


def generated_config(provider, workdir, port):
    """A configuration enabling only `provider` (noop network, SQLite in workdir)."""
    sockets = os.path.join(workdir, "sockets")
    os.makedirs(sockets, exist_ok=True)
    return "\n".join([
        "[DEFAULT]", f"state_path = {os.path.join(workdir, 'state')}",
        "[api_settings]", "bind_host = 127.0.0.1", f"bind_port = {port}",
        f"enabled_provider_drivers = {provider}:provider under conformance test",
        f"default_provider_driver = {provider}",
        "[network]", "driver = noop",
        "[driver_agent]",
        f"status_socket_path = {os.path.join(sockets, 'status.sock')}",
        f"stats_socket_path = {os.path.join(sockets, 'stats.sock')}",
        f"get_socket_path = {os.path.join(sockets, GET_SOCKET)}",
    ]) + "\n"


class Lbaas:
    """One lbaas the suite talks to: `url`, optional `config_file`, `get_socket` when known."""

    def __init__(self, url, config_file=None, get_socket=None, proc=None, log_path=None):
        self.url, self.config_file, self.get_socket = url, config_file, get_socket
        self.proc, self.log_path = proc, log_path

    @classmethod
    def start(cls, provider, workdir, config_file=None, timeout=60.0):
        """Run `lbaas serve` (own process group) and wait until GET / answers 200."""
        os.makedirs(workdir, exist_ok=True)
        port = _free_port()
        argv = _lbaas_command()
        get_socket = None
        if config_file is None:
            config_file = os.path.join(workdir, "lbaas.conf")
            with open(config_file, "w") as f:
                f.write(generated_config(provider, workdir, port))
            get_socket = os.path.join(workdir, "sockets", GET_SOCKET)
        argv += ["--config-file", config_file, "serve", "--port", str(port)]
        log_path = os.path.join(workdir, "lbaas-serve.log")
        with open(log_path, "ab") as log:
            proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, start_new_session=True,
                                    env={k: v for k, v in os.environ.items()
                                         if not k.startswith("OS_")})
        server = cls(f"http://127.0.0.1:{port}", config_file, get_socket, proc, log_path)
        deadline = time.monotonic() + timeout
        while not server._answers():
            if proc.poll() is not None or time.monotonic() > deadline:
                server.stop()
                raise RuntimeError(f"lbaas serve did not start (exit {proc.returncode}):\n"
                                   f"{server.log_tail()}")
            time.sleep(0.05)
        return server

    def _answers(self):
        try:
            return requests.get(self.url + "/", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    def log_tail(self, limit=6000):
        if not self.log_path:
            return "(lbaas was started elsewhere: see its log)"
        with open(self.log_path, "rb") as log:
            return log.read()[-limit:].decode(errors="replace")

    def stop(self):
        """SIGTERM, then SIGKILL the process group (only what `start` launched)."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(10)
        self.proc = None

    def import_certificate(self, cert_path, key_path=None):
        """`lbaas certificate import` into this lbaas's database; -> the reference, or None
        (no configuration file known, or the command failed)."""
        if not self.config_file:
            return None
        argv = _lbaas_command() + ["--config-file", self.config_file, "certificate", "import",
                                   "--cert", cert_path]
        if key_path:
            argv += ["--key", key_path]
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=60)
        ref = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else ""
        return ref if proc.returncode == 0 and "://" in ref else None
