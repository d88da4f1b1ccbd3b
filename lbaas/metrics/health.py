"""/healthcheck: oslo.middleware's Healthcheck application, with lbaas's backends.

Backends (entry points in oslo.middleware.healthcheck, entry_points.cfg):
- lbaas_db_check: the database answers `SELECT 1` (a fresh connection each time);
- lbaas_bus_check: every RabbitMQ host of [DEFAULT] transport_url that is tried answers an
  AMQP handshake (one answering host is enough; other transports are not checked);
- lbaas_loops_check: every main loop of this process went round lately (lbaas.metrics.liveness).
Each result is kept [api_settings] healthcheck_refresh_interval seconds, so a burst of
probes costs one check.
"""
import threading
import time

from oslo_config import cfg
from oslo_middleware.healthcheck import Healthcheck, pluginbase

from lbaas import conf as lbaas_conf
from lbaas.metrics import liveness

CHECK_TIMEOUT = 3   # seconds one database or bus check may take


class _Cached(pluginbase.HealthcheckBaseExtension):
    """A backend whose result is kept healthcheck_refresh_interval seconds."""

    def __init__(self, oslo_conf, conf):
        super().__init__(oslo_conf, conf)
        self._lock = threading.Lock()
        self._result, self._until = None, 0.0

    def healthcheck(self, server_port):
        """The cached result, checked again once it is older than the refresh interval."""
        with self._lock:
            now = time.monotonic()
            if self._result is None or now >= self._until:
                try:
                    self._result = self.check()
                except Exception as exc:   # noqa: BLE001 - any failure is "unavailable"
                    self._result = pluginbase.HealthcheckResult(
                        available=False, reason=f"{self.WHAT}: {type(exc).__name__}",
                        details=str(exc)[:500])
                self._until = now + self.oslo_conf.api_settings.healthcheck_refresh_interval
            return self._result


class DatabaseCheck(_Cached):
    """The database answers SELECT 1."""

    WHAT = "database"

    def check(self):
        """Connect, SELECT 1, disconnect."""
        from sqlalchemy import create_engine, pool, text
        url = lbaas_conf.database_url(self.oslo_conf)
        args = {"connect_timeout": CHECK_TIMEOUT} if not url.startswith("sqlite") else {}
        engine = create_engine(url, poolclass=pool.NullPool, connect_args=args)
        try:
            with engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        finally:
            engine.dispose()
        return pluginbase.HealthcheckResult(available=True, reason="database: OK")


def transport_url(conf):
    """[DEFAULT] transport_url, registering oslo.messaging's options if no one has yet."""
    from oslo_messaging import transport
    conf.register_opts(transport._transport_opts)   # idempotent for the same objects
    conf.set_default("transport_url", None)   # lbaas's default: in memory, not rabbit://
    return conf.transport_url


class BusCheck(_Cached):
    """The message bus answers (RabbitMQ: an AMQP handshake with one of its hosts)."""

    WHAT = "message bus"

    def check(self):
        """Open an AMQP connection to the first host that answers; unavailable if none."""
        import kombu
        from oslo_messaging import TransportURL
        url = transport_url(self.oslo_conf)
        if not url:
            return pluginbase.HealthcheckResult(available=True, reason="message bus: none")
        parsed = TransportURL.parse(self.oslo_conf, url)
        if parsed.transport not in ("rabbit", "amqp", "kombu"):
            return pluginbase.HealthcheckResult(
                available=True, reason=f"message bus: {parsed.transport} (not checked)")
        errors = []
        for host in parsed.hosts:
            connection = kombu.Connection(
                hostname=host.hostname, port=host.port or 5672, userid=host.username,
                password=host.password, virtual_host=parsed.virtual_host or "/",
                connect_timeout=CHECK_TIMEOUT)
            try:
                connection.ensure_connection(max_retries=1, timeout=CHECK_TIMEOUT)
                return pluginbase.HealthcheckResult(available=True, reason="message bus: OK")
            except Exception as exc:   # noqa: BLE001 - the next host may answer
                errors.append(f"{host.hostname}:{host.port}: {exc}")
            finally:
                connection.release()
        return pluginbase.HealthcheckResult(available=False, reason="message bus: no answer",
                                            details="; ".join(errors)[:500])


class LoopsCheck(pluginbase.HealthcheckBaseExtension):
    """Every main loop of this process beat lately (never cached: it reads memory)."""

    def healthcheck(self, server_port):
        """Unavailable, naming them, when loops are stale."""
        loops = liveness.loops()
        stale = sorted(name for name, loop in loops.items() if loop.stale())
        if stale:
            return pluginbase.HealthcheckResult(
                available=False, reason=f"main loops stalled: {', '.join(stale)}",
                details="; ".join(f"{n}: {loops[n].age():.0f} s since its last round"
                                  for n in stale))
        return pluginbase.HealthcheckResult(
            available=True, reason=f"main loops: {len(loops)} alive")


def backends_for(conf, loops=False):
    """The backends a process checks: the database, the bus if this process uses one, its
    loops."""
    names = ["lbaas_db_check"]
    try:   # registered by the processes that use a bus (lbaas.drivers.amphora.rpc)
        if conf.transport_url:
            names.append("lbaas_bus_check")
    except cfg.NoSuchOptError:   # none here: importing oslo.messaging would cost 0.2 s
        pass
    if loops:
        names.append("lbaas_loops_check")
    return names


def make_app(conf, backends, fallback):
    """The Healthcheck WSGI application with `backends`, unless [healthcheck] backends
    names some itself (then those); requests it leaves alone ([healthcheck]
    allowed_source_ranges) go to the WSGI application `fallback`."""
    from oslo_middleware.healthcheck import opts
    conf.register_opts(opts.HEALTHCHECK_OPTS, group="healthcheck")
    if not conf.healthcheck.backends:
        conf.set_override("backends", backends, group="healthcheck")
    return Healthcheck(fallback, conf)
