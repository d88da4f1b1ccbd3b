"""The bytes an ETag digests (lbaas.api.conditional): equal values give equal bytes in every
process, and values that render differently never give the same bytes."""
import datetime
import os
import subprocess
import sys
import uuid

from lbaas.api import conditional


def _row(k, name):
    return (str(uuid.UUID(int=k)), name, "ACTIVE", "ONLINE", True, f"10.0.0.{k}", 80)


def test_equal_values_give_equal_bytes_however_they_were_built():
    status = "ACTIVE"
    shared = [(status, status, sys.intern("ONLINE"))] * 3          # one object, three times
    copies = [("".join("ACTIVE"), "ACTIV" + "E", "".join(["ONL", "INE"])) for _ in range(3)]
    assert shared == copies
    assert conditional._exact_bytes(shared) == conditional._exact_bytes(copies)


def test_different_values_give_different_bytes():
    values = [None, "None", "", True, 1, 1.0, "1", (), [], ("a",), ["a"], ("a", "b"), ("ab",),
              [_row(1, None)], [_row(1, "")], [_row(1, None), _row(2, None)],
              [_row(2, None), _row(1, None)]]
    found = [conditional._exact_bytes(v) for v in values]
    assert len(set(found)) == len(values)


def test_values_marshal_cannot_write_are_digested_by_their_repr():
    when = datetime.datetime(2026, 12, 7, 17, 0, 0)
    assert conditional._exact_bytes((when, "x")) == repr((when, "x")).encode()
    assert conditional.tag_of("k", (when,)) != conditional.tag_of("k", (when, None))


def test_the_tag_of_the_same_rows_is_the_same_in_another_process():
    rows = ([_row(k, None if k % 2 else f"m{k}") for k in range(50)], ("lb", "ACTIVE"))
    code = f"from lbaas.api import conditional; print(conditional.tag_of('statuses', {rows!r}))"
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           check=True, env={**os.environ, "PYTHONHASHSEED": "12345"})
    assert other.stdout.strip() == conditional.tag_of("statuses", rows)
