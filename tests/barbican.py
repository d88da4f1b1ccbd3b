"""A real Barbican on loopback for the barbican certificate manager: barbican from PyPI in
.venv-barbican.

`scripts/setup.sh --test` installs it (its own venv: barbican pins much of the oslo stack,
and eventlet). `Barbican(state_dir).start()` writes the configuration, then serves
Barbican's API (its own paste pipeline `barbican_api`, the one without authentication:
the caller's project is the X-Project-Id header) under gunicorn on a free port, on SQLite
(created at start, `db_auto_create`) with the `store_crypto` secret store and the
`simple_crypto` plugin (a Fernet KEK written into the config), and waits until
`GET /v1/secrets` answers 200. `secret()` and `container()` store through the REST API.

What it takes to run barbican 23 (2026.1) this way, each found by trying:

* Its configuration cannot be named on a command line or in the environment: every module
  parses its own `cfg.ConfigOpts()` at import with oslo.config's default search
  (~/.barbican/barbican.conf first), so the service runs with HOME = the state directory.
* Its unauthenticated context middleware reads `req.request_id`, which the current
  oslo.middleware request_id filter no longer sets (it sets the WSGI environ key
  `openstack.request_id`): every request was a 500 (AttributeError: request_id). The
  filter `request_id_attr` of the wrapper module, put in front of it, copies the key.
* Its policy enforcer is set up by the first request without a lock: two first requests
  at once (threads) made one a 500, PolicyNotRegistered: secrets:get. One sync worker.
* The unauthenticated context gives the caller the role `admin` only; Barbican's new
  default policies also ask for `member` (Keystone's implied roles are not there), so
  every read was a 403. `[oslo_policy] enforce_new_defaults = false` selects Barbican's
  legacy rules, under which admin of the project reads its secrets.
"""
import base64
import os
import textwrap
from pathlib import Path

import requests
from cryptography.fernet import Fernet

from testbed.cloud import openstack_service
from testbed.service import GunicornService, clean_env, free_port, venv_unavailable

ROOT = Path(__file__).resolve().parents[1]
# scripts/setup.sh --test makes it; LBAAS_BARBICAN_VENV names another (or a missing) one.
VENV = Path(os.environ.get("LBAAS_BARBICAN_VENV") or ROOT / ".venv-barbican")
FAILED = VENV / ".lbaas-barbican-failed"  # written by scripts/setup.sh when the install failed

WRAPPER = """\
import os

from paste import deploy


def request_id_attr(global_conf, **local_conf):
    \"\"\"barbican's UnauthenticatedContextMiddleware reads req.request_id (a webob ad hoc
    attribute) that oslo.middleware's request_id filter no longer sets.\"\"\"
    def wrap(app):
        def call(environ, start_response):
            environ.setdefault("webob.adhoc_attrs", {}).setdefault(
                "request_id", environ.get("openstack.request_id"))
            return app(environ, start_response)
        return call
    return wrap


application = deploy.loadapp("config:" + os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "api-paste.ini"))
"""

# Barbican's packaged barbican-api-paste.ini with /v1 on its unauthenticated pipeline
# (the packaged default is barbican-api-keystone) and the request_id_attr filter added.
PASTE = """\
[composite:main]
use = egg:Paste#urlmap
/: barbican_version
/v1: barbican_api

[pipeline:barbican_version]
pipeline = cors request_id http_proxy_to_wsgi microversion versionapp

[pipeline:barbican_api]
pipeline = cors request_id http_proxy_to_wsgi request_id_attr unauthenticated-context
    microversion apiapp

[app:apiapp]
paste.app_factory = barbican.api.app:create_main_app

[app:versionapp]
paste.app_factory = barbican.api.app:create_version_app

[filter:request_id_attr]
paste.filter_factory = barbican_wsgi_wrapper:request_id_attr

[filter:unauthenticated-context]
paste.filter_factory = barbican.api.middleware.context:UnauthenticatedContextMiddleware.factory

[filter:microversion]
paste.filter_factory = barbican.api.middleware.microversion:MicroversionMiddleware.factory

[filter:cors]
paste.filter_factory = oslo_middleware.cors:filter_factory
oslo_config_project = barbican

[filter:request_id]
paste.filter_factory = oslo_middleware.request_id:RequestId.factory

[filter:http_proxy_to_wsgi]
paste.filter_factory = oslo_middleware:HTTPProxyToWSGI.factory
"""


def unavailable():
    """Why the real Barbican cannot run here, or None when it can."""
    return venv_unavailable(VENV, FAILED, ("barbican-manage", "gunicorn"))


class BarbicanService(GunicornService):
    """gunicorn serving Barbican; ready when `GET /v1/secrets` answers 200 for a project
    (`GET /` is the versions document, a 300). Stopped as every gunicorn is (SIGINT)."""

    def _answers(self):
        if self.proc.poll() is not None:
            raise RuntimeError(f"{self.name} exited with {self.proc.returncode} before answering")
        try:
            # The first answer waits for the worker to load Barbican (2 s, more under load).
            resp = requests.get(self.url + "/v1/secrets", headers={"X-Project-Id": "ready"},
                                timeout=30)
        except requests.RequestException:
            return False
        if resp.status_code != 200:  # answering, but wrongly: say so now, not in 60 s
            raise RuntimeError(f"{self.name}: GET /v1/secrets answered {resp.status_code} "
                               f"{resp.text[:300]}")
        return True


class Barbican(openstack_service.Timed):
    """One Barbican: a state directory (its HOME), its configuration, a gunicorn process."""

    def __init__(self, state_dir):
        self.dir = Path(state_dir)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.service = None
        super().__init__()   # timings: step -> seconds

    def write_config(self):
        """~/.barbican/barbican.conf (HOME = the state directory), the paste pipeline and
        the WSGI wrapper module."""
        conf_dir = self.dir / ".barbican"
        conf_dir.mkdir(parents=True, exist_ok=True)
        (conf_dir / "barbican.conf").write_text(textwrap.dedent(f"""\
            [DEFAULT]
            debug = false
            use_stderr = true
            host_href = {self.url}
            db_auto_create = true

            [database]
            connection = sqlite:///{self.dir}/barbican.sqlite

            [secretstore]
            enabled_secretstore_plugins = store_crypto

            [crypto]
            enabled_crypto_plugins = simple_crypto

            [simple_crypto_plugin]
            kek = {Fernet.generate_key().decode()}

            [oslo_policy]
            # The unauthenticated context is role admin only: the legacy rules let it read.
            enforce_new_defaults = false
            enforce_scope = false
            """))
        (self.dir / "api-paste.ini").write_text(PASTE)
        (self.dir / "barbican_wsgi_wrapper.py").write_text(WRAPPER)

    def start(self, timeout=60.0):
        """Configure and serve; returns self once `GET /v1/secrets` answers 200."""
        self.write_config()
        argv = [str(VENV / "bin" / "gunicorn"), "--chdir", str(self.dir),
                # One process, one thread: Barbican's policy enforcer is set up by the first
                # request, unlocked; two first requests at once made one of them a 500
                # (PolicyNotRegistered: secrets:get). The manager reads one request at a time.
                "-b", f"127.0.0.1:{self.port}", "-w", "1", "-k", "sync", "--timeout", "120",
                "--no-control-socket",  # gunicorn 23+'s default socket is one per user
                "--graceful-timeout", "5", "barbican_wsgi_wrapper:application"]
        env = clean_env(HOME=str(self.dir), PYTHONDONTWRITEBYTECODE="1")
        self.service = BarbicanService("barbican", argv, self.port,
                                       self.dir / "barbican.log", env=env)
        with self.timed("gunicorn start"):
            self.service.start(timeout)
        return self

    def stop(self):
        if self.service is not None:
            self.service.stop()

    # --- the REST API ------------------------------------------------------------------------

    def _post(self, path, body, project):
        resp = requests.post(self.url + path, json=body, headers={"X-Project-Id": project},
                             timeout=30)
        if resp.status_code != 201:
            raise RuntimeError(f"POST {path}: {resp.status_code} {resp.text}")
        return resp.json()

    def secret(self, payload, project, content_type="text/plain", secret_type="opaque"):
        """Store bytes as a secret of the project; its reference. text/plain payloads go as
        they are, any other content type base64-encoded (Barbican's two payload forms)."""
        body = {"name": "lbaas-test", "payload_content_type": content_type,
                "secret_type": secret_type}
        if content_type == "text/plain":
            body["payload"] = payload.decode()
        else:
            body.update(payload=base64.b64encode(payload).decode(),
                        payload_content_encoding="base64")
        return self._post("/v1/secrets", body, project)["secret_ref"]

    def container(self, project, container_type="certificate", **refs):
        """A container of the project holding secrets by name; its reference."""
        body = {"name": "lbaas-test", "type": container_type,
                "secret_refs": [{"name": name, "secret_ref": ref}
                                for name, ref in refs.items()]}
        return self._post("/v1/containers", body, project)["container_ref"]
