"""listing.parse: a query string turned into filters, tags, sort keys and pagination."""
import pytest

from lbaas import conf as lbaas_conf
from lbaas.core import errors, listing


@pytest.fixture
def conf():
    """A fresh configuration (defaults: max limit 1000, everything allowed)."""
    return lbaas_conf.make_conf()


def parse(conf, **args):
    """Parse keyword arguments given as lists or single strings."""
    return listing.parse({k.replace("_dash_", "-"): v if isinstance(v, list) else [v]
                          for k, v in args.items()}, conf)


def test_absent_limit_is_max_limit(conf):
    """Without limit the page size is pagination_max_limit."""
    assert parse(conf).limit == 1000


@pytest.mark.parametrize("raw", ["0", "-1", "infinite"])
def test_limit_below_one_or_infinite_is_unlimited(conf, raw):
    """0, -1 and infinite mean no limit at all."""
    assert parse(conf, limit=raw).limit is None


def test_limit_is_capped_at_max(conf):
    """A limit above the maximum is cut down."""
    assert parse(conf, limit="5000").limit == 1000


def test_infinite_max_limit_means_no_default_limit(conf):
    """pagination_max_limit=infinite: no limit unless asked."""
    conf.set_override("pagination_max_limit", "infinite", group="api_settings")
    assert parse(conf).limit is None


def test_huge_limit_under_infinite_max_is_bounded(conf):
    """Even without a maximum, a limit stays within what databases accept."""
    conf.set_override("pagination_max_limit", "infinite", group="api_settings")
    assert parse(conf, limit=str(10 ** 30)).limit == listing.MAX_LIMIT


@pytest.mark.parametrize("raw", ["ten", "1.5", ""])
def test_non_integer_limit_is_invalid(conf, raw):
    """A limit that is not an integer raises InvalidLimit naming it."""
    with pytest.raises(errors.InvalidLimit) as info:
        parse(conf, limit=raw)
    assert info.value.message == f"Supplied pagination limit '{raw}' is not valid."


def test_sort_parses_keys_and_directions(conf):
    """sort=k1:dir,k2 gives (key, dir) pairs, asc by default, directions lower-cased."""
    assert parse(conf, sort="name:DESC,id").sort == [("name", "desc"), ("id", "asc")]


def test_sort_key_pads_missing_directions(conf):
    """sort_key with fewer sort_dir values pads with asc."""
    assert parse(conf, sort_key="a,b,c", sort_dir="desc").sort == \
        [("a", "desc"), ("b", "asc"), ("c", "asc")]


def test_sort_wins_over_sort_key(conf):
    """When both are given, sort is used."""
    assert parse(conf, sort="name", sort_key="id", sort_dir="desc").sort == [("name", "asc")]


@pytest.mark.parametrize("args", [{"sort": "name:up"}, {"sort_key": "name", "sort_dir": "x"}])
def test_bad_direction_is_invalid(conf, args):
    """Directions other than asc/desc raise InvalidSortDirection."""
    with pytest.raises(errors.InvalidSortDirection):
        parse(conf, **args)


@pytest.mark.parametrize("raw", ["a:b:c", ":asc"])
def test_malformed_sort_key_is_invalid(conf, raw):
    """Three parts or an empty key raise InvalidSortKey."""
    with pytest.raises(errors.InvalidSortKey):
        parse(conf, sort=raw)


def test_sorting_disabled_ignores_sort(conf):
    """allow_sorting=false drops the sort (without validating it)."""
    conf.set_override("allow_sorting", False, group="api_settings")
    assert parse(conf, sort="a:sideways").sort == []


@pytest.mark.parametrize("raw,expected", [("True", True), ("true", False), ("1", False)])
def test_only_exact_true_reverses(conf, raw, expected):
    """page_reverse is on only for the exact string True."""
    assert parse(conf, page_reverse=raw).page_reverse is expected


def test_last_marker_wins(conf):
    """A repeated marker uses the last value."""
    assert parse(conf, marker=["a", "b"]).marker == "b"


def test_tag_params_are_flattened(conf):
    """Comma lists and repeated parameters make one list per tag parameter."""
    options = parse(conf, tags=["a,b", "c"], tags_dash_any="x", not_dash_tags="", )
    assert options.tags == {"tags": ["a", "b", "c"], "tags-any": ["x"], "not-tags": []}


def test_filters_exclude_reserved_parameters(conf):
    """Only non-reserved parameters are filters, with all their values."""
    options = parse(conf, limit="1", marker="m", sort="a", fields="id", page_reverse="True",
                    name=["x", "y"], tags="t")
    assert options.filters == {"name": ["x", "y"]}


def test_filtering_disabled_drops_filters(conf):
    """allow_filtering=false ignores attribute filters."""
    conf.set_override("allow_filtering", False, group="api_settings")
    assert parse(conf, name="x").filters == {}


def test_link_params_hold_limit_then_sort_then_sort_key(conf):
    """Links carry the effective limit, then sort and sort_key as given, never sort_dir."""
    options = parse(conf, limit="5000", sort="name:desc", sort_key="id", sort_dir="asc",
                    name="x")
    assert options.link_params == [("limit", "1000"), ("sort", "name:desc"), ("sort_key", "id")]


def test_pagination_disabled_ignores_limit_and_marker(conf):
    """allow_pagination=false: no limit, no marker, no links."""
    conf.set_override("allow_pagination", False, group="api_settings")
    options = parse(conf, limit="2", marker="m")
    assert (options.limit, options.marker, options.paginate) == (None, None, False)


def test_a_repeated_sort_key_keeps_its_first_direction(conf):
    """name:desc,id,name:asc,name sorts on name (descending) then id: repeats say nothing."""
    assert parse(conf, sort="name:desc,id,name:asc,name").sort == [("name", "desc"),
                                                                   ("id", "asc")]


def test_filter_and_tag_values_lose_their_repeats(conf):
    """Repeated values count once, in their first order."""
    options = parse(conf, id=["b", "a", "b"], tags=["x,y,x", "y"])
    assert (options.filters["id"], options.tags["tags"]) == (["b", "a"], ["x", "y"])


def test_distinct_values_over_the_cap_raise(conf):
    """51 distinct values of one filter raise TooManyFilterValues; 50 do not."""
    parse(conf, name=[f"n{i}" for i in range(50)])
    with pytest.raises(errors.TooManyFilterValues) as info:
        parse(conf, tags_dash_any=",".join(f"t{i}" for i in range(51)))
    assert info.value.code == 400 and "'tags-any'" in info.value.message


def test_values_over_the_request_cap_raise(conf):
    """The caps add up over every filter and tag filter of the request."""
    conf.set_override("max_filter_values_per_request", 4, group="api_settings")
    parse(conf, name=["a", "b"], tags="x,y")
    with pytest.raises(errors.TooManyFilterValuesInRequest):
        parse(conf, name=["a", "b"], tags="x,y,z")
