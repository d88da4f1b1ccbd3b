"""bench.servers' command line and its table, from made-up figures."""
import pytest

from bench import servers


def test_defaults_compare_the_product_with_granian_and_gthread():
    args = servers.parse([])
    assert args.servers == ["lbaas-api", "granian", "gthread"] and args.rounds == 2


@pytest.mark.parametrize("argv", [["--servers", "lbaas-api,uwsgi"], ["--servers", "baseline"],
                                  ["--rounds", "0"], ["--duration", "0"], ["--threads", "0"]])
def test_nonsense_is_refused(argv):
    with pytest.raises(SystemExit):
        servers.parse(argv)


def test_the_table_has_every_round_of_every_server():
    rounds = [{"server_cpu_ms": 0.5}, {"server_cpu_ms": 0.75}, {"server_cpu_ms": None}]
    found = {s: {"lbaas-api": rounds, "granian": rounds} for s in servers.SCENARIOS}
    text = servers.table(found)
    assert "granian" in text and all(s in text for s in servers.SCENARIOS)
    assert "0.50 / 0.75 / -" in text   # a starved round has no figure
