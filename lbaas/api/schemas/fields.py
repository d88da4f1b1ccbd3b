"""Marshmallow fields that accept what Octavia's API accepts and fail with its reasons."""
import ipaddress
import uuid

from marshmallow import RAISE, Schema, ValidationError, fields, post_load, validate

from lbaas.core import constants as c

MANDATORY = "Mandatory field missing."
MAX_DB_INT = 2 ** 31 - 1


def _messages(**extra):
    base = {"required": MANDATORY, "null": "Value may not be null.",
            "invalid": "Wrong type. Expected a valid value."}
    base.update(extra)
    return base


def Str(max_len=c.MAX_NAME, min_len=None, pattern=None, **kw):
    """A string of bounded length, matching a regular expression when one is given."""
    checks = [validate.Length(min=min_len, max=max_len,
                              error="Value should have a length between {min} and {max}."
                              if min_len else
                              "Value should have a maximum character requirement of {max}")]
    if pattern is not None:
        checks.append(validate.Regexp(pattern, error="Value should match the pattern {regex}"))
    return fields.String(validate=checks,
                         error_messages=_messages(invalid="Wrong type. Expected 'str'"), **kw)


def _bounds(min_val, max_val):
    """A validator naming the bound an integer crossed, as WSME's IntegerType does."""

    def check(value):
        if min_val is not None and value < min_val:
            raise ValidationError(f"Value should be greater or equal to {min_val}")
        if max_val is not None and value > max_val:
            raise ValidationError(f"Value should be lower or equal to {max_val}")

    return check


class Integer(fields.Integer):
    """marshmallow's lenient Integer, except that a number with a fraction is refused
    (it would be truncated: 1.5 stored as 1), as is an infinite one."""

    def _validated(self, value):
        if isinstance(value, float) and not value.is_integer():
            raise self.make_error("invalid", input=value)
        return super()._validated(value)


def Int(min_val=None, max_val=MAX_DB_INT, **kw):
    """An integer; numeric strings and integral numbers (2.0) are accepted as Octavia
    accepts them, a fraction (1.5) is not.

    Without an explicit maximum the database's integer range is the bound, so an
    oversized number is a 400 rather than a storage failure.
    """
    return Integer(
        strict=False, validate=_bounds(min_val, max_val),
        error_messages=_messages(invalid="Wrong type. Expected 'int'"), **kw)


class _Bool(fields.Boolean):
    """WSME's boolean: JSON booleans, any integer (by truth), and exact lower-case words."""

    truthy = frozenset(("true", "t", "yes", "y", "on", "1"))
    falsy = frozenset(("false", "f", "no", "n", "off", "0"))

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, (bool, int)):
            return bool(value)
        if isinstance(value, str) and value in self.truthy:
            return True
        if isinstance(value, str) and value in self.falsy:
            return False
        raise self.make_error("invalid", input=value)


def Bool(**kw):
    """A boolean: JSON booleans, 0/1, and the strings oslo accepts."""
    return _Bool(error_messages=_messages(invalid="Value not an unambiguous boolean"), **kw)


def Enum(values, **kw):
    """One of a fixed set of strings."""
    return fields.String(
        validate=validate.OneOf(values, error="Value should be one of: " + ", ".join(values)),
        error_messages=_messages(invalid="Wrong type. Expected 'str'"), **kw)


def _uuid(value):
    try:
        uuid.UUID(str(value))
    except (TypeError, ValueError):
        raise ValidationError("Value should be UUID format") from None


def Uuid(**kw):
    """An object id."""
    return fields.String(validate=_uuid, error_messages=_messages(
        invalid="Value should be UUID format"), **kw)


def _ip(value):
    try:
        ipaddress.ip_address(value)
    except ValueError:
        raise ValidationError("Value should be IPv4 or IPv6 format") from None


def IP(**kw):
    """An IPv4 or IPv6 address."""
    return fields.String(validate=_ip, error_messages=_messages(
        invalid="Value should be IPv4 or IPv6 format"), **kw)


def List(inner, **kw):
    """A JSON list of values."""
    return fields.List(inner, error_messages=_messages(invalid="Value should be a list"), **kw)


class _StrDict(fields.Dict):
    """A JSON object of strings; any fault is reported against the whole attribute."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, dict):
            raise self.make_error("invalid")
        for item in value.values():
            if not isinstance(item, str) or len(item) > c.MAX_NAME:
                raise ValidationError("Value should be a dictionary of strings of at most "
                                      f"{c.MAX_NAME} characters")
        return dict(value)


def Dict(**kw):
    """A JSON object of string keys and string values."""
    return _StrDict(error_messages=_messages(invalid="Value should be a dictionary"), **kw)


def Tags(**kw):
    """A list of tags, each at most 255 characters."""
    return List(Str(c.MAX_TAG), **kw)


def ProjectId(**kw):
    """A project id (at most 36 characters)."""
    return Str(c.MAX_PROJECT_ID, **kw)


class Strict(Schema):
    """A schema that rejects attributes it does not know."""

    class Meta:
        unknown = RAISE
        ordered = True


def envelope(key, inner, name=None):
    """A schema whose only attribute is the object under its envelope key."""
    return Strict.from_dict({key: fields.Nested(inner, required=True, error_messages=_messages(
        invalid="Value should be an object"))}, name=name or f"{key.title()}Envelope")


class Owned(Strict):
    """A body that may name its project, also under the legacy key tenant_id."""

    project_id = ProjectId()
    tenant_id = ProjectId(load_only=True)

    @post_load
    def _fold_tenant(self, data, **_kw):
        """tenant_id is an alias of project_id and wins when both are sent."""
        if "tenant_id" in data:
            data["project_id"] = data.pop("tenant_id")
        return data
