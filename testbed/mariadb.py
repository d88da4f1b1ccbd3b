"""A throwaway MariaDB server for the test session, from Debian's mariadb-server binaries."""
import os
import shutil
import signal
import subprocess
import tempfile
import time

MARIADBD = "/usr/sbin/mariadbd"
INSTALL_DB = "mariadb-install-db"
CLIENT = "mariadb"

# Database default character set and collation. utf8mb4 holds every code point (emoji
# included); the binary collation compares as PostgreSQL's C locale does, so a name, a
# filter or a unique tag means the same on every backend (the _ci collations would fold
# case and, in utf8mb4_general_ci, make all emoji equal).
CHARSET = "utf8mb4"
COLLATION = "utf8mb4_bin"


def binaries():
    """The path of the installed MariaDB server, or None."""
    if os.access(MARIADBD, os.X_OK) and shutil.which(INSTALL_DB) and shutil.which(CLIENT):
        return MARIADBD
    return None


class Server:
    """mariadb-install-db + mariadbd, listening on a unix socket in a temp dir.

    `port` None (the default) means no TCP at all, so servers of parallel sessions cannot
    collide; a number also listens on 127.0.0.1:port. Root logs in without a password, over
    the socket from any local user (the directory is world-traversable, as testbed.pg's is).
    """

    def __init__(self, port=None):
        if binaries() is None:
            raise RuntimeError("MariaDB server binaries not found (apt-get install mariadb-server "
                               "mariadb-client)")
        self.dir = tempfile.mkdtemp(prefix="lbaas-mariadb-")
        os.chmod(self.dir, 0o755)
        self.port = port
        self.data = os.path.join(self.dir, "data")
        self.socket = os.path.join(self.dir, "mysqld.sock")
        self.log = os.path.join(self.dir, "mariadb.err")
        self.process = None

    def _server_args(self):
        user = ["--user=root"] if os.geteuid() == 0 else []
        network = (["--port", str(self.port), "--bind-address=127.0.0.1"]
                   if self.port else ["--skip-networking"])
        return [f"--datadir={self.data}", *user,
                # throwaway data: small redo log, no fsync, no binary log
                "--innodb-log-file-size=16M", "--innodb-flush-log-at-trx-commit=0",
                "--innodb-doublewrite=0", "--skip-log-bin", "--skip-name-resolve",
                f"--character-set-server={CHARSET}", f"--collation-server={COLLATION}",
                "--sql-mode=TRADITIONAL", "--max-connections=300"], network

    def start(self, timeout=60):
        """Create the data directory and start the server; returns self."""
        common, network = self._server_args()
        subprocess.run([INSTALL_DB, "--no-defaults", "--auth-root-authentication-method=normal",
                        "--skip-test-db", *common], check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE)
        with open(os.path.join(self.dir, "mariadb.out"), "ab") as out:
            self.process = subprocess.Popen(
                [MARIADBD, "--no-defaults", *common, *network, f"--socket={self.socket}",
                 f"--pid-file={os.path.join(self.dir, 'mysqld.pid')}", f"--log-error={self.log}"],
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True)
        deadline = time.monotonic() + timeout
        while not self._ping():
            if self.process.poll() is not None or time.monotonic() > deadline:
                tail = self._log_tail()
                self.stop()
                raise RuntimeError(f"mariadbd did not start: {tail}")
            time.sleep(0.1)
        return self

    def _ping(self):
        return subprocess.run(["mariadb-admin", "--no-defaults", f"--socket={self.socket}",
                               "-uroot", "ping"], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL).returncode == 0

    def _log_tail(self):
        try:
            with open(self.log, encoding="utf-8", errors="replace") as f:
                return " | ".join(f.read().strip().splitlines()[-5:])
        except OSError:
            return "(no error log)"

    def url(self, database):
        """The SQLAlchemy URL of a database on this server (PyMySQL, the socket, utf8mb4)."""
        return f"mysql+pymysql://root@localhost/{database}?unix_socket={self.socket}&charset={CHARSET}"

    def sql(self, statement, database=None):
        """Run one SQL statement as root with the mariadb client; returns its tab-separated output."""
        cmd = [CLIENT, "--no-defaults", f"--socket={self.socket}", "-uroot", "--batch",
               "--skip-column-names", "-e", statement]
        if database:
            cmd.append(database)
        return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout

    def create_database(self, name):
        """Create a database (utf8mb4, utf8mb4_bin) and return its URL."""
        self.sql(f"CREATE DATABASE `{name}` CHARACTER SET {CHARSET} COLLATE {COLLATION}")
        return self.url(name)

    def stop(self):
        """Stop the server and remove its files."""
        try:
            if self.process is not None and self.process.poll() is None:
                self.process.terminate()
                try:
                    self.process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(self.process.pid, signal.SIGKILL)
                    self.process.wait()
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)
