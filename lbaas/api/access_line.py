"""The access line written without logging's per-record machinery, when nothing is lost.

oslo.log's ContextFormatter spends about a tenth of a millisecond on each record (a
LogRecord, the thread's context turned into two dicts, a dozen configuration look-ups), as
much as a third of the cheapest request. `AccessWriter.write` renders the access line
itself, in the layout oslo.log would give it, and writes it to the same handlers, but only
while that layout is the one in force: every handler the record would reach is a plain
stream or file handler (watched files still reopened after a rotation) with oslo.log's
ContextFormatter and its default format strings, and the thread's context is a plain
oslo.context RequestContext with no resource. Anything else (JSON, syslog, journald, a
logging configuration file, colours, custom formats, filters) takes the ordinary path, so
the operator reads the same line either way; the logger's level is honoured by both.
"""
import logging
import logging.handlers
import os
import time

from oslo_context import context as oslo_context

# oslo.log's defaults for the options the line's layout comes from
CONTEXT_FORMAT = ("%(asctime)s.%(msecs)03d %(process)d %(levelname)s %(name)s "
                  "[%(global_request_id)s %(request_id)s %(user_identity)s] "
                  "%(instance)s%(message)s")
IDENTITY_FORMAT = ("%(user)s %(project)s %(domain)s %(system_scope)s %(user_domain)s "
                   "%(project_domain)s")
DATE_FORMAT = "%Y-%m-%d %H:%M:%S"
_PLAIN_HANDLERS = (logging.StreamHandler, logging.FileHandler,
                   logging.handlers.WatchedFileHandler)


def _chain_handlers(logger):
    """Every handler a record of `logger` reaches, and whether all of them are plain."""
    handlers, plain = [], True
    node = logger
    while node is not None:
        if node.filters:
            plain = False
        handlers.extend(node.handlers)
        if not node.propagate:
            break
        node = node.parent
    return handlers, plain


def _formats_as_default(handler):
    """Whether `handler` writes an INFO record exactly as oslo.log's default layout."""
    from oslo_log import formatters
    formatter = handler.formatter
    if (type(handler) not in _PLAIN_HANDLERS or handler.filters
            or type(formatter) is not formatters.ContextFormatter
            or formatter.datefmt not in (None, DATE_FORMAT)):
        return False
    conf = formatter.conf
    try:
        return (conf.logging_context_format_string == CONTEXT_FORMAT
                and conf.logging_user_identity_format == IDENTITY_FORMAT
                and formatter.datefmt == conf.log_date_format == DATE_FORMAT)
    except Exception:   # a configuration without oslo.log's options: not ours to judge
        return False


class AccessWriter:
    """Writes one access line per request to `logger`, directly where that changes nothing."""

    def __init__(self, logger):
        self.logger = logger
        self._key = None
        self._direct = None      # the handlers to write to directly, or None
        self._clock = (None, "")   # the last whole second rendered and its text, one tuple

    def write(self, message):
        """Log `message` (already rendered) at INFO on the logger."""
        if not self.logger.isEnabledFor(logging.INFO):
            return
        handlers = self._handlers()
        context = oslo_context.get_current()
        if (handlers is None or type(context) is not oslo_context.RequestContext
                or context.resource_uuid or not context.request_id):
            self.logger.info("%s", message)
            return
        line = self._render(context, message)
        for handler in handlers:
            handler.acquire()
            try:
                if type(handler) is logging.handlers.WatchedFileHandler:
                    handler.reopenIfNeeded()
                handler.stream.write(line)
                handler.flush()
            except Exception:   # as logging does: the request goes on
                handler.handleError(logging.makeLogRecord({"msg": message}))
            finally:
                handler.release()

    def _handlers(self):
        """The handlers to write to directly, or None for the ordinary path."""
        handlers, plain = _chain_handlers(self.logger)
        key = tuple(handlers)
        if key != self._key:
            writing = [h for h in handlers if h.level <= logging.INFO]   # the others drop it
            direct = plain and all(_formats_as_default(h) for h in writing)
            self._key, self._direct = key, (writing if direct else None)
        return self._direct

    def _render(self, context, message):
        now = time.time()
        second = int(now)
        last, stamp = self._clock   # one read: threads may replace it meanwhile
        if second != last:
            stamp = time.strftime(DATE_FORMAT, time.localtime(second))
            self._clock = (second, stamp)
        identity = " ".join(str(v or "-") for v in (
            context.user_id, context.project_id, context.domain_id, context.system_scope,
            context.user_domain_id, context.project_domain_id))
        return (f"{stamp}.{int((now - second) * 1000):03d} {os.getpid()} INFO "
                f"{self.logger.name} [{context.global_request_id} {context.request_id} "
                f"{identity}] {message}\n")
