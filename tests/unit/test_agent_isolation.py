"""The amphora agent shares no code path with the controller except lbaas.agent.wire (DESIGN.md)."""
import subprocess
import sys

ALLOWED = ("lbaas", "lbaas.agent")


def test_agent_imports_only_its_own_package():
    code = ("import sys, lbaas.agent.server; "
            "print(' '.join(m for m in sys.modules if m.startswith('lbaas')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    stray = [m for m in out.stdout.split() if m not in ALLOWED and not m.startswith("lbaas.agent.")]
    assert stray == []
