"""The `--network neutron` modes of bench.amphora and bench.ovn: their arguments and the
ratio each reports (the runs themselves need root and a whole cloud: bench/README.md)."""
import pytest

from bench import amphora, amphora_neutron, ovn, ovn_neutron


@pytest.mark.parametrize("module", [amphora, ovn])
def test_network_defaults_to_local_and_runs_to_the_modes_own_default(module):
    args = module.parse_args([])
    assert (args.network, args.runs) == ("local", None)
    args = module.parse_args(["--network", "neutron", "--runs", "2"])
    assert (args.network, args.runs) == ("neutron", 2)


@pytest.mark.parametrize("module", [amphora, ovn])
def test_an_unknown_network_is_refused(module, capsys):
    with pytest.raises(SystemExit):
        module.parse_args(["--network", "nova"])
    assert "invalid choice" in capsys.readouterr().err


def test_the_modes_run_three_times_unless_told():
    assert amphora_neutron.DEFAULT_RUNS == ovn_neutron.DEFAULT_RUNS == 3


def test_ovn_ratios_are_neutron_over_own_for_timings_both_have():
    results = {"graph": {"to_201": {"p50": 0.02}, "to_first_connection": {"p50": 0.5}},
               "graph_neutron": {"to_201": {"p50": 0.1}, "to_first_connection": {"p50": 1.0},
                                 "to_active": {"p50": 2.0}}}
    assert ovn_neutron.ratios(results) == {
        "to_201": {"neutron_p50_s": 0.1, "own_ovn_p50_s": 0.02, "ratio": 5.0},
        "to_first_connection": {"neutron_p50_s": 1.0, "own_ovn_p50_s": 0.5, "ratio": 2.0}}
