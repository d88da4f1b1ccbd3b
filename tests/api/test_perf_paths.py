"""Guards for the performance shortcuts: they must not change what the API does."""
import json
import uuid

import pytest
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from lbaas.api import views
from lbaas.core import models, queries, status

GRAPH_LOAD = (
    selectinload(models.LoadBalancer.listeners).selectinload(models.Listener.default_pool),
    selectinload(models.LoadBalancer.pools).selectinload(models.Pool.members),
    selectinload(models.LoadBalancer.pools).selectinload(models.Pool.healthmonitor),
    selectinload(models.LoadBalancer.pools).selectinload(models.Pool.listeners),
)


class _GetattrOnly:
    """A row seen through getattr only (no __dict__): forces the views' fallback path."""

    __slots__ = ("_row",)

    def __init__(self, row):
        object.__setattr__(self, "_row", row)

    def __getattr__(self, name):
        if name == "__dict__":
            raise AttributeError(name)
        value = getattr(object.__getattribute__(self, "_row"), name)
        if name in ("listeners", "pools", "members"):
            return [_GetattrOnly(v) for v in value]
        if name == "healthmonitor" and value is not None:
            return _GetattrOnly(value)
        return value


def _graph(client, project):
    body = {"loadbalancer": {
        "vip_subnet_id": str(uuid.uuid4()), "project_id": project, "name": "g", "tags": ["b", "a"],
        "listeners": [{"name": "l", "protocol": "HTTP", "protocol_port": 80,
                       "allowed_cidrs": ["10.0.0.0/8"], "tags": ["t"],
                       "default_pool": {
                           "name": "p", "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN",
                           "session_persistence": {"type": "APP_COOKIE", "cookie_name": "c"},
                           "healthmonitor": {"type": "HTTP", "delay": 5, "timeout": 3,
                                             "max_retries": 3},
                           "members": [{"address": f"10.0.0.{i + 2}", "protocol_port": 80}
                                       for i in range(3)]}}]}}
    resp = client.post("/v2/lbaas/loadbalancers", body)
    assert resp.status_code == 201, resp.get_json()
    lb_id = resp.get_json()["loadbalancer"]["id"]
    client.wait(f"/v2/lbaas/loadbalancers/{lb_id}", "loadbalancer")
    return lb_id


def test_views_render_the_same_from_loaded_values_and_through_getattr(app, client, project):
    lb_id = _graph(client, project)
    db = app.extensions["lbaas_core"].db
    with db.read() as session:
        lb = session.get(models.LoadBalancer, lb_id, options=GRAPH_LOAD)
        slow = _GetattrOnly(lb)
        assert isinstance(views._values(slow, views.LOADBALANCER), views._Attrs)
        assert isinstance(views._values(lb, views.LOADBALANCER), dict)
        assert json.dumps(views.loadbalancer(lb)) == json.dumps(views.loadbalancer(slow))
        assert json.dumps(views.loadbalancer_full(lb)) == json.dumps(
            views.loadbalancer_full(slow))
        for li in lb.listeners:
            for nested in (False, True):
                assert views.listener(li, nested) == views.listener(_GetattrOnly(li), nested)
        for pool in lb.pools:
            for nested in (False, True):
                assert views.pool(pool, nested) == views.pool(_GetattrOnly(pool), nested)
            for m in pool.members:
                assert views.member(m) == views.member(_GetattrOnly(m))
            hm = pool.healthmonitor
            assert views.healthmonitor(hm) == views.healthmonitor(_GetattrOnly(hm))
        # An attribute expired (not in __dict__): the fallback loads it, as getattr always did.
        expected = views.loadbalancer(lb)
        session.expire(lb, ["name", "updated_at"])
        assert views.loadbalancer(lb) == expected


def test_load_balancer_records_render_as_orm_rows_do(app, client, project):
    lb_id = _graph(client, project)
    other = client.create_lb(project)["id"]
    db = app.extensions["lbaas_core"].db
    with db.read() as session:
        for object_id in (lb_id, other):
            row = session.get(models.LoadBalancer, object_id, options=GRAPH_LOAD)
            record = queries.loadbalancer(session, object_id)
            assert isinstance(views._values(record, views.LOADBALANCER), dict)
            assert json.dumps(views.loadbalancer(record)) == json.dumps(views.loadbalancer(row))
        rows = session.execute(select(*queries.LB_COLUMNS).where(
            models.LoadBalancer.id.in_([lb_id, other]))).all()
        assert [r.id for r in queries.loadbalancer_records(session, rows)] == [
            r.id for r in rows]
        assert queries.loadbalancer(session, "no-such-id") is None


def test_status_updates_move_updated_at_only_when_a_status_changes(app, client, project):
    lb = client.create_lb(project)
    client.wait(f"/v2/lbaas/loadbalancers/{lb['id']}", "loadbalancer")
    core = app.extensions["lbaas_core"]
    with core.db.write() as session:
        session.get(models.LoadBalancer, lb["id"]).updated_at = None
    same = {"loadbalancers": [{"id": lb["id"], "provisioning_status": "ACTIVE"}]}
    status.apply_status_update(core.db, same)
    with core.db.read() as session:
        assert session.get(models.LoadBalancer, lb["id"]).updated_at is None
    status.apply_status_update(core.db, {"loadbalancers": [
        {"id": lb["id"], "operating_status": "DEGRADED"}]})
    with core.db.read() as session:
        assert session.get(models.LoadBalancer, lb["id"]).updated_at is not None


def test_read_sessions_refuse_to_write(app, client, project):
    lb = client.create_lb(project)
    db = app.extensions["lbaas_core"].db
    with db.read() as session:
        row = session.get(models.LoadBalancer, lb["id"])
        row.name = "changed in a read session"
        with pytest.raises(RuntimeError, match="read session cannot write"):
            session.flush()
    # Nothing was written: changes in read sessions are discarded, as a rollback did.
    assert client.get(f"/v2/lbaas/loadbalancers/{lb['id']}").get_json()[
        "loadbalancer"]["name"] == lb["name"]


def test_reads_do_not_autoflush_and_see_committed_rows(app, client, project):
    lb = client.create_lb(project, name="before")
    db = app.extensions["lbaas_core"].db
    with db.read() as session:
        row = session.get(models.LoadBalancer, lb["id"])
        row.name = "local only"
        # A query after a local change must not flush it (a flush would commit at once).
        assert session.query(models.LoadBalancer).filter_by(id=lb["id"]).count() == 1
    with db.write() as session:
        session.get(models.LoadBalancer, lb["id"]).name = "after"
    with db.read() as session:
        assert session.get(models.LoadBalancer, lb["id"]).name == "after"


def test_bench_ratios_read_as_times_better_than_upstream():
    from bench import api as bench
    from bench.harness import percentile
    lat = bench.metric(40.2, "ms", "list_1000", "p50", {"p50": 4.0})
    assert lat["ratio"] == 10.0 and lat["ratio_is"] == "upstream/ours" and lat["meets_target"]
    assert lat["vs_baseline"] == 10.05
    thr = bench.metric(282.0, "req/s", "get_one", "throughput", {"throughput": 2820.0})
    assert thr["ratio"] == 2.0 and thr["ratio_is"] == "ours/upstream"
    assert not thr["meets_target"] and thr["vs_baseline"] == 0.1
    assert percentile([1, 2, 3, 4], 50) == 2.5
