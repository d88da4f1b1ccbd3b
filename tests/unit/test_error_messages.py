"""Marshmallow error trees turned into Octavia's (WSME's) faultstrings."""
from lbaas.api.errors import validation_message

UNKNOWN = ["Unknown field."]


def test_single_unknown_attribute():
    """One unknown key: singular wording with the envelope path."""
    assert validation_message({"loadbalancer": {"color": UNKNOWN}}, {}) == \
        "Unknown attribute for argument loadbalancer: color"


def test_several_unknown_attributes_sorted():
    """Several unknown keys: plural wording, names sorted and comma-joined."""
    messages = {"listener": {"protocol": UNKNOWN, "loadbalancer_id": UNKNOWN}}
    assert validation_message(messages, {}) == \
        "Unknown attributes for argument listener: loadbalancer_id, protocol"


def test_unknown_attribute_in_list_item_uses_dotted_path_without_index():
    """List indexes are not part of the dotted path."""
    messages = {"loadbalancer": {"additional_vips": {0: {"subnet": UNKNOWN}}}}
    assert validation_message(messages, {}) == \
        "Unknown attribute for argument loadbalancer.additional_vips: subnet"


def test_unknown_attribute_wins_over_other_errors():
    """Unknown attributes are reported before type errors beside them."""
    messages = {"pool": {"name": ["Wrong type."], "bogus": UNKNOWN}}
    assert validation_message(messages, {}) == "Unknown attribute for argument pool: bogus"


def test_unknown_top_level_key_names_body():
    """A key beside (instead of) the envelope is reported against the body."""
    assert validation_message({"lb": UNKNOWN}, {}) == "Unknown attribute for argument body: lb"


def test_invalid_value_quotes_raw_value():
    """A type error names the attribute and the value as sent."""
    raw = {"listener": {"protocol_port": "abc"}}
    messages = {"listener": {"protocol_port": ["Wrong type. Expected 'int'"]}}
    assert validation_message(messages, raw) == \
        "Invalid input for field/attribute protocol_port. Value: 'abc'. Wrong type. Expected 'int'"


def test_missing_value_prints_none():
    """A missing mandatory field prints Value: 'None'."""
    messages = {"listener": {"protocol": ["Mandatory field missing."]}}
    assert validation_message(messages, {"listener": {}}) == \
        "Invalid input for field/attribute protocol. Value: 'None'. Mandatory field missing."


def test_error_inside_list_item_resolves_value_by_index():
    """The value of an item error is found through the list index."""
    raw = {"loadbalancer": {"additional_vips": [{"subnet_id": "ok"}, {"subnet_id": "bad"}]}}
    messages = {"loadbalancer": {"additional_vips": {1: {"subnet_id": ["Value should be UUID "
                                                                       "format"]}}}}
    assert validation_message(messages, raw) == \
        "Invalid input for field/attribute subnet_id. Value: 'bad'. Value should be UUID format"


def test_error_on_list_element_names_the_list():
    """An error on a plain list element is reported against the list attribute."""
    raw = {"listener": {"tags": ["a", 5]}}
    messages = {"listener": {"tags": {1: ["Wrong type. Expected 'str'"]}}}
    assert validation_message(messages, raw) == \
        "Invalid input for field/attribute tags. Value: '5'. Wrong type. Expected 'str'"


def test_envelope_not_an_object_names_the_envelope():
    """A non-object envelope value is an invalid input of the envelope key."""
    messages = {"loadbalancer": ["Invalid input type."]}
    assert validation_message(messages, {"loadbalancer": 5}) == \
        "Invalid input for field/attribute loadbalancer. Value: '5'. Invalid input type."


def test_whole_body_schema_error_is_passed_through():
    """An error about the whole body is the faultstring as it is."""
    assert validation_message({"_schema": ["Something whole-body."]}, {}) == \
        "Something whole-body."


def test_nested_schema_error_names_the_object():
    """An error about a nested object is an invalid input of that object, quoting it."""
    raw = {"pool": {"session_persistence": {"type": "APP_COOKIE"}}}
    messages = {"pool": {"session_persistence": {"_schema": ["cookie_name is required."]}}}
    assert validation_message(messages, raw) == (
        "Invalid input for field/attribute session_persistence. Value: "
        "'{'type': 'APP_COOKIE'}'. cookie_name is required.")
