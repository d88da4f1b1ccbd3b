"""The direct reads (lbaas.core.direct) give what SQLAlchemy gives, and survive a lost connection.

GET one load balancer and the status tree read through a DBAPI connection kept per thread,
outside SQLAlchemy's execution: these tests hold them to the same records, value for value
and type for type (their repr feeds the ETag), on every database backend.
"""
import uuid

from lbaas.core import queries, status


def _graph(client, project):
    """A load balancer with tags, a listener with an L7 policy and rules, a pool with a
    monitor and members, and a second pool; its id once ACTIVE."""
    body = {"loadbalancer": {
        "vip_subnet_id": str(uuid.uuid4()), "project_id": project, "name": "d",
        "tags": ["z", "a"], "listeners": [{
            "name": "l", "protocol": "HTTP", "protocol_port": 80,
            "default_pool": {
                "name": "p", "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN",
                "healthmonitor": {"type": "HTTP", "delay": 5, "timeout": 3, "max_retries": 3},
                "members": [{"address": f"10.0.0.{i + 2}", "protocol_port": 80,
                             "admin_state_up": i != 1} for i in range(4)]},
            "l7policies": [{"action": "REDIRECT_TO_POOL", "redirect_pool": {
                "name": "q", "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN"},
                "rules": [{"type": "PATH", "compare_type": "STARTS_WITH", "value": "/a"},
                          {"type": "HOST_NAME", "compare_type": "EQUAL_TO", "value": "x",
                           "invert": True}]}]}]}}
    resp = client.post("/v2/lbaas/loadbalancers", body)
    assert resp.status_code == 201, resp.get_json()
    lb_id = resp.get_json()["loadbalancer"]["id"]
    client.wait(f"/v2/lbaas/loadbalancers/{lb_id}", "loadbalancer")
    return lb_id


def test_direct_records_are_sqlalchemys_value_for_value_and_type_for_type(app, client,
                                                                           project):
    """Equal reprs: the same values of the same types (True is not 1, a datetime not a
    string) in the same order, for one load balancer and for its status tree."""
    lb_id = _graph(client, project)
    db = app.extensions["lbaas_core"].db
    with db.connection() as connection:
        record, tree = queries.loadbalancer(connection, lb_id), \
            queries.loadbalancer_tree(connection, lb_id)
    assert record.tag_list == ["a", "z"] and len(tree.pools) == 2
    assert repr(queries.loadbalancer(db.direct, lb_id)) == repr(record)
    assert repr(queries.loadbalancer_tree(db.direct, lb_id)) == repr(tree)
    assert sum(len(p.rules) for ps in tree.l7policies.values() for p in ps) == 2
    assert queries.loadbalancer(db.direct, "no-such-id") is None
    assert queries.loadbalancer_tree(db.direct, "no-such-id") is None


def test_a_committed_status_is_what_the_next_direct_read_sees(app, client, project):
    """No cache: a driver's status report, committed on another connection, shows in the
    very next GET and status tree."""
    lb_id = _graph(client, project)
    db = app.extensions["lbaas_core"].db
    tree = client.get(f"/v2/lbaas/loadbalancers/{lb_id}/status").get_json()
    member = tree["statuses"]["loadbalancer"]["listeners"][0]["pools"][0]["members"][0]["id"]
    for value in ("ERROR", "ONLINE"):
        status.apply_status_update(db, {
            "members": [{"id": member, "operating_status": value}],
            "loadbalancers": [{"id": lb_id, "operating_status": value}]})
        tree = client.get(f"/v2/lbaas/loadbalancers/{lb_id}/status").get_json()["statuses"]
        members = tree["loadbalancer"]["listeners"][0]["pools"][0]["members"]
        assert [m["operating_status"] for m in members if m["id"] == member] == [value]
        one = client.get(f"/v2/lbaas/loadbalancers/{lb_id}").get_json()["loadbalancer"]
        assert one["operating_status"] == value


def _drop_under(db, backend):
    """End the reader's idle connections behind its back: closed from the server side where
    there is a server (as a restart or an idle timeout would), else locally."""
    for held in db.direct._idle:
        _drop_one(db, held, backend)


def _drop_one(db, held, backend):
    if backend == "sqlite":
        held.close()
        return
    with db.write_engine.connect() as other:
        if backend == "postgresql":
            other.exec_driver_sql(f"SELECT pg_terminate_backend({held.info.backend_pid}, 5000)")
        else:
            other.exec_driver_sql(f"KILL CONNECTION {held.thread_id()}")


def test_connections_lost_under_the_direct_reads_are_replaced(app, client, project, backend):
    """Reads on connections the server has dropped (all of them, as a restart would) open
    new ones and are answered."""
    lb_id = _graph(client, project)
    db = app.extensions["lbaas_core"].db
    before = queries.loadbalancer(db.direct, lb_id)
    first, second = db.direct._checkout(), db.direct._checkout()
    db.direct._checkin(first)
    db.direct._checkin(second)   # two idle ones at least (earlier tests may have left more)
    old = list(db.direct._idle)
    assert len(old) >= 2
    _drop_under(db, backend)
    assert queries.loadbalancer(db.direct, lb_id) == before
    assert not set(map(id, db.direct._idle)) & set(map(id, old))
    assert client.get(f"/v2/lbaas/loadbalancers/{lb_id}/status").status_code == 200


def test_reads_together_are_one_pipeline_on_postgresql_and_fail_as_a_whole(app, client,
                                                                          project, backend):
    """Several selects go out at once where the driver can (psycopg's pipeline mode); a
    statement failing among them raises as a database error, and the connection is fit for
    the next read."""
    from sqlalchemy import literal_column, select
    from sqlalchemy.exc import DBAPIError

    from lbaas.core import direct
    lb_id = _graph(client, project)
    reader = app.extensions["lbaas_core"].db.direct
    assert reader._pipelines is (backend == "postgresql")
    one = direct.Select(select(literal_column("1")))
    lb, [[value]] = reader.together([(queries._ONE_LB, {"id": lb_id}), (one, {})])
    assert lb[0][0] == lb_id and value == 1
    if backend != "postgresql":
        return   # 1/0 is NULL there, not an error
    failing = direct.Select(select(literal_column("1/0")))
    try:
        reader.together([(one, {}), (failing, {}), (queries._ONE_LB, {"id": lb_id})])
    except DBAPIError as exc:
        assert "division by zero" in str(exc)
    else:
        raise AssertionError("1/0 was read")
    assert queries.loadbalancer(reader, lb_id).id == lb_id


def test_a_status_trees_members_come_oldest_first_then_by_id(app, client, project):
    """The order members render in is (created_at, id) on every database: the reader sorts
    them, so members sharing a creation time (a batch; MariaDB keeps whole seconds) still
    come in one order, the same in every process."""
    from sqlalchemy import select

    from lbaas.core import models
    lb_id = _graph(client, project)
    pool_id = client.get(f"/v2/lbaas/loadbalancers/{lb_id}").get_json()[
        "loadbalancer"]["pools"][0]["id"]
    batch = [{"address": f"10.0.1.{i + 2}", "protocol_port": 80} for i in range(8)]
    assert client.put(f"/v2/lbaas/pools/{pool_id}/members", {"members": batch}) \
        .status_code == 202
    client.wait(f"/v2/lbaas/loadbalancers/{lb_id}", "loadbalancer")
    with app.extensions["lbaas_core"].db.read() as session:
        stored = session.execute(select(models.Member.id, models.Member.created_at)
                                 .where(models.Member.pool_id == pool_id)).all()
    tree = client.get(f"/v2/lbaas/loadbalancers/{lb_id}/status").get_json()["statuses"]
    [pool] = [p for li in tree["loadbalancer"]["listeners"] for p in li["pools"]
              if p["id"] == pool_id]
    assert len(stored) == 8
    assert [m["id"] for m in pool["members"]] == [i for i, _ in sorted(
        stored, key=lambda r: (r.created_at, r.id))]
