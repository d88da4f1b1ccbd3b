"""A throwaway PostgreSQL cluster for the test session, from Debian's binaries."""
import glob
import os
import pwd
import shutil
import subprocess
import tempfile


def binaries():
    """The directory of the newest installed PostgreSQL server binaries, or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return os.path.dirname(found[-1]) if found else None


class Cluster:
    """initdb + pg_ctl as the postgres user, listening on a unix socket in a temp dir."""

    def __init__(self, port=15432):
        self.bin = binaries()
        if self.bin is None:
            raise RuntimeError("PostgreSQL server binaries not found (apt-get install postgresql)")
        try:
            self.user = pwd.getpwnam("postgres")
        except KeyError:
            raise RuntimeError("no 'postgres' system user (apt-get install postgresql)") from None
        self.dir = tempfile.mkdtemp(prefix="lbaas-pg-")
        os.chmod(self.dir, 0o755)
        os.chown(self.dir, self.user.pw_uid, self.user.pw_gid)
        self.port = port
        self.data = os.path.join(self.dir, "data")

    def _as_postgres(self, *cmd):
        if os.geteuid() == 0:
            cmd = ("runuser", "-u", "postgres", "--") + cmd
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def start(self):
        """Create and start the cluster; returns self."""
        self._as_postgres(os.path.join(self.bin, "initdb"), "-D", self.data, "-U", "postgres",
                          "-A", "trust", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync")
        return self.resume()

    def pause(self):
        """Stop the server, keeping its data: clients get "connection refused" until resume()."""
        self._as_postgres(os.path.join(self.bin, "pg_ctl"), "-D", self.data, "-m", "fast",
                          "-w", "stop")

    def resume(self):
        """Start the server (again); returns self."""
        self._as_postgres(os.path.join(self.bin, "pg_ctl"), "-D", self.data, "-l",
                          os.path.join(self.dir, "pg.log"), "-w", "-t", "60", "-o",
                          f"-k {self.dir} -p {self.port} -c listen_addresses='' -c fsync=off "
                          "-c max_connections=200", "start")
        return self

    def url(self, database):
        """The SQLAlchemy URL of a database in this cluster."""
        return f"postgresql+psycopg://postgres@/{database}?host={self.dir}&port={self.port}"

    def create_database(self, name):
        """Create a database and return its URL."""
        subprocess.run(["psql", "-h", self.dir, "-p", str(self.port), "-U", "postgres", "-q",
                        "-c", f'CREATE DATABASE "{name}"'], check=True,
                       stdout=subprocess.DEVNULL)
        return self.url(name)

    def stop(self):
        """Stop the cluster and remove its files."""
        try:
            self._as_postgres(os.path.join(self.bin, "pg_ctl"), "-D", self.data, "-m", "fast",
                              "-w", "stop")
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)
