"""A real Placement on loopback for Nova's tests: openstack-placement from PyPI in .venv-nova.

`scripts/setup.sh --test` installs it beside Nova (one venv: the same release, the same oslo
pins). `Placement(state_dir, database, auth_url, password).start()` writes placement.conf
(keystonemiddleware against `auth_url`, the database), runs `placement-manage db sync`, then
serves the WSGI application `placement.wsgi.api:application` under gunicorn on a free port of
127.0.0.1 and waits until `GET /` (the version document, no token needed) answers.

The application reads placement.conf from OS_PLACEMENT_CONFIG_DIR and parses sys.argv as
oslo.config arguments (gunicorn's, under gunicorn: the wrapper module empties it).
docs/testing.md ("Nova") has the pitfalls and timings.
"""
import textwrap
from pathlib import Path

from testbed.service import GunicornService, clean_env, free_port
from tests import openstack_service
from tests.nova import VENV

WRAPPER = """\
import sys
sys.argv = sys.argv[:1]  # gunicorn's arguments are not placement's
from placement.wsgi.api import application  # noqa: E402,F401
"""


class Placement(openstack_service.Timed):
    """One Placement API: a state directory, placement.conf, a gunicorn process.

    database: an SQLAlchemy URL of an empty MariaDB database (mysql+pymysql). auth_url:
    Keystone's v3 URL; `username`/`password` are Placement's own service user there.
    """

    def __init__(self, state_dir, database, auth_url, password, username="placement",
                 region="RegionOne", threads=4):
        super().__init__()
        self.dir = Path(state_dir)
        self.database = database
        self.auth_url, self.username, self.password, self.region = (auth_url, username,
                                                                    password, region)
        self.threads = threads
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.conf_path = self.dir / "placement.conf"
        self.service = None

    def write_config(self):
        """placement.conf and the WSGI wrapper."""
        self.dir.mkdir(parents=True, exist_ok=True)
        self.conf_path.write_text(textwrap.dedent(f"""\
            [DEFAULT]
            debug = false
            use_stderr = true

            [api]
            auth_strategy = keystone

            [placement_database]
            connection = {self.database}

            """) + openstack_service.authtoken(self.auth_url, self.username, self.password,
                                               self.region))
        (self.dir / "placement_wsgi_wrapper.py").write_text(WRAPPER)

    def _env(self):
        return clean_env(OS_PLACEMENT_CONFIG_DIR=str(self.dir), PYTHONDONTWRITEBYTECODE="1")

    def sync(self):
        """`placement-manage db sync`: the schema."""
        with self.timed("db sync"):
            openstack_service.run([VENV / "bin" / "placement-manage", "--config-file",
                                   self.conf_path, "db", "sync"], self._env())

    def serve(self, timeout=120.0):
        """gunicorn on the prepared state; returns once `GET /` answers."""
        self.service = GunicornService(
            "placement", openstack_service.gunicorn_argv(
                VENV, self.dir, self.port, "placement_wsgi_wrapper:application",
                threads=self.threads),
            self.port, self.dir / "placement.log", env=self._env())
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
