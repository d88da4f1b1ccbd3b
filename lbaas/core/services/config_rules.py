"""Values that reach a rendered HAProxy or keepalived file: one line, no control characters.

A line break in such a value would start a directive of the caller's own in the file (the
way upstream Octavia was open through listener tls_ciphers and L7 policy redirect_url /
redirect_prefix). The fields rendered are the TLS ciphers, allowed CIDRs, the cookie name
and persistence granularity, member and VIP addresses, the health monitor's HTTP fields,
redirect URLs and L7 rule keys and values; names, descriptions and tags never are, so they
are left alone. The amphora driver's renderers check again at render time.
"""
import re

from lbaas.core import errors

# C0 controls, DEL, NEL and the Unicode line and paragraph separators
_CONTROL = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]")
_CONTROL_BUT_TAB = re.compile(r"[\x00-\x08\x0a-\x1f\x7f\x85\u2028\u2029]")
REASON = "Value must not contain line breaks or other control characters."


def check_text(attr, value, tab=False):
    """400 if a rendered string holds a line break or another control character (a tab
    only where tab=True: quoted HTTP header values may hold one, RFC 7230)."""
    if isinstance(value, str) and (_CONTROL_BUT_TAB if tab else _CONTROL).search(value):
        raise errors.InvalidInput(attr=attr, value=value, reason=REASON)


def check_address(attr, value):
    """400 for a rendered IP address or CIDR with an IPv6 zone ("fe80::1%eth0"): Python's
    ipaddress takes any text after the "%", line breaks included."""
    check_text(attr, value)
    if isinstance(value, str) and "%" in value:
        raise errors.InvalidInput(attr=attr, value=value,
                                  reason="Value should be IPv4 or IPv6 format")


def check(values, text=(), addresses=()):
    """check_text / check_address on the named fields present in values (a list: each item)."""
    for attr in text:
        for value in _each(values.get(attr)):
            check_text(attr, value)
    for attr in addresses:
        for value in _each(values.get(attr)):
            check_address(attr, value)


def _each(value):
    return value if isinstance(value, (list, tuple)) else [value]
