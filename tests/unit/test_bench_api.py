"""bench.api's choice of databases and its side-by-side comparison, from made-up results."""
import pytest

from bench import api


def _part(startup, get_one=None, create=None, error=None):
    """A database's part of a result as report_database() shapes it."""
    scenarios = {}
    if get_one is not None:
        scenarios["get_one"] = {"throughput": {"value": get_one, "unit": "req/s"},
                                "p50": {"value": 10.0, "unit": "ms"},
                                "detail": {"stack_cpu_ms_per_request": 1.2}}
    if create is not None:
        scenarios["create_to_active"] = {"p50": {"value": create, "unit": "ms"}}
    if error:
        scenarios["graph_create"] = {"error": error, "seconds": 0.1}
    return {"startup": {"database_server_s": startup, "migrations_s": 2.0, "api_s": 3.0},
            "disturbed_by_other_processes": [], "scenarios": scenarios}


def _row(comparison, figure):
    return next(r for r in comparison["rows"] if r["figure"] == figure)


def test_every_database_by_default_one_alone_or_an_order_of_choice():
    assert api.parse_args([]).databases == ["postgresql", "mariadb"]
    assert api.parse_args(["--databases", "mariadb"]).databases == ["mariadb"]
    assert api.parse_args(["--databases", "mariadb, postgresql,mariadb"]).databases == [
        "mariadb", "postgresql"]


@pytest.mark.parametrize("value", ["mysql", "postgresql,oracle", ","])
def test_an_unknown_database_is_refused_with_the_known_ones(value, capsys):
    with pytest.raises(SystemExit):
        api.parse_args(["--databases", value])
    assert "choose from postgresql, mariadb" in capsys.readouterr().err


def test_both_databases_side_by_side_with_mariadb_over_postgresql():
    result = {"databases": {
        "postgresql": _part(2.0, get_one=2000.0, create=8.0),
        "mariadb": _part(3.0, get_one=1000.0, create=12.0, error="TimeoutError: slow")}}
    result["comparison"] = comparison = api.comparison(result["databases"])
    assert comparison["columns"] == ["postgresql", "mariadb", "mariadb/postgresql"]
    assert _row(comparison, "database server start-up")["mariadb/postgresql"] == 1.5
    assert _row(comparison, "get_one, c=16") == {
        "figure": "get_one, c=16", "unit": "req/s", "postgresql": 2000.0, "mariadb": 1000.0,
        "mariadb/postgresql": 0.5}
    assert _row(comparison, "create_to_active, p50")["mariadb/postgresql"] == 1.5
    graph = _row(comparison, "graph_create, p50")   # failed on one, not run on the other
    assert (graph["postgresql"], graph["mariadb"], graph["mariadb/postgresql"]) == (
        None, "error", None)
    assert not any(r["figure"] == "list_1000, p50" for r in comparison["rows"])  # ran nowhere
    text = api.table(result)
    assert "| figure | unit | postgresql | mariadb | mariadb/postgresql |" in text
    assert "| get_one, c=16 | req/s | 2000 | 1000 | 0.5 |" in text
    assert "| graph_create, p50 | ms | - | error | - |" in text
    assert "mariadb: graph_create failed: TimeoutError: slow" in text


def test_one_database_alone_has_no_ratio_column():
    comparison = api.comparison({"mariadb": _part(3.0, create=12.0)})
    assert comparison["columns"] == ["mariadb"] and comparison["ratio_is"] is None
    assert _row(comparison, "create_to_active, p50") == {
        "figure": "create_to_active, p50", "unit": "ms", "mariadb": 12.0}


def test_a_database_not_started_has_no_pid_and_stops_quietly():
    for kind in api.DATABASES.values():
        database = kind(api.parse_args([]))
        assert database.pid() is None
        database.stop()
