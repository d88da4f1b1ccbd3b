"""What the amphora renderers write: no value may break a line of a HAProxy or keepalived file.

The API refuses line breaks and other control characters in every field that is rendered
(lbaas.core.services.config_rules). The renderers check again, on everything a template
receives, whatever the database holds: one line break in a value would start a directive
of its own in the file. Such a load balancer is not rendered at all.
"""
import dataclasses
import re

from octavia_lib.api.drivers import exceptions

# C0 controls (a tab included: rendered words carry it escaped, as "\t"), DEL, NEL and the
# Unicode line and paragraph separators
_CONTROL = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]")


class UnsafeConfigValue(exceptions.DriverError):
    """A value that would break a line of a rendered file."""

    def __init__(self, where, path, value):
        super().__init__(
            user_fault_string="A value of this load balancer contains a line break or another "
                              "control character and cannot be written into its "
                              "configuration.",
            operator_fault_string=f"{where}: refusing to render {path} = {value!r}: it holds "
                                  "a line break or another control character")
        self.path, self.value = path, value

    def __str__(self):
        return self.operator_fault_string   # what the worker's log shows


def check(context, where):
    """Raise UnsafeConfigValue for the first string of a template context (dicts, lists,
    tuples, dataclasses, nested) holding a control character; where names the file."""
    stack = [("", context)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, str):
            if _CONTROL.search(value):
                raise UnsafeConfigValue(where, path or "value", value)
        elif isinstance(value, dict):
            stack.extend((f"{path}.{key}" if path else str(key), item)
                         for key, item in value.items())
            stack.extend((f"{path}.<key>", key) for key in value if isinstance(key, str))
        elif isinstance(value, (list, tuple)):
            stack.extend((f"{path}[{i}]", item) for i, item in enumerate(value))
        elif dataclasses.is_dataclass(value) and not isinstance(value, type):
            stack.extend((f"{path}.{field.name}" if path else field.name,
                          getattr(value, field.name)) for field in dataclasses.fields(value))
