"""A write that keeps losing a lock race answers 409 with Octavia's body, never 500.

A raw transaction holds a load balancer's row lock past the database's lock wait limit
(MariaDB innodb_lock_wait_timeout, PostgreSQL lock_timeout: 1 s here), so every attempt of
a PUT on it times out waiting. After [database] deadlock_retries more attempts the API
answers 409 and has changed nothing; a lock released between attempts lets a retry win.
"""
import logging
import threading
import time

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.engine import make_url

from lbaas.api import create_app
from lbaas.core import models
from tests.api.support import lb_url
from tests.conftest import SERVER_FIXTURES, ApiClient, database_url, make_conf

# Each server's way to give up a lock wait after 1 s, as a connection option.
LOCK_WAIT_1S = {"postgresql": {"options": "-c lock_timeout=1000"},
                "mariadb": {"init_command": "SET SESSION innodb_lock_wait_timeout = 1"}}
RETRIES = 2


@pytest.fixture(scope="module", params=list(SERVER_FIXTURES))
def url(request):
    """A migrated database on each server whose connections wait at most 1 s for a lock."""
    url = make_url(database_url(request.param, request, "lost_race_api"))
    return url.update_query_dict(LOCK_WAIT_1S[request.param]).render_as_string(
        hide_password=False)


@pytest.fixture(scope="module")
def app(url):
    application = create_app(make_conf(url, **{"database.deadlock_retries": RETRIES}))
    yield application
    application.extensions["lbaas_core"].close()


@pytest.fixture
def client(app):
    return ApiClient(app.test_client())


class RowLock:
    """A transaction of its own holding one load balancer's row lock until release()."""

    def __init__(self, url, lb_id):
        self.engine = create_engine(url)
        self.conn = self.engine.connect()
        self.conn.execute(select(models.LoadBalancer.id).where(
            models.LoadBalancer.id == lb_id).with_for_update())

    def release(self):
        self.conn.rollback()
        self.conn.close()
        self.engine.dispose()


def test_a_write_that_never_gets_its_lock_is_409_and_changes_nothing(url, client, project):
    lb = client.create_lb(project, name="before")
    lock = RowLock(url, lb["id"])
    try:
        started = time.monotonic()
        resp = client.put(lb_url(lb["id"]), {"loadbalancer": {"name": "after"}})
        waited = time.monotonic() - started
    finally:
        lock.release()
    assert resp.status_code == 409, resp.get_json()
    assert resp.get_json() == {
        "faultcode": "Client", "debuginfo": None,
        "faultstring": "Another request was changing the same objects at the same time; "
                       "nothing was changed. Please retry the request."}
    assert waited >= 1 + RETRIES   # the first attempt and each retry waited out the lock
    after = client.get(lb_url(lb["id"])).get_json()["loadbalancer"]
    assert (after["name"], after["provisioning_status"]) == ("before", "ACTIVE")
    assert client.put(lb_url(lb["id"]), {"loadbalancer": {"name": "after"}}).status_code == 200


def test_a_retry_after_the_lock_is_released_succeeds(url, client, project, caplog):
    caplog.set_level(logging.INFO, logger="lbaas.core.db")
    lb = client.create_lb(project, name="before")
    lock = RowLock(url, lb["id"])
    answer = {}
    put = threading.Thread(target=lambda: answer.update(resp=client.put(
        lb_url(lb["id"]), {"loadbalancer": {"name": "after"}})))
    put.start()
    try:
        deadline = time.monotonic() + 30
        while not any("lost a lock race" in r.getMessage() for r in caplog.records):
            assert time.monotonic() < deadline and put.is_alive(), answer
            time.sleep(0.01)
    finally:
        lock.release()
    put.join(30)
    assert answer["resp"].status_code == 200, answer["resp"].get_json()
    assert answer["resp"].get_json()["loadbalancer"]["name"] == "after"
