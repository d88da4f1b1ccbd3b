"""bench.scale's command line, figures, extrapolation and table, from made-up runs."""
import pytest

from bench import scale
from bench.harness import CLK_TCK


def test_worker_counts_default_to_one_two_three_sorted_without_repeats():
    assert scale.parse_args([]).workers == [1, 2, 3]
    assert scale.parse_args(["--workers", "3, 1,3"]).workers == [1, 3]


@pytest.mark.parametrize("value", ["0", "1,17", "", "two"])
def test_a_worker_count_out_of_range_or_not_a_number_is_refused(value, capsys):
    with pytest.raises(SystemExit):
        scale.parse_args(["--workers", value])
    assert "--workers" in capsys.readouterr().err


def test_at_least_one_load_balancer_and_one_client():
    with pytest.raises(SystemExit):
        scale.parse_args(["--lbs", "0"])


def test_a_run_is_summed_up_from_post_and_active_times():
    posted = {"a": 10.0, "b": 10.5, "c": 11.0}
    active = {"a": 10.2, "b": 11.0, "c": 12.0, "other": 9.0}
    run = scale.summarize(2, 3, posted, active, reconciles=4,
                          worker_ticks=2 * CLK_TCK, api_ticks=CLK_TCK)
    assert run["span_s"] == 2.0 and run["active"] == 3
    assert (run["reconciles_per_s"], run["lbs_active_per_s"]) == (2.0, 1.5)
    assert run["post_to_active_ms"] == {"p50": 500.0, "p90": 900.0}
    assert run["worker_cpu_ms_per_reconcile"] == 500.0
    assert run["api_cpu_ms_per_post"] == pytest.approx(333.33, abs=0.01)


def test_a_run_where_nothing_became_active_has_no_rates():
    run = scale.summarize(1, 2, {"a": 1.0, "b": 1.0}, {}, 0, 0, 0)
    assert run["active"] == 0 and run["reconciles_per_s"] is None
    assert run["worker_cpu_ms_per_reconcile"] is None


def test_the_extrapolation_takes_the_dearest_run():
    runs = [{"worker_cpu_ms_per_reconcile": 30.0}, {"worker_cpu_ms_per_reconcile": 40.0},
            {"workers": 3, "error": "RuntimeError: x"}]
    x = scale.extrapolate(runs, fleet=10000, nodes=3, cores=2)
    assert x["worker_cpu_s_per_reconcile"] == 0.04
    assert x["cpu_s_to_reconcile_all"] == 400.0
    assert x["wall_s_to_reconcile_all_if_cpu_bound"] == pytest.approx(66.7)
    assert scale.extrapolate([{"workers": 1, "error": "x"}], 10000, 3, 2) is None


def test_the_table_has_a_row_per_run_and_the_extrapolation():
    ok = scale.summarize(1, 2, {"a": 0.0, "b": 0.0}, {"a": 1.0, "b": 2.0}, 2, CLK_TCK, 0)
    result = {"runs": [ok, {"workers": 2, "error": "TimeoutError: slow"}]}
    result["extrapolation"] = scale.extrapolate(result["runs"], 10000, 3, 2)
    text = scale.table(result)
    assert "| 1 | 2/2 | 2.0 | 1.0 | 1.0 | 1500.0 | 1900.0 | 500.0 | 0.0 | - |" in text
    assert "| 2 | error: TimeoutError: slow |" in text
    assert "10000 load balancers at 0.5 CPU-s per reconcile" in text


def test_take_over_samples_are_summed_up_and_shown_in_the_table():
    assert scale.takeover_summary([]) is None
    t = scale.takeover_summary([5.0, 3.0, 4.0])
    assert t == {"n": 3, "min_s": 3.0, "p50_s": 4.0, "max_s": 5.0}
    run = dict(scale.summarize(2, 1, {"a": 0.0}, {"a": 1.0}, 1, CLK_TCK, 0), takeover=t)
    assert "| 3.0/4.0/5.0 |" in scale.table({"runs": [run]})


def test_the_worker_pid_is_read_from_its_id_even_with_dashes_in_the_host_name():
    assert scale.holder_pid("ctl-node-1-4242-0a1b2c3d") == 4242


def test_local_compute_and_take_over_settings_are_checked():
    args = scale.parse_args(["--compute", "local", "--takeovers", "2", "--lease-duration", "5"])
    assert (args.compute, args.takeovers, args.lease_duration) == ("local", 2, 5.0)
    with pytest.raises(SystemExit):
        scale.parse_args(["--takeovers", "-1"])
    with pytest.raises(SystemExit):
        scale.parse_args(["--compute", "nova"])
