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

from testbed.cloud import openstack_service
from testbed.cloud.nova import VENV
from testbed.service import GunicornService

WRAPPER = """\
import sys
sys.argv = sys.argv[:1]  # gunicorn's arguments are not placement's
from placement.wsgi.api import application  # noqa: E402,F401
"""


class Placement(openstack_service.WsgiApi):
    """One Placement API: a state directory, placement.conf, a gunicorn process.

    database: an SQLAlchemy URL of an empty MariaDB database (mysql+pymysql). auth_url:
    Keystone's v3 URL; `username`/`password` are Placement's own service user there.
    """

    NAME, VENV, CONF_NAME = "placement", VENV, "placement.conf"
    CONFIG_DIR_ENV, SERVICE = "OS_PLACEMENT_CONFIG_DIR", GunicornService

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
