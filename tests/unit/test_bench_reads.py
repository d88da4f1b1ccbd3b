"""bench.reads' command line and its report, from made-up figures."""
import pytest

from bench import reads


def test_defaults_measure_ten_and_ten_thousand_load_balancers():
    args = reads.parse([])
    assert args.sizes == [10, 10000] and args.concurrency == 16 and args.upstream_url is None


@pytest.mark.parametrize("argv", [["--sizes", "0"], ["--sizes", ""], ["--concurrency", "0"],
                                  ["--duration", "-1"], ["--sizes", "ten"]])
def test_nonsense_is_refused(argv):
    with pytest.raises(SystemExit):
        reads.parse(argv)


def test_the_table_has_every_scenario_at_every_size_and_the_ratios():
    figure = {"throughput": 100.0, "p50_ms": 1.0, "server_cpu_ms": 0.5}
    result = {"lbaas": {n: {s: dict(figure) for s in reads.SCENARIOS} for n in (10, 10000)},
              "ratios": {"get_one": 7.3}}
    text = reads.table(result)
    assert "10 LBs" in text and "10000 LBs" in text
    assert all(s in text for s in reads.SCENARIOS) and "get_one: 7.3x" in text
