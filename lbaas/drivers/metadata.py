"""Flavor and availability-zone metadata: the keys a built-in driver knows, checked by type.

A schema maps each key to (rule, description). A rule is a type (str, bool), a tuple of
the allowed strings, or STRING_LIST. Upstream Octavia checks these with JSON schema; the
messages here follow its wording, so a refusal reads the same.
"""
from octavia_lib.api.drivers import exceptions as lib_exc

STRING_LIST = "string list"
_TYPE_NAMES = {str: "string", bool: "boolean"}

TOPOLOGY = ("SINGLE", "ACTIVE_STANDBY")   # loadbalancer_topology's values


def refuse(message):
    """Raise the octavia-lib error a driver raises for metadata it cannot honour."""
    raise lib_exc.UnsupportedOptionError(user_fault_string=message,
                                         operator_fault_string=message)


def descriptions(schema):
    """The key -> description answer of get_supported_*_metadata."""
    return {key: description for key, (_, description) in schema.items()}


def _check_value(key, value, rule):
    if isinstance(rule, tuple):
        if not isinstance(value, str) or value not in rule:
            refuse(f"{key} {value!r} is not one of {list(rule)!r}")
    elif rule == STRING_LIST:
        if not isinstance(value, list):
            refuse(f"{key} {value!r} is not of type 'array'")
        for item in value:
            if not isinstance(item, str):
                refuse(f"{key} {item!r} is not of type 'string'")
    elif not isinstance(value, rule):
        refuse(f"{key} {value!r} is not of type '{_TYPE_NAMES[rule]}'")


def check(metadata, schema):
    """Raise UnsupportedOptionError unless every key is known and has a value its rule
    allows."""
    if not isinstance(metadata, dict):
        refuse(f"{metadata!r} is not of type 'object'")
    unknown = [k for k in metadata if k not in schema]
    if unknown:
        names = ", ".join(repr(k) for k in unknown)
        verb = "was" if len(unknown) == 1 else "were"
        refuse(f"Additional properties are not allowed ({names} {verb} unexpected)")
    for key, value in metadata.items():
        _check_value(key, value, schema[key][0])


class DeclaredMetadata:
    """A provider driver's four flavor and availability-zone methods, answered from the
    schemas it declares as `flavor_metadata` and `zone_metadata`."""

    flavor_metadata = {}
    zone_metadata = {}

    def get_supported_flavor_metadata(self):
        """The flavor keys this driver accepts, with what each does here."""
        return descriptions(self.flavor_metadata)

    def validate_flavor(self, flavor_metadata):
        """Refuse (UnsupportedOptionError) unknown keys and values of the wrong type."""
        check(flavor_metadata, self.flavor_metadata)

    def get_supported_availability_zone_metadata(self):
        """The availability-zone keys this driver accepts, with what each does here."""
        return descriptions(self.zone_metadata)

    def validate_availability_zone(self, availability_zone_metadata):
        """Refuse (UnsupportedOptionError) unknown keys and values of the wrong type."""
        check(availability_zone_metadata, self.zone_metadata)
