"""Every command's --help names --config-file, and it is accepted at any level of `lbaas`."""
import configparser
import importlib
import os
import re

import pytest

from lbaas.cmd import common, main

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# lbaas-agent runs inside an amphora from its command line alone: it reads no configuration
# file, so it offers none. lbaas-amphora-image builds that amphora's image from the release
# itself and reads no configuration either.
NO_CONFIG = {"lbaas-agent", "lbaas-amphora-image"}


def console_scripts():
    parser = configparser.ConfigParser()
    parser.read(os.path.join(ROOT, "entry_points.cfg"))
    return dict(parser["console_scripts"])


def help_of(func, argv, capsys):
    with pytest.raises(SystemExit) as exit_:
        func(argv + ["--help"])
    assert exit_.value.code == 0
    return capsys.readouterr().out


def subcommands(usage):
    """The sub-command names an argparse help lists ({a,b,c})."""
    found = re.search(r"\{([\w,-]+)\}", usage)
    return found.group(1).split(",") if found else []


@pytest.mark.parametrize("script", sorted(set(console_scripts()) - NO_CONFIG))
def test_every_console_script_help_names_config_file(script, capsys):
    module, func = console_scripts()[script].strip().split(":")
    entry = getattr(importlib.import_module(module), func)
    usage = help_of(entry, [], capsys)
    assert "--config-file" in usage
    for name in subcommands(usage):   # and each of its sub-commands, one level down
        sub_usage = help_of(entry, [name], capsys)
        assert "--config-file" in sub_usage, f"{script} {name} --help"
        for leaf in subcommands(sub_usage):
            assert "--config-file" in help_of(entry, [name, leaf], capsys), \
                f"{script} {name} {leaf} --help"


def test_lbaas_has_the_documented_sub_commands(capsys):
    names = subcommands(help_of(main.main, [], capsys))
    assert {"serve", "certificate", "conformance"} <= set(names)


def test_config_files_from_every_level_are_kept_in_order():
    import argparse
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("serve").add_argument("--port")
    common.add_config_file(parser)
    args = common.parse_args(parser, ["--config-file", "a", "serve", "--config-file", "b",
                                      "--config-file", "c"])
    assert args.config_file == ["a", "b", "c"]
    assert common.parse_args(parser, ["serve"]).config_file is None
    assert common.parse_args(parser, ["--config-file", "a", "serve"]).config_file == ["a"]
