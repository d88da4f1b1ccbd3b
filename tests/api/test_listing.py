"""Lists of load balancers and listeners: fields=, pagination and links, sorting, filters, tags."""
import pytest

from lbaas.core import models
from tests.api.support import LBS, LISTENERS, create_listener, db, fault, lb_url, overridden

HOST = "http://localhost"


@pytest.fixture
def three(client, project):
    """Three ACTIVE load balancers of the project named c, a, b (created in that order)."""
    return [client.create_lb(project, name=n, description=f"d-{n}") for n in "cab"]


def ids(resp, key="loadbalancers"):
    """The ids of a list answer, in order."""
    return [o["id"] for o in resp.get_json()[key]]


def links(resp, key="loadbalancers"):
    """The links of a list answer."""
    return resp.get_json()[f"{key}_links"]


def scoped(project, query=""):
    """The load balancer list URL narrowed to a project, with more query parameters."""
    return f"{LBS}?project_id={project}" + (f"&{query}" if query else "")


# fields=

def test_fields_trims_list_items(client, project, three):
    """fields= keeps only the named attributes of every item."""
    body = client.get(scoped(project, "fields=id&fields=name")).get_json()
    assert all(set(o) == {"id", "name"} for o in body["loadbalancers"])


def test_fields_trims_show(client, three):
    """fields= applies to GET one too."""
    body = client.get(lb_url(three[0]["id"]) + "?fields=name").get_json()
    assert body == {"loadbalancer": {"name": "c"}}


def test_fields_unknown_names_are_ignored(client, three):
    """Unknown names in fields= are silently dropped."""
    body = client.get(lb_url(three[0]["id"]) + "?fields=name&fields=bogus").get_json()
    assert body == {"loadbalancer": {"name": "c"}}


def test_fields_on_listener_list(client, project):
    """fields= works on listeners as well."""
    lb = client.create_lb(project)
    create_listener(client, lb)
    body = client.get(f"{LISTENERS}?loadbalancer_id={lb['id']}&fields=protocol_port").get_json()
    assert body["listeners"] == [{"protocol_port": 80}]


def test_fields_disabled_by_config(client, app, three):
    """allow_field_selection=false ignores fields=."""
    with overridden(app, **{"api_settings.allow_field_selection": False}):
        body = client.get(lb_url(three[0]["id"]) + "?fields=name").get_json()
    assert "id" in body["loadbalancer"]


# Default order and list envelope.

def test_list_envelope_has_empty_links(client, project, three):
    """A list answer carries its objects and an empty links array when nothing is left."""
    resp = client.get(scoped(project))
    assert set(resp.get_json()) == {"loadbalancers", "loadbalancers_links"}
    assert links(resp) == []


def test_default_order_is_creation_order(client, project, three):
    """Without sort, items come by created_at then id."""
    body = client.get(scoped(project)).get_json()["loadbalancers"]
    expected = sorted(three, key=lambda lb: (lb["created_at"], lb["id"]))
    assert [o["id"] for o in body] == [o["id"] for o in expected]


# Pagination and links.

def test_limit_cuts_the_page_and_links_next(client, project, three):
    """limit=2 returns two items and a next link holding only limit and marker."""
    resp = client.get(scoped(project, "limit=2"))
    page = ids(resp)
    assert len(page) == 2
    assert links(resp) == [{"href": f"{HOST}{LBS}?limit=2&marker={page[1]}", "rel": "next"}]


def test_next_marker_continues_after_the_marker(client, project, three):
    """Following the marker gives the rest, with a previous link and no next link."""
    first = ids(client.get(scoped(project, "limit=2")))
    resp = client.get(scoped(project, f"limit=2&marker={first[1]}"))
    rest = ids(resp)
    assert len(rest) == 1 and rest[0] not in first
    assert links(resp) == [{"href": f"{HOST}{LBS}?limit=2&marker={rest[0]}&page_reverse=True",
                            "rel": "previous"}]


def test_exactly_full_last_page_still_links_next(client, project, three):
    """A page exactly as long as limit gets a next link even if nothing follows."""
    resp = client.get(scoped(project, "limit=3"))
    assert [link["rel"] for link in links(resp)] == ["next"]


def test_empty_page_has_no_links(client, project, three):
    """Past the end: no items, no links."""
    last = ids(client.get(scoped(project)))[-1]
    resp = client.get(scoped(project, f"limit=2&marker={last}"))
    assert (ids(resp), links(resp)) == ([], [])


def test_links_keep_the_path_the_client_used(client, project, three):
    """/v2.0 and the .json suffix survive into the links."""
    resp = client.get(f"/v2.0/lbaas/loadbalancers.json?project_id={project}&limit=1")
    href = links(resp)[0]["href"]
    assert href.startswith(f"{HOST}/v2.0/lbaas/loadbalancers.json?limit=1&marker=")


def test_links_carry_sort_but_not_filters_fields_or_sort_dir(client, project, three):
    """Links hold limit, sort_key, marker: no project_id, fields or sort_dir."""
    resp = client.get(scoped(project, "limit=1&sort_key=name&sort_dir=desc&fields=id"))
    assert links(resp)[0]["href"] == f"{HOST}{LBS}?limit=1&sort_key=name&marker={ids(resp)[0]}"


def test_links_keep_sort_text_verbatim(client, project, three):
    """sort=name:desc,id appears as written, not percent-encoded."""
    resp = client.get(scoped(project, "limit=1&sort=name:desc,id"))
    assert links(resp)[0]["href"] == \
        f"{HOST}{LBS}?limit=1&sort=name:desc,id&marker={ids(resp)[0]}"


def test_links_use_api_base_uri(client, app, project, three):
    """[api_settings] api_base_uri replaces the request's host in links."""
    with overridden(app, **{"api_settings.api_base_uri": "https://lb.example:9876/"}):
        resp = client.get(scoped(project, "limit=1"))
    assert links(resp)[0]["href"].startswith(f"https://lb.example:9876{LBS}?limit=1&marker=")


def test_page_reverse_returns_items_before_marker_in_order(client, project, three):
    """page_reverse=True pages backwards from the marker; the page keeps ascending order."""
    all_ids = ids(client.get(scoped(project)))
    resp = client.get(scoped(project, f"limit=2&marker={all_ids[2]}&page_reverse=True"))
    assert ids(resp) == all_ids[:2]


def test_page_reverse_lowercase_does_not_reverse(client, project, three):
    """Only the exact string True reverses."""
    all_ids = ids(client.get(scoped(project)))
    resp = client.get(scoped(project, f"marker={all_ids[0]}&page_reverse=true"))
    assert ids(resp) == all_ids[1:]


@pytest.mark.parametrize("limit", ["0", "-1", "infinite"])
def test_limit_below_one_or_infinite_means_no_limit(client, app, project, three, limit):
    """limit 0, -1 or infinite return everything, even past pagination_max_limit."""
    with overridden(app, **{"api_settings.pagination_max_limit": "1"}):
        assert len(ids(client.get(scoped(project, f"limit={limit}")))) == 3


def test_limit_is_capped_by_max_limit(client, app, project, three):
    """A limit above pagination_max_limit is cut down to it, and links say so."""
    with overridden(app, **{"api_settings.pagination_max_limit": "2"}):
        resp = client.get(scoped(project, "limit=50"))
    assert len(ids(resp)) == 2
    assert links(resp)[0]["href"].startswith(f"{HOST}{LBS}?limit=2&")


def test_max_limit_applies_without_limit(client, app, project, three):
    """With no limit, pagination_max_limit is the page size."""
    with overridden(app, **{"api_settings.pagination_max_limit": "2"}):
        assert len(ids(client.get(scoped(project)))) == 2


def test_pagination_disabled_by_config(client, app, project, three):
    """allow_pagination=false ignores limit and gives no links."""
    with overridden(app, **{"api_settings.allow_pagination": False}):
        resp = client.get(scoped(project, "limit=1"))
    assert (len(ids(resp)), links(resp)) == (3, [])


def test_invalid_limit_is_400(client):
    """A limit that is not an integer is refused with Octavia's text."""
    resp = client.get(f"{LBS}?limit=ten")
    assert (resp.status_code, fault(resp)) == (400, "Supplied pagination limit 'ten' is not valid.")


def test_unknown_marker_is_400(client):
    """A marker that names no load balancer is refused."""
    resp = client.get(f"{LBS}?marker=nope")
    assert (resp.status_code, fault(resp)) == \
        (400, "Supplied pagination marker 'nope' is not valid.")


def test_listener_pagination(client, project):
    """Listener lists page the same way."""
    lb = client.create_lb(project)
    for port in (80, 81, 82):
        create_listener(client, lb, "TCP", port)
    url = f"{LISTENERS}?loadbalancer_id={lb['id']}&limit=2"
    resp = client.get(url)
    assert len(ids(resp, "listeners")) == 2
    assert links(resp, "listeners") == [
        {"href": f"{HOST}{LISTENERS}?limit=2&marker={ids(resp, 'listeners')[1]}", "rel": "next"}]


# Sorting.

def test_sort_by_name_ascending(client, project, three):
    """sort=name orders by name, ascending by default."""
    body = client.get(scoped(project, "sort=name")).get_json()["loadbalancers"]
    assert [o["name"] for o in body] == ["a", "b", "c"]


def test_sort_by_name_descending_case_insensitive(client, project, three):
    """sort=name:DESC orders descending."""
    body = client.get(scoped(project, "sort=name:DESC")).get_json()["loadbalancers"]
    assert [o["name"] for o in body] == ["c", "b", "a"]


def test_legacy_sort_key_and_dir(client, project, three):
    """sort_key/sort_dir work as the older form of sort."""
    body = client.get(scoped(project, "sort_key=name&sort_dir=desc")).get_json()
    assert [o["name"] for o in body["loadbalancers"]] == ["c", "b", "a"]


def test_sort_wins_over_sort_key(client, project, three):
    """When both are given, sort is used."""
    body = client.get(scoped(project, "sort=name:asc&sort_key=name&sort_dir=desc")).get_json()
    assert [o["name"] for o in body["loadbalancers"]] == ["a", "b", "c"]


def test_sort_on_several_keys(client, project):
    """Later keys break ties of earlier ones."""
    made = [client.create_lb(project, name=n, description=d)
            for n, d in (("x", "2"), ("x", "1"), ("a", "9"))]
    body = client.get(scoped(project, "sort=name:desc,description:asc")).get_json()
    assert [o["id"] for o in body["loadbalancers"]] == [made[1]["id"], made[0]["id"], made[2]["id"]]


def test_sort_by_translated_key(client, project, three):
    """Response attribute names such as vip_address are valid sort keys."""
    body = client.get(scoped(project, "sort=vip_address:desc")).get_json()["loadbalancers"]
    addresses = [o["vip_address"] for o in body]
    assert addresses == sorted(addresses, reverse=True)


def test_sorted_pages_continue_in_sort_order(client, project, three):
    """Keyset pagination follows the requested order across pages."""
    first = client.get(scoped(project, "sort=name:desc&limit=2")).get_json()["loadbalancers"]
    marker = first[-1]["id"]
    rest = client.get(scoped(project, f"sort=name:desc&limit=2&marker={marker}")).get_json()
    assert [o["name"] for o in first + rest["loadbalancers"]] == ["c", "b", "a"]


def test_pages_sorted_on_a_nullable_timestamp_cover_everything_once(client, app, project,
                                                                   three):
    """Sorting on updated_at (null for some rows) pages through every item exactly once."""
    with db(app).write() as session:
        for lb in (three[0], three[2]):
            session.get(models.LoadBalancer, lb["id"]).updated_at = None
    seen, marker = [], None
    for _ in range(4):
        query = "sort=updated_at:desc&limit=1" + (f"&marker={marker}" if marker else "")
        page = ids(client.get(scoped(project, query)))
        if not page:
            break
        seen += page
        marker = page[-1]
    assert sorted(seen) == sorted(lb["id"] for lb in three)
    assert seen[0] == three[1]["id"]


def test_filter_by_timestamp(client, project, three):
    """created_at filters by exact timestamp; a non-timestamp is refused."""
    when = three[0]["created_at"]
    assert three[0]["id"] in ids(client.get(scoped(project, f"created_at={when}")))
    assert client.get(scoped(project, "created_at=yesterday")).status_code == 400


def test_listener_sort_by_port_descending(client, project):
    """Listeners sort by protocol_port."""
    lb = client.create_lb(project)
    for port in (81, 83, 82):
        create_listener(client, lb, "TCP", port)
    body = client.get(f"{LISTENERS}?loadbalancer_id={lb['id']}&sort=protocol_port:desc").get_json()
    assert [o["protocol_port"] for o in body["listeners"]] == [83, 82, 81]


def test_unknown_sort_key_is_400(client):
    """An attribute that does not exist cannot be sorted on."""
    resp = client.get(f"{LBS}?sort=bogus")
    assert (resp.status_code, fault(resp)) == (400, "Supplied sort key 'bogus' is not valid.")


@pytest.mark.parametrize("query", ["sort=name:up", "sort_key=name&sort_dir=sideways"])
def test_invalid_sort_direction_is_400(client, query):
    """Directions other than asc/desc are refused."""
    resp = client.get(f"{LBS}?{query}")
    assert resp.status_code == 400
    assert fault(resp).startswith("Supplied sort direction '")


def test_sort_with_two_colons_is_400(client):
    """a:b:c is not a sort key."""
    assert client.get(f"{LBS}?sort=name:asc:x").status_code == 400


def test_sorting_disabled_by_config(client, app, project, three):
    """allow_sorting=false ignores sort (even an invalid one)."""
    with overridden(app, **{"api_settings.allow_sorting": False}):
        assert client.get(scoped(project, "sort=bogus:sideways")).status_code == 200


# Attribute filters.

def test_filter_by_name(client, project, three):
    """An attribute equality filter."""
    body = client.get(scoped(project, "name=b")).get_json()["loadbalancers"]
    assert [o["name"] for o in body] == ["b"]


def test_filters_are_anded(client, project, three):
    """Two filters must both match."""
    assert ids(client.get(scoped(project, "name=b&description=d-c"))) == []


def test_project_id_filter_narrows_the_list(client, project, three):
    """project_id filters to one project."""
    body = client.get(scoped(project)).get_json()["loadbalancers"]
    assert {o["project_id"] for o in body} == {project} and len(body) == 3


@pytest.mark.parametrize("word,expected", [("false", 1), ("False", 1), ("0", 1), ("true", 2),
                                           ("1", 2), ("yes", 2)])
def test_boolean_filter_uses_oslo_words(client, project, three, word, expected):
    """admin_state_up filter values are parsed as oslo booleans."""
    client.put(lb_url(three[0]["id"]), {"loadbalancer": {"admin_state_up": False}})
    client.wait(lb_url(three[0]["id"]), "loadbalancer")
    assert len(ids(client.get(scoped(project, f"admin_state_up={word}")))) == expected


def test_filter_by_vip_address(client, project, three):
    """vip_address is a filter."""
    wanted = three[1]
    assert ids(client.get(scoped(project, f"vip_address={wanted['vip_address']}"))) == \
        [wanted["id"]]


def test_filter_by_status(client, project, three):
    """provisioning_status and operating_status are filters."""
    assert len(ids(client.get(scoped(project, "provisioning_status=ACTIVE&"
                                               "operating_status=ONLINE")))) == 3


def test_unknown_filter_is_400(client):
    """A query parameter that is no attribute is refused."""
    resp = client.get(f"{LBS}?color=blue")
    assert (resp.status_code, fault(resp)) == (
        400, "One or more arguments are either duplicate or invalid")


@pytest.mark.parametrize("value", ["2147483648", "-2147483649", "-5903162377107",
                                   "9223372036854775808"])
def test_integer_filter_wider_than_its_column_is_400(client, project, value):
    """protocol_port=2147483648 (found by the fuzz) is refused, not a PostgreSQL overflow (500)."""
    lb = client.create_lb(project)
    create_listener(client, lb, "HTTP", 80)
    resp = client.get(f"{LISTENERS}?project_id={project}&protocol_port={value}")
    assert (resp.status_code, fault(resp)) == (
        400, "One or more arguments are either duplicate or invalid")


def test_integer_filter_at_its_column_bounds_is_200(client, project):
    """The widest values an INTEGER column holds still filter (and match nothing here)."""
    for value in ("2147483647", "-2147483648"):
        resp = client.get(f"{LISTENERS}?project_id={project}&protocol_port={value}")
        assert (resp.status_code, resp.get_json()["listeners"]) == (200, [])


def test_filtering_disabled_by_config(client, app, project, three):
    """allow_filtering=false ignores filters (unknown ones too)."""
    with overridden(app, **{"api_settings.allow_filtering": False}):
        assert client.get(f"{LBS}?color=blue").status_code == 200


def test_listener_filters_by_load_balancer_and_protocol(client, project):
    """loadbalancer_id, protocol and protocol_port filter listeners."""
    lb = client.create_lb(project)
    create_listener(client, lb, "HTTP", 80)
    udp = create_listener(client, lb, "UDP", 80)
    url = f"{LISTENERS}?loadbalancer_id={lb['id']}&protocol=UDP&protocol_port=80"
    assert ids(client.get(url), "listeners") == [udp["id"]]


def test_listener_unknown_filter_is_400(client):
    """Unknown listener filters are refused too."""
    assert client.get(f"{LISTENERS}?vip_address=1.2.3.4").status_code == 400


# Tag filters.

@pytest.fixture
def tagged(client, project):
    """Load balancers tagged [a,b], [a], [b,c] and untagged, by name."""
    made = {name: client.create_lb(project, name=name, tags=tags)
            for name, tags in (("ab", ["a", "b"]), ("a", ["a"]), ("bc", ["b", "c"]), ("none", []))}
    return made


def names(resp):
    """The sorted names of a list answer."""
    return sorted(o["name"] for o in resp.get_json()["loadbalancers"])


def test_tags_requires_all(client, project, tagged):
    """tags=a,b keeps objects having both."""
    assert names(client.get(scoped(project, "tags=a,b"))) == ["ab"]


def test_tags_repeated_params_are_flattened(client, project, tagged):
    """tags=a&tags=b means the same as tags=a,b."""
    assert names(client.get(scoped(project, "tags=a&tags=b"))) == ["ab"]


def test_tags_any_requires_one(client, project, tagged):
    """tags-any=a,c keeps objects having either."""
    assert names(client.get(scoped(project, "tags-any=a,c"))) == ["a", "ab", "bc"]


def test_not_tags_excludes_those_having_all(client, project, tagged):
    """not-tags=a,b drops only objects having both."""
    assert names(client.get(scoped(project, "not-tags=a,b"))) == ["a", "bc", "none"]


def test_not_tags_any_excludes_those_having_one(client, project, tagged):
    """not-tags-any=a,c drops objects having either."""
    assert names(client.get(scoped(project, "not-tags-any=a,c"))) == ["none"]


def test_tag_filters_combine(client, project, tagged):
    """Tag filters combine with each other and with attribute filters."""
    assert names(client.get(scoped(project, "tags-any=a,b&not-tags=c&name=a"))) == ["a"]


def test_listener_tag_filter(client, project):
    """Listeners filter by tags too."""
    lb = client.create_lb(project)
    create_listener(client, lb, "TCP", 80, tags=["blue"])
    blue = create_listener(client, lb, "TCP", 81, tags=["blue", "green"])
    url = f"{LISTENERS}?loadbalancer_id={lb['id']}&tags=blue,green"
    assert ids(client.get(url), "listeners") == [blue["id"]]
