"""A real Keystone on loopback for the identity tests: keystone from PyPI in .venv-keystone.

`scripts/setup.sh --test` installs it (its own venv: keystone pins much of the oslo
stack). `Keystone(state_dir).start()` writes keystone.conf (SQLite, fernet tokens, key
repositories in the state dir), runs `keystone-manage db_sync`, `fernet_setup`,
`credential_setup` and `bootstrap`, then serves the public WSGI application under gunicorn
on a free port and waits until `GET /v3` answers. `populate()` adds the projects, users,
role assignments and catalog entries the tests use, through Keystone's own REST API.

keystone.server.wsgi.initialize_public_application() parses sys.argv as oslo.config
arguments; under gunicorn those are gunicorn's, and every worker dies. The wrapper module
written next to keystone.conf empties sys.argv first.
"""
import grp
import os
import pwd
import subprocess
import textwrap
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

from testbed.cloud import openstack_service
from testbed.service import (
    GunicornService,
    Service,
    clean_env,
    free_port,
    venv_command,
    venv_unavailable,
)

ROOT = Path(__file__).resolve().parents[2]
# scripts/setup.sh --test makes it; LBAAS_KEYSTONE_VENV names another (or a missing) one.
VENV = Path(os.environ.get("LBAAS_KEYSTONE_VENV") or ROOT / ".venv-keystone")
FAILED = VENV / ".lbaas-keystone-failed"  # written by scripts/setup.sh when the install failed

ADMIN_PASSWORD = "admin-secret"
REGION = "RegionOne"
DOMAIN = "default"  # the id of the Default domain

WRAPPER = """\
import sys
sys.argv = sys.argv[:1]  # gunicorn's arguments are not keystone's
from keystone.server import wsgi
application = wsgi.initialize_public_application()
"""


def unavailable():
    """Why the real Keystone cannot run here, or None when it can."""
    return venv_unavailable(VENV, FAILED, ("keystone-manage", "gunicorn"))


def authtoken_section(auth_url):
    """lbaas's [keystone_authtoken]: its service user `lbaas` validating tokens at auth_url
    (no memcached_servers: tokens are cached in the process)."""
    return textwrap.dedent(f"""
        [keystone_authtoken]
        www_authenticate_uri = {auth_url}
        auth_url = {auth_url}
        auth_type = password
        username = lbaas
        password = {password("lbaas")}
        project_name = service
        user_domain_name = Default
        project_domain_name = Default
        region_name = {REGION}
        """)


def service_auth_section(auth_url):
    """lbaas's [service_auth]: the `lbaas` user (admin of project `service`) its backends call
    Neutron and Nova as."""
    return textwrap.dedent(f"""
        [service_auth]
        auth_type = password
        auth_url = {auth_url}
        username = lbaas
        password = {password("lbaas")}
        project_name = service
        user_domain_name = Default
        project_domain_name = Default
        """)


class KeystoneService(GunicornService):
    """gunicorn serving Keystone; ready when `GET /v3` answers 200 (`GET /` is a 300)."""

    ready_path = "/v3"


class Keystone(openstack_service.Timed):
    """One Keystone: a state directory, its configuration, a gunicorn process.

    database: an SQLAlchemy URL (PostgreSQL through psycopg, which setup.sh installs
    beside keystone); default SQLite in the state directory. threads: requests served at
    once. On SQLite, writes must come one at a time: a client that creates and deletes
    users in parallel, as tempest's dynamic credentials do, gets "database is locked"
    500s unless threads is 1, so such clients want PostgreSQL.
    """

    def __init__(self, state_dir, threads=4, database=None):
        self.dir = Path(state_dir)
        self.threads = threads
        self.database = database or f"sqlite:///{self.dir}/keystone.db"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.auth_url = self.url + "/v3"
        self.conf_path = self.dir / "keystone.conf"
        self.service = None
        super().__init__()   # timings: step -> seconds
        self.ids = {"domain": DOMAIN}  # name -> id of what populate() made (roles as role:NAME)
        self._admin_token = None

    # --- set-up ------------------------------------------------------------------------------

    def write_config(self):
        """keystone.conf and the WSGI wrapper module."""
        self.dir.mkdir(parents=True, exist_ok=True)
        keys = {name: self.dir / name
                for name in ("fernet-keys", "receipt-keys", "credential-keys")}
        self.conf_path.write_text(textwrap.dedent(f"""\
            [DEFAULT]
            debug = false
            use_stderr = true

            [database]
            connection = {self.database}

            [token]
            provider = fernet
            expiration = 7200

            [fernet_tokens]
            key_repository = {keys["fernet-keys"]}

            [fernet_receipts]
            key_repository = {keys["receipt-keys"]}

            [credential]
            key_repository = {keys["credential-keys"]}

            [identity]
            # bcrypt's smallest cost: every user create and password login hashes once.
            password_hash_rounds = 4

            [cache]
            # In the (single) process's memory: a request then costs ~40 ms instead of ~100.
            enabled = true
            backend = oslo_cache.dict
            """))
        (self.dir / "keystone_wsgi_wrapper.py").write_text(WRAPPER)

    def _env(self):
        return clean_env(OS_KEYSTONE_CONFIG_FILES=str(self.conf_path),
                         PYTHONDONTWRITEBYTECODE="1")

    def manage(self, *steps):
        """Run `keystone-manage --config-file keystone.conf STEP...` for each step (a tuple of
        arguments) at once, in parallel; fail with the output of any that fails."""
        procs = []
        for args in steps:
            argv = [str(VENV / "bin" / "keystone-manage"), "--config-file",
                    str(self.conf_path), *args]
            procs.append((args[0], subprocess.Popen(
                argv, env=self._env(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT, text=True)))
        failures = []
        for name, proc in procs:
            try:
                out, _ = proc.communicate(timeout=300)
            except subprocess.TimeoutExpired:
                proc.kill()
                out, _ = proc.communicate()
            if proc.returncode != 0:
                failures.append(f"keystone-manage {name} exited {proc.returncode}:\n{out}")
        if failures:
            raise RuntimeError("\n".join(failures))

    def prepare(self):
        """Schema and key repositories: independent, so run in parallel."""
        owner = ("--keystone-user", pwd.getpwuid(os.getuid()).pw_name,
                 "--keystone-group", grp.getgrgid(os.getgid()).gr_name)
        with self.timed("db_sync, fernet_setup, credential_setup"):
            self.manage(("db_sync",), ("fernet_setup", *owner), ("credential_setup", *owner))

    def bootstrap(self):
        """The admin user and project, the roles (admin, manager, member, reader, service),
        the region and the identity endpoint (every interface: auth_token looks for the
        internal one)."""
        with self.timed("bootstrap"):
            self.manage(("bootstrap", "--bootstrap-password", ADMIN_PASSWORD,
                         "--bootstrap-username", "admin", "--bootstrap-project-name", "admin",
                         "--bootstrap-role-name", "admin",
                         "--bootstrap-service-name", "keystone",
                         "--bootstrap-region-id", REGION,
                         "--bootstrap-public-url", self.auth_url,
                         "--bootstrap-internal-url", self.auth_url,
                         "--bootstrap-admin-url", self.auth_url))

    def start(self, timeout=60.0):
        """Configure, bootstrap and serve; returns self once `GET /v3` answers.

        gunicorn starts while `bootstrap` runs: loading the application and answering
        `GET /v3` need the schema and keys, not the bootstrap's rows."""
        self.write_config()
        self.prepare()
        argv = [str(VENV / "bin" / "gunicorn"), "--chdir", str(self.dir),
                # One process, so that its in-memory cache stays coherent; threads for the
                # token validations lbaas's auth_token makes while a client waits.
                "-b", f"127.0.0.1:{self.port}", "-w", "1", "-k", "gthread",
                "--threads", str(self.threads),
                "--timeout", "120",
                "--no-control-socket",  # gunicorn 23+'s default socket is one per user
                "--graceful-timeout", "5", "keystone_wsgi_wrapper:application"]
        self.service = KeystoneService("keystone", argv, self.port, self.dir / "keystone.log",
                                       env=self._env())
        with ThreadPoolExecutor(1) as pool:
            served = pool.submit(self._timed_call, "gunicorn start", self.service.start, timeout)
            self.bootstrap()
            served.result()
        return self

    def _timed_call(self, step, func, *args):
        with self.timed(step):
            return func(*args)

    def stop(self):
        if self.service is not None:
            self.service.stop()

    # --- the REST API ------------------------------------------------------------------------

    def token(self, user, password, project=None, system=False):
        """A token for a user of the Default domain, scoped to a project (by name), the
        system, or nothing; returns (token, the token body)."""
        auth = {"identity": {"methods": ["password"], "password": {"user": {
            "name": user, "domain": {"id": DOMAIN}, "password": password}}}}
        if project:
            auth["scope"] = {"project": {"name": project, "domain": {"id": DOMAIN}}}
        elif system:
            auth["scope"] = {"system": {"all": True}}
        resp = requests.post(self.auth_url + "/auth/tokens", json={"auth": auth}, timeout=30)
        if resp.status_code != 201:
            raise RuntimeError(f"token for {user} (project {project}): {resp.status_code} "
                               f"{resp.text}")
        return resp.headers["X-Subject-Token"], resp.json()["token"]

    def admin(self, method, path, expect=(200, 201, 204), **kwargs):
        """A call to Keystone's API as the bootstrap admin (system scope)."""
        if self._admin_token is None:
            self._admin_token = self.token("admin", ADMIN_PASSWORD, system=True)[0]
        resp = requests.request(method, self.auth_url + path, timeout=30,
                                headers={"X-Auth-Token": self._admin_token}, **kwargs)
        if resp.status_code not in expect:
            raise RuntimeError(f"{method} {path}: {resp.status_code} {resp.text}")
        return resp.json() if resp.content else None

    def _find(self, collection, name):
        found = self.admin("GET", f"/{collection}", params={"name": name})[collection]
        return found[0]["id"] if found else None

    def role(self, name):
        """The id of a role, created if missing (bootstrap makes admin, manager, member,
        reader and service)."""
        if "role:admin" not in self.ids:  # all of bootstrap's roles in one call
            for role in self.admin("GET", "/roles")["roles"]:
                self.ids[f"role:{role['name']}"] = role["id"]
        key = f"role:{name}"
        if key not in self.ids:
            self.ids[key] = self.admin("POST", "/roles", json={"role": {"name": name}})[
                "role"]["id"]
        return self.ids[key]

    def project(self, name):
        """The id of a project of the Default domain, created if missing."""
        if name not in self.ids:
            made = self.admin("POST", "/projects", expect=(201, 409),
                              json={"project": {"name": name, "domain_id": DOMAIN}})
            self.ids[name] = made["project"]["id"] if "project" in made else \
                self._find("projects", name)  # 409: it exists (admin, from bootstrap)
        return self.ids[name]

    def user(self, name, password, grants=()):
        """Create a user of the Default domain with roles on projects: grants are
        (project name, role name) pairs. Returns the user's id."""
        user_id = self.admin("POST", "/users", json={"user": {
            "name": name, "password": password, "domain_id": DOMAIN}})["user"]["id"]
        self.ids[f"user:{name}"] = user_id
        for project, role in grants:
            self.admin("PUT", f"/projects/{self.project(project)}/users/{user_id}"
                              f"/roles/{self.role(role)}")
        return user_id

    def register(self, name, service_type, url):
        """A catalog entry: a service with a public endpoint in the region."""
        service_id = self.admin("POST", "/services", json={"service": {
            "name": name, "type": service_type, "enabled": True}})["service"]["id"]
        self.admin("POST", "/endpoints", json={"endpoint": {
            "service_id": service_id, "interface": "public", "url": url, "region_id": REGION,
            "enabled": True}})
        return service_id


# --- a cloud: Keystone plus lbaas (auth_strategy = keystone) in its catalog -------------------

# Users of the Default domain and their role assignments (project, role). Implied roles
# apply: admin implies member, member implies reader (keystone's bootstrap sets that up).
USERS = {
    "alpha-reader": [("alpha", "reader")],
    "alpha-member": [("alpha", "member")],
    "alpha-observer": [("alpha", "observer")],  # a role lbaas knows nothing about
    "beta-member": [("beta", "member")],
    "gamma-member": [("gamma", "member")],      # the quota test's own project
    "cloud-admin": [("admin", "admin")],
    "svc": [("service", "service")],            # another service (role:service only)
    "lbaas": [("service", "admin"), ("service", "service")],  # lbaas's own, for auth_token
}


def password(user):
    """The password of a user made by populate()."""
    return f"{user}-Passw0rd"


def populate(ks, users, catalog):
    """Users with their grants ({name: [(project, role)]}, password(name) each) and catalog
    entries ((name, service type, url)) in a started Keystone: projects and roles first (one
    by one: they are shared), then the users and the entries four at a time (Keystone serves
    four threads)."""
    for grants in users.values():
        for project, role in grants:
            ks.project(project)
            ks.role(role)
    with ThreadPoolExecutor(4) as pool:
        made = [pool.submit(ks.user, name, password(name), grants)
                for name, grants in users.items()]
        made += [pool.submit(ks.register, *entry) for entry in catalog]
        for future in made:
            future.result()


class Cloud:
    """Keystone and `lbaas serve` in keystone mode, found through Keystone's catalog
    (service types load-balancer, and network: lbaas answers Neutron's subnet lookups).

    extra_config is appended to lbaas's configuration file; keystone_database is Keystone's
    (default SQLite).
    """

    def __init__(self, state_dir, extra_config="", keystone_database=None):
        state_dir = Path(state_dir)
        self.extra_config = extra_config
        self.keystone = Keystone(state_dir / "keystone", database=keystone_database)
        self.lbaas_state = state_dir / "lbaas"
        self.lbaas_port = free_port()
        self.lbaas_url = f"http://127.0.0.1:{self.lbaas_port}"
        self.lbaas = None
        self.timings = {}
        self._tokens = {}

    @property
    def auth_url(self):
        return self.keystone.auth_url

    def lbaas_config(self):
        """lbaas's configuration file: keystone auth, auth_token's own service user."""
        self.lbaas_state.mkdir(parents=True, exist_ok=True)
        path = self.lbaas_state / "lbaas.conf"
        path.write_text("[api_settings]\nauth_strategy = keystone\n"
                        + authtoken_section(self.auth_url) + textwrap.dedent(self.extra_config))
        return path

    def start(self):
        """Keystone and lbaas at once (lbaas's `GET /` needs no Keystone), then the
        projects, users and catalog."""
        started = time.monotonic()
        config = self.lbaas_config()
        self.lbaas = Service("lbaas serve (keystone)",
                             [venv_command("lbaas"), "--config-file", str(config), "serve",
                              "--state-path", str(self.lbaas_state),
                              "--port", str(self.lbaas_port)],
                             self.lbaas_port, self.lbaas_state / "lbaas-serve.log")
        with ThreadPoolExecutor(1) as pool:
            lbaas_started = pool.submit(self.lbaas.start)
            self.keystone.start()
            with self.keystone.timed("users, projects, catalog"):
                self.populate()
            lbaas_started.result()
        self.timings = dict(self.keystone.timings, total=time.monotonic() - started)
        return self

    def stop(self):
        if self.lbaas is not None:
            self.lbaas.stop()
        self.keystone.stop()

    def populate(self):
        """The users of USERS, and lbaas as both load-balancer and network in the catalog."""
        populate(self.keystone, USERS, [("lbaas", "load-balancer", self.lbaas_url),
                                        ("neutron", "network", self.lbaas_url)])

    def project_id(self, name):
        return self.keystone.ids[name]

    def token(self, user, project=None):
        """A token of the user scoped to its project (the first of its grants), cached."""
        if project is None:
            project = USERS[user][0][0]
        key = (user, project)
        if key not in self._tokens:
            self._tokens[key] = self.keystone.token(user, password(user), project=project)[0]
        return self._tokens[key]

    def unscoped_token(self, user):
        key = (user, None)
        if key not in self._tokens:
            self._tokens[key] = self.keystone.token(user, password(user))[0]
        return self._tokens[key]
