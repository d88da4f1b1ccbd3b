"""A real Glance on loopback, Nova's image service in the tests: glance from PyPI in .venv-glance.

`scripts/setup.sh --test` installs it (its own venv: glance_store and its pins are not
Nova's). `Glance(state_dir, database, auth_url, password).start()` writes glance-api.conf
(one `file` store in the state directory, keystonemiddleware against `auth_url`, the
database), runs `glance-manage db sync`, then serves the WSGI application
`glance.wsgi.api:application` under gunicorn on a free port of 127.0.0.1 and waits until
`GET /versions` answers (`GET /` is a 300).

The application reads glance-api.conf from OS_GLANCE_CONFIG_DIR and uses native threads
under a WSGI server (no eventlet). docs/testing.md ("Nova") has the pitfalls and timings.
"""
import os
import shutil
import textwrap
from pathlib import Path

from testbed.cloud import openstack_service
from testbed.service import GunicornService, venv_unavailable

ROOT = Path(__file__).resolve().parents[2]
# scripts/setup.sh --test makes it; LBAAS_GLANCE_VENV names another (or a missing) one.
VENV = Path(os.environ.get("LBAAS_GLANCE_VENV") or ROOT / ".venv-glance")
FAILED = VENV / ".lbaas-glance-failed"  # written by scripts/setup.sh when the install failed

WRAPPER = """\
from glance.wsgi.api import application  # noqa: F401
"""


def unavailable():
    """Why the real Glance cannot run here, or None when it can."""
    reason = venv_unavailable(VENV, FAILED, ("glance-manage", "gunicorn"))
    if reason:
        return reason
    if not (VENV / "etc" / "glance" / "glance-api-paste.ini").exists():
        return f"{VENV}/etc/glance/glance-api-paste.ini is missing (reinstall glance)"
    return None


class GlanceService(GunicornService):
    """gunicorn serving Glance; ready when `GET /versions` answers 200."""

    ready_path = "/versions"


class Glance(openstack_service.WsgiApi):
    """One Glance API: a state directory (images in `images/`), glance-api.conf, gunicorn.

    database: an SQLAlchemy URL of an empty MariaDB database (mysql+pymysql). auth_url:
    Keystone's v3 URL; `username`/`password` are Glance's own service user there.
    """

    NAME, VENV, CONF_NAME = "glance", VENV, "glance-api.conf"
    CONFIG_DIR_ENV, SERVICE = "OS_GLANCE_CONFIG_DIR", GlanceService

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.images = self.dir / "images"

    def write_config(self):
        """glance-api.conf, the paste file beside it and the WSGI wrapper."""
        for sub in ("images", "staging", "tasks", "lock"):
            (self.dir / sub).mkdir(parents=True, exist_ok=True)
        self.conf_path.write_text(textwrap.dedent(f"""\
            [DEFAULT]
            debug = false
            use_stderr = true
            enabled_backends = fs:file
            # the interoperable import's staging area and tasks: unused by a plain upload
            worker_self_reference_url = {self.url}

            [glance_store]
            default_backend = fs

            [fs]
            filesystem_store_datadir = {self.images}

            [os_glance_staging_store]
            filesystem_store_datadir = {self.dir / "staging"}

            [os_glance_tasks_store]
            filesystem_store_datadir = {self.dir / "tasks"}

            [database]
            connection = {self.database}

            [paste_deploy]
            flavor = keystone
            config_file = {self.dir / "glance-api-paste.ini"}

            [oslo_concurrency]
            lock_path = {self.dir / "lock"}

            """) + openstack_service.authtoken(self.auth_url, self.username, self.password,
                                               self.region))
        shutil.copy(VENV / "etc" / "glance" / "glance-api-paste.ini",
                    self.dir / "glance-api-paste.ini")
        (self.dir / "glance_wsgi_wrapper.py").write_text(WRAPPER)
