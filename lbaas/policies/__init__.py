"""lbaas's policy rules (oslo.policy), with Octavia's names: the base rules and one per action.

Entry points (entry_points.cfg): `oslo.policy.policies` lists the rules, so
`oslopolicy-sample-generator --namespace lbaas` prints the defaults;
`oslo.policy.enforcer` (lbaas.core.policy.get_enforcer) builds an Enforcer on lbaas's
configuration, so `oslopolicy-policy-generator --namespace lbaas [--config-file
lbaas.conf]` prints the policy in force (defaults merged with the operator's
`[oslo_policy] policy_file`). This package imports nothing else of lbaas.
"""
import itertools

from lbaas.policies import base, resources


def list_rules():
    """Every rule lbaas registers: the base rules, then one per resource and action."""
    return list(itertools.chain(base.list_rules(), resources.list_rules()))


def config_files_in(argv):
    """The files named by --config-file options in a command line."""
    files = []
    for i, arg in enumerate(argv):
        if arg == "--config-file" and i + 1 < len(argv):
            files.append(argv[i + 1])
        elif arg.startswith("--config-file="):
            files.append(arg.split("=", 1)[1])
    return files
