"""Print one JSON line per test of a subunit v2 stream on stdin: id, status, seconds, reason.

Run with .venv-tempest's Python (python-subunit and testtools come with tempest), e.g.
`stestr last --subunit | .venv-tempest/bin/python tests/functional/tempest_results.py`.
The reason is a skip's reason, or the end of a failure's traceback.
"""
import json
import sys

import subunit
import testtools


def _text(details, name, limit):
    content = details.get(name)
    if content is None:
        return ""
    text = b"".join(bytes(chunk) for chunk in content.iter_bytes()).decode(errors="replace")
    return text[-limit:]


def _emit(test):
    start, stop = test["timestamps"]
    seconds = (stop - start).total_seconds() if start and stop else 0.0
    details = test["details"]
    reason = _text(details, "reason", 500) or _text(details, "traceback", 2000)
    print(json.dumps({"id": test["id"], "status": test["status"], "seconds": seconds,
                      "reason": reason.strip()}), flush=True)


def main():
    """Read the stream, write the lines."""
    stream = subunit.ByteStreamToStreamResult(sys.stdin.buffer, non_subunit_name="stdout")
    result = testtools.StreamToDict(_emit)
    result.startTestRun()
    try:
        stream.run(result)
    finally:
        result.stopTestRun()


if __name__ == "__main__":
    main()
