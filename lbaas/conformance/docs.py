"""`python -m lbaas.conformance.docs OUT DIR`: docs/providers.md from DIR/<provider>.json.

Built-in providers come in a fixed order; a provider with no fresh report keeps the column
OUT already has (so a host without amphorae does not drop the amphora column)."""
import json
import os
import sys

from lbaas.conformance import report

ORDER = ("noop", "amphora", "ovn")


def merge(fresh, previous_text=None):
    """The reports to document: fresh ones, else what the previous document embedded."""
    previous = {r["provider"]: r for r in report.embedded(previous_text)} \
        if previous_text and report.DATA_MARKER in previous_text else {}
    chosen = {**previous, **fresh}
    names = [n for n in ORDER if n in chosen] + sorted(set(chosen) - set(ORDER))
    return [chosen[n] for n in names]


def main(argv=None):
    out, directory = (argv or sys.argv[1:])[:2]
    fresh = {}
    for entry in sorted(os.listdir(directory)):
        if entry.endswith(".json"):
            with open(os.path.join(directory, entry)) as f:
                data = json.load(f)
            fresh[data["provider"]] = data
    previous = open(out).read() if os.path.exists(out) else None
    with open(out, "w") as f:
        f.write(report.document(merge(fresh, previous)))
    print(f"gen-providers: wrote {out} (fresh: {', '.join(sorted(fresh)) or 'none'})",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
