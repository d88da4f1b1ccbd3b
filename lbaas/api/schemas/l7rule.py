"""Request bodies of the L7 rule resource (envelope key `rule`)."""
from lbaas.api.schemas import fields as f
from lbaas.core import constants as c

# Keys and values go into HAProxy configuration lines: no line breaks.
ONE_LINE = r"^[^\r\n]*$"


class L7RulePUT(f.Strict):
    type = f.Enum(c.L7_RULE_TYPES, allow_none=True)
    compare_type = f.Enum(c.L7_COMPARE_TYPES, allow_none=True)
    key = f.Str(allow_none=True, pattern=ONE_LINE)
    value = f.Str(allow_none=True, pattern=ONE_LINE)
    invert = f.Bool(allow_none=True)
    admin_state_up = f.Bool(allow_none=True)
    tags = f.Tags(allow_none=True)


class GraphL7Rule(L7RulePUT):
    """A rule nested in an L7 policy (of a load balancer graph, or of a policy create)."""

    type = f.Enum(c.L7_RULE_TYPES, required=True)
    compare_type = f.Enum(c.L7_COMPARE_TYPES, required=True)
    value = f.Str(required=True, pattern=ONE_LINE)


class L7RulePOST(GraphL7Rule, f.Owned):
    pass


L7RuleCreate = f.envelope("rule", L7RulePOST, "L7RuleCreate")
L7RuleUpdate = f.envelope("rule", L7RulePUT, "L7RuleUpdate")
