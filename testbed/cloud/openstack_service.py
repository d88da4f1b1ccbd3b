"""What the OpenStack services of the tests (Placement, Glance, Nova) share: the
keystone_authtoken section, a bounded management command, gunicorn's command line, a daemon
without an HTTP port, step timings."""
import contextlib
import os
import signal
import subprocess
import textwrap
import time
from pathlib import Path

from testbed.service import Service, clean_env, free_port


def authtoken(auth_url, username, password, region):
    """A [keystone_authtoken] section: the service's own user on project `service`."""
    return textwrap.dedent(f"""\
        [keystone_authtoken]
        www_authenticate_uri = {auth_url}
        auth_url = {auth_url}
        auth_type = password
        username = {username}
        password = {password}
        project_name = service
        user_domain_name = Default
        project_domain_name = Default
        region_name = {region}
        # no memcached_servers: tokens are cached in the process
        """)


def keystone_auth(section, auth_url, username, password, region):
    """A section of keystoneauth options (a client of another service: [placement],
    [neutron], ...) as the service's own user on project `service`, public endpoints."""
    return textwrap.dedent(f"""\
        [{section}]
        auth_type = password
        auth_url = {auth_url}
        username = {username}
        password = {password}
        project_name = service
        user_domain_name = Default
        project_domain_name = Default
        region_name = {region}
        valid_interfaces = public
        """)


def run(argv, env, timeout=600):
    """Run a management command (db sync, ...); fail with its output when it fails."""
    argv = [str(arg) for arg in argv]
    proc = subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=timeout, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {proc.returncode}:\n"
                           f"{proc.stdout[-5000:]}")
    return proc.stdout


def gunicorn_argv(venv, chdir, port, app, workers=1, threads=4):
    """gunicorn serving a wrapper module's application on 127.0.0.1:port, gthread workers."""
    return [str(venv / "bin" / "gunicorn"), "--chdir", str(chdir),
            "-b", f"127.0.0.1:{port}", "-w", str(workers), "-k", "gthread",
            "--threads", str(threads), "--timeout", "120",
            "--no-control-socket",  # gunicorn 23+'s default socket is one per user
            "--graceful-timeout", "5", app]


class Daemon(Service):
    """A service process without an HTTP port (nova-conductor, ...): `start()` returns once it
    runs; whether it is ready is a condition the caller waits on. Stopped with SIGTERM."""

    def __init__(self, name, argv, log_path, env=None):
        super().__init__(name, [str(arg) for arg in argv], 0, log_path, env)

    def start(self, timeout=None):
        """Launch the process (in its own process group); returns self."""
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(self.argv, stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, env=self.env,
                                         start_new_session=True)
        Service.running.append(self)
        return self

    def check(self):
        """Fail with the log's end when the process has exited."""
        if self.proc is not None and self.proc.poll() is not None:
            raise RuntimeError(f"{self.name} exited with {self.proc.returncode}:\n"
                               f"{self.log_tail(5000)}")

    def terminate(self):
        """SIGTERM, without waiting (stop() waits): several daemons stop at once."""
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)


class Timed:
    """`timings`: how long each named step took, in seconds."""

    def __init__(self):
        self.timings = {}

    @contextlib.contextmanager
    def timed(self, step):
        """Record in self.timings how long the block took."""
        started = time.monotonic()
        try:
            yield
        finally:
            self.timings[step] = time.monotonic() - started


class WsgiApi(Timed):
    """One OpenStack WSGI API run from a venv: a state directory, NAME.conf, its schema made by
    `NAME-manage db sync`, the application under gunicorn on a free port of 127.0.0.1.

    Subclasses set NAME, VENV, CONF_NAME, CONFIG_DIR_ENV (where the application reads its
    configuration), SERVICE (a GunicornService class: its ready_path) and write_config().
    database: an SQLAlchemy URL of an empty database; auth_url: Keystone's v3 URL;
    `username`/`password`: the service's own user there.
    """

    NAME = VENV = CONF_NAME = CONFIG_DIR_ENV = SERVICE = None

    def __init__(self, state_dir, database, auth_url, password, username=None,
                 region="RegionOne", threads=4):
        super().__init__()
        self.dir = Path(state_dir)
        self.database = database
        self.auth_url, self.username, self.password, self.region = (
            auth_url, username or self.NAME, password, region)
        self.threads = threads
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.conf_path = self.dir / self.CONF_NAME
        self.service = None

    def write_config(self):
        """The configuration files and the WSGI wrapper module `<NAME>_wsgi_wrapper`."""
        raise NotImplementedError

    def _env(self):
        return clean_env(**{self.CONFIG_DIR_ENV: str(self.dir)}, PYTHONDONTWRITEBYTECODE="1")

    def sync(self):
        """`<NAME>-manage db sync`: the schema."""
        with self.timed("db sync"):
            run([self.VENV / "bin" / f"{self.NAME}-manage", "--config-file", self.conf_path,
                 "db", "sync"], self._env())

    def serve(self, timeout=120.0):
        """gunicorn on the prepared state; returns once the service's ready path answers."""
        self.service = self.SERVICE(
            self.NAME, gunicorn_argv(self.VENV, self.dir, self.port,
                                     f"{self.NAME}_wsgi_wrapper:application",
                                     threads=self.threads),
            self.port, self.dir / f"{self.NAME}.log", env=self._env())
        with self.timed("gunicorn start"):
            self.service.start(timeout)
        return self

    def start(self):
        """Configure, build the schema and serve; returns self."""
        self.write_config()
        self.sync()
        return self.serve()

    def stop(self):
        if self.service is not None:
            self.service.stop()

