"""The HTTP server's request line limit, exactly at its edge and over several reads."""
import pytest

from lbaas.cmd import httpserver

LIMIT = 1024


def parser():
    """A request parser of the API's HTTP server with a request line limit of LIMIT bytes."""
    return httpserver._Parser(httpserver._Settings(max_request_line=LIMIT, header_timeout=30))


def request_line(length):
    """A GET request line of exactly `length` bytes (without its CRLF)."""
    head = b"GET /v2/lbaas/loadbalancers?name="
    tail = b" HTTP/1.1"
    return head + b"a" * (length - len(head) - len(tail)) + tail


def feed(p, data, chunk):
    """Give the parser `data` in reads of `chunk` bytes, as the I/O thread would."""
    while data and not p.completed:
        used = p.received(data[:chunk])
        data = data[used:]


@pytest.mark.parametrize("chunk", [8192, 100, 1])
def test_request_line_of_the_limit_is_accepted(chunk):
    p = parser()
    feed(p, request_line(LIMIT) + b"\r\nHost: x\r\n\r\n", chunk)
    assert p.completed and p.error is None and p.command == "GET"


@pytest.mark.parametrize("chunk", [8192, 100, 1])
def test_request_line_over_the_limit_is_414(chunk):
    p = parser()
    feed(p, request_line(LIMIT + 1) + b"\r\nHost: x\r\n\r\n", chunk)
    assert p.completed and isinstance(p.error, httpserver.URITooLong)
    assert p.error.code == 414


def test_request_line_without_its_end_is_414_once_past_the_limit():
    """A client still sending the line is refused as soon as it passes the limit."""
    p = parser()
    p.received(b"GET /" + b"a" * LIMIT)
    assert isinstance(p.error, httpserver.URITooLong)


def test_long_headers_after_a_short_line_are_not_414():
    p = parser()
    feed(p, b"GET / HTTP/1.1\r\nX-Long: " + b"b" * (4 * LIMIT) + b"\r\n\r\n", 100)
    assert p.completed and p.error is None and len(p.headers["X_LONG"]) == 4 * LIMIT
