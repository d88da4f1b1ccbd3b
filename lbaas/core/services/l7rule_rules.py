"""The L7 rule's field rules: which key, compare type and value each rule type takes."""
import re

from lbaas.core import constants as c
from lbaas.core import errors
from lbaas.core.services import config_rules

# Rule types that match on no key (a key sent with them is dropped).
KEYLESS = ("HOST_NAME", "PATH", "FILE_TYPE")
SSL_TYPES = ("SSL_CONN_HAS_CERT", "SSL_VERIFY_RESULT", "SSL_DN_FIELD")
# Fields a create or update body may set on the row.
WRITABLE = ("type", "compare_type", "key", "value", "invert", "admin_state_up")

# RFC 7230 token: a header or cookie name.
_TOKEN = re.compile(r"\A[A-Za-z0-9!#$%&'*+\-.^_`|~]+\Z")
# RFC 7230 field value: visible ASCII, or anything printable (space, tab) inside double quotes.
_HEADER_VALUE = re.compile(r"\A[\x21-\x7e]+\Z")
_QUOTED_HEADER_VALUE = re.compile(r'\A"[\x20-\x7e\t]*"\Z')
# RFC 6265 cookie value: visible ASCII but for '"', ',', ';' and '\'.
_COOKIE_VALUE = re.compile(r'\A[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]+\Z')
# A field of an X.509 distinguished name (CN, OU, ...).
_DN_FIELD = re.compile(r"\A[a-zA-Z][A-Za-z0-9-]*\Z")


def _invalid(message):
    return errors.L7RuleValidation(error=f"Invalid L7 Rule: {message}")


def _check_regex(value):
    try:
        re.compile(value)
    except (re.error, RecursionError, OverflowError) as exc:
        raise errors.L7RuleValidation(
            error=f"Unable to parse regular expression: {exc}") from None


def _check_chars(pattern, value, what):
    if not pattern.match(value):
        raise errors.L7RuleValidation(error=f"Invalid characters in {what}")


def _check_key(key):
    if not key:
        raise _invalid("L7 rule type requires a key")
    _check_chars(_TOKEN, key, "key")


def _check_value(rule, allowed, pattern, what):
    compare = rule["compare_type"]
    if compare == "REGEX":
        _check_regex(rule["value"])
    elif compare in allowed:
        if not (pattern.match(rule["value"])
                or (pattern is _HEADER_VALUE and _QUOTED_HEADER_VALUE.match(rule["value"]))):
            raise errors.L7RuleValidation(error=f"Invalid characters in {what}")
    else:
        raise _invalid("invalid comparison type for rule type")


def _check_ssl(rule):
    kind, key, value, compare = rule["type"], rule["key"], rule["value"], rule["compare_type"]
    message = None
    if kind in ("SSL_CONN_HAS_CERT", "SSL_VERIFY_RESULT"):
        if key:
            message = f'L7rule type {kind} does not use the "key" field.'
        elif kind == "SSL_CONN_HAS_CERT" and value.lower() != "true":
            message = f"L7rule value {value} is not a boolean True string."
        elif kind == "SSL_VERIFY_RESULT" and not (value.isascii() and value.isdigit()):
            message = f"L7rule type {kind} needs a int value, which is >= 0"
        elif compare != "EQUAL_TO":
            message = f"L7rule type {kind} only supports the EQUAL_TO compare type."
    else:
        if compare == "REGEX":
            _check_regex(value)
        if not key or not value:
            message = f"L7rule type {kind} needs to specify a key and a value."
        elif not _DN_FIELD.match(key):
            message = "Invalid L7rule distinguished name field."
    if message:
        raise _invalid(message)


_OTHER_COMPARES = ("STARTS_WITH", "ENDS_WITH", "CONTAINS", "EQUAL_TO")


def check(rule):
    """400 `Error parsing L7Rule: ...` unless type, compare type, key and value fit together."""
    kind = rule.get("type")
    config_rules.check_text("key", rule.get("key"))
    config_rules.check_text("value", rule.get("value"), tab=True)   # rendered escaped: \t
    if not rule.get("value"):
        raise _invalid("L7 rule type requires a value")
    if kind == "HEADER":
        _check_key(rule.get("key"))
        _check_value(rule, _OTHER_COMPARES, _HEADER_VALUE, "header value")
    elif kind == "COOKIE":
        _check_key(rule.get("key"))
        _check_value(rule, _OTHER_COMPARES, _COOKIE_VALUE, "cookie value")
    elif kind in ("HOST_NAME", "PATH"):
        _check_value(rule, _OTHER_COMPARES, _HEADER_VALUE, "comparison value")
    elif kind == "FILE_TYPE":
        _check_value(rule, ("EQUAL_TO",), _HEADER_VALUE, "comparison value")
    elif kind in SSL_TYPES:
        _check_ssl(rule)
    else:
        raise _invalid("invalid rule type")


def values_for_create(body):
    """A new rule's column values, validated, with defaults where the body is silent or null."""
    values = {k: body.get(k) for k in WRITABLE}
    values["invert"] = bool(values["invert"])
    values["admin_state_up"] = bool(body.get("admin_state_up", True))
    check(values)
    if values["type"] in KEYLESS:
        values["key"] = None
    return values


def changes_for_update(row, body):
    """The column changes of a rule update body; the rule they leave must be valid as a whole."""
    changes = {k: body[k] for k in WRITABLE if k in body}
    for flag in ("invert", "admin_state_up"):
        if flag in changes:
            changes[flag] = bool(changes[flag])
    merged = {k: getattr(row, k) for k in WRITABLE}
    merged.update(changes)
    check(merged)
    if merged["type"] in KEYLESS and merged["key"] is not None:
        changes["key"] = None
    return changes


def check_room(policy_id, count):
    """409 when a policy would hold more rules than allowed."""
    if count > c.MAX_L7_RULES_PER_POLICY:
        raise errors.TooManyL7RulesOnL7Policy(id=policy_id)
