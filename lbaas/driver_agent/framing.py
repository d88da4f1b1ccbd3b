"""One message on a driver-agent socket: `<payload length in ASCII decimal>\\n<JSON payload>`."""
import json

MAX_HEADER = 20                 # digits of a length, and the newline
MAX_PAYLOAD = 64 * 1024 * 1024  # a larger request is refused, not read


class ConnectionClosed(Exception):
    """The peer went away (or timed out) before a whole message arrived: nothing to answer."""


class BadMessage(Exception):
    """A message arrived but is not a length line followed by that many bytes of JSON."""


def encode(obj):
    """The framed bytes of a JSON-serializable object."""
    payload = json.dumps(obj, default=str).encode("utf-8")
    return str(len(payload)).encode("ascii") + b"\n" + payload


def read(rfile, limit=MAX_PAYLOAD):
    """Read one framed message from a binary file object; returns the decoded JSON value.

    Raises ConnectionClosed when the stream ends (or its socket times out) early, and
    BadMessage when the length line or the JSON is malformed.
    """
    try:
        header = rfile.readline(MAX_HEADER + 1)
    except OSError as exc:
        raise ConnectionClosed(str(exc)) from exc
    if not header:
        raise ConnectionClosed("no request")
    if not header.endswith(b"\n"):
        if len(header) <= MAX_HEADER:
            raise ConnectionClosed("the length line was cut short")
        raise BadMessage("the length line is too long")
    digits = header[:-1].strip()
    if not digits.isdigit():
        raise BadMessage(f"the length line {digits[:MAX_HEADER]!r} is not a decimal number")
    size = int(digits)
    if size > limit:
        raise BadMessage(f"a {size}-byte request is larger than the {limit}-byte limit")
    try:
        payload = rfile.read(size)
    except OSError as exc:
        raise ConnectionClosed(str(exc)) from exc
    if len(payload) < size:
        raise ConnectionClosed(f"{len(payload)} of {size} bytes arrived")
    try:
        return json.loads(payload)
    except (UnicodeDecodeError, ValueError) as exc:
        raise BadMessage(f"the request is not JSON: {exc}") from exc
