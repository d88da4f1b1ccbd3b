"""The access line written directly is the line oslo.log writes, or oslo.log writes it."""
import json
import logging
import logging.handlers
import os
import re
import threading
import time

import pytest
from oslo_config import cfg
from oslo_context import context as oslo_context
from oslo_log import formatters
from oslo_log import log as oslo_log

from lbaas.api.access_line import AccessWriter

STAMP = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} ")
MESSAGE = '127.0.0.1 "GET /v2/lbaas/loadbalancers HTTP/1.1" status: 200 len: 45 time: 0.0031'


@pytest.fixture
def conf():
    c = cfg.ConfigOpts()
    oslo_log.register_options(c)
    c([], project="lbaas-test")
    return c


@pytest.fixture
def logger():
    # a logger of its own, outside logging's tree (pytest's capture handlers join that)
    log = logging.Logger("lbaas.api.access", logging.INFO)
    yield log
    for handler in list(log.handlers):
        log.removeHandler(handler)
        handler.close()


def watched(tmp_path, logger, formatter):
    handler = logging.handlers.WatchedFileHandler(str(tmp_path / "api.log"))
    handler.setFormatter(formatter)
    logger.addHandler(handler)
    return tmp_path / "api.log"


def both_ways(logger, path):
    """(direct line, oslo.log's line) for the same message in the same context."""
    writer = AccessWriter(logger)
    writer.write(MESSAGE)
    logger.info("%s", MESSAGE)
    return path.read_text().splitlines()


@pytest.mark.parametrize("who", [{}, {"project_id": "p2"},
                                 {"project_id": "p2", "user_id": "u1", "domain_id": "d"}])
def test_direct_line_is_oslo_logs_line(tmp_path, conf, logger, who, monkeypatch):
    monkeypatch.setattr(time, "time", lambda: 1765101234.567891)   # both paths read the clock
    monkeypatch.setattr(time, "time_ns", lambda: 1765101234567891000)
    path = watched(tmp_path, logger, formatters.ContextFormatter(
        datefmt=conf.log_date_format, config=conf))
    oslo_context.RequestContext(request_id="req-abc", overwrite=True, **who)
    assert AccessWriter(logger)._handlers() is not None   # the direct path is taken
    direct, reference = both_ways(logger, path)
    assert STAMP.match(direct) and direct == reference
    assert ".567 " in direct
    assert f" {os.getpid()} INFO {logger.name} [None req-abc " in direct


def test_custom_format_goes_through_oslo_log(tmp_path, conf, logger):
    conf.set_override("logging_context_format_string", "CUSTOM %(request_id)s %(message)s")
    path = watched(tmp_path, logger, formatters.ContextFormatter(
        datefmt=conf.log_date_format, config=conf))
    oslo_context.RequestContext(request_id="req-c", overwrite=True)
    assert AccessWriter(logger)._handlers() is None
    AccessWriter(logger).write(MESSAGE)
    assert path.read_text() == f"CUSTOM req-c {MESSAGE}\n"


def test_json_records_go_through_oslo_log(tmp_path, conf, logger):
    path = watched(tmp_path, logger, formatters.JSONFormatter())
    oslo_context.RequestContext(request_id="req-j", project_id="jp", overwrite=True)
    AccessWriter(logger).write(MESSAGE)
    record = json.loads(path.read_text())
    assert record["message"] == MESSAGE and record["context"]["project_id"] == "jp"


def test_level_above_info_silences_the_line(tmp_path, conf, logger):
    path = watched(tmp_path, logger, formatters.ContextFormatter(config=conf))
    logger.setLevel(logging.WARNING)
    oslo_context.RequestContext(request_id="req-w", overwrite=True)
    AccessWriter(logger).write(MESSAGE)
    assert path.read_text() == ""


def test_rotated_file_is_reopened(tmp_path, conf, logger):
    path = watched(tmp_path, logger, formatters.ContextFormatter(
        datefmt=conf.log_date_format, config=conf))
    oslo_context.RequestContext(request_id="req-r", overwrite=True)
    writer = AccessWriter(logger)
    writer.write("first")
    os.rename(path, tmp_path / "api.log.1")   # what logrotate does
    writer.write("second")
    assert (tmp_path / "api.log.1").read_text().endswith("] first\n")
    assert path.read_text().endswith("] second\n")


def test_without_a_request_context_oslo_log_writes_the_line(tmp_path, conf, logger):
    path = watched(tmp_path, logger, formatters.ContextFormatter(
        datefmt=conf.log_date_format, config=conf))
    thread = threading.Thread(target=AccessWriter(logger).write, args=(MESSAGE,))
    thread.start()   # a new thread has no context yet
    thread.join()
    assert path.read_text().rstrip("\n").endswith(f"[-] {MESSAGE}")
