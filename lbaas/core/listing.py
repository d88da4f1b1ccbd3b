"""Listing: attribute and tag filters, sorting, and keyset pagination as Octavia's API does them."""
import dataclasses
import datetime

from oslo_utils import strutils
from sqlalchemy import and_, func, literal, or_, select
from sqlalchemy.types import BigInteger, Boolean, DateTime, Float, Integer, SmallInteger

from lbaas.core import errors
from lbaas.core.models import Tag

RESERVED = ("limit", "marker", "sort", "sort_key", "sort_dir", "fields", "page_reverse",
            "tags", "tags-any", "not-tags", "not-tags-any")
TAG_PARAMS = ("tags", "tags-any", "not-tags", "not-tags-any")
MAX_LIMIT = 2 ** 31 - 1  # larger LIMITs overflow some databases; no list is that long


@dataclasses.dataclass
class ListOptions:
    """What a caller asked of a list, parsed from its query string."""

    filters: dict
    tags: dict
    sort: list
    limit: int | None
    marker: str | None
    page_reverse: bool
    link_params: list
    paginate: bool = True


@dataclasses.dataclass
class Page:
    """One page of rows and the markers of its neighbours."""

    rows: list
    next_marker: str | None
    previous_marker: str | None
    link_params: list


def _parse_limit(raw, max_limit):
    cap = None if str(max_limit).lower() == "infinite" else int(max_limit)
    if raw is None:
        return cap
    if str(raw).lower() == "infinite":
        return None
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise errors.InvalidLimit(key=raw) from None
    if value < 1:
        return None
    return min(value, MAX_LIMIT if cap is None else cap)


def _parse_sort(args):
    keys = []
    sort = args.get("sort")
    if sort:
        for part in sort[-1].split(","):
            bits = part.strip().split(":")
            if len(bits) > 2 or not bits[0]:
                raise errors.InvalidSortKey(key=part)
            direction = bits[1].lower() if len(bits) == 2 else "asc"
            keys.append((bits[0], direction))
    elif args.get("sort_key"):
        names = [k.strip() for k in ",".join(args["sort_key"]).split(",") if k.strip()]
        dirs = [d.strip().lower() for d in ",".join(args.get("sort_dir") or []).split(",")
                if d.strip()]
        dirs += ["asc"] * (len(names) - len(dirs))
        keys = list(zip(names, dirs))
    for key, direction in keys:
        if direction not in ("asc", "desc"):
            raise errors.InvalidSortDirection(key=direction)
    # A key sorted on again orders nothing more; dropping it keeps the keyset clause (which
    # grows with the square of the keys) bounded by the number of sortable attributes.
    first = {}
    for key, direction in keys:
        first.setdefault(key, direction)
    return list(first.items())


def _distinct(values):
    """The values without repeats, in their first order."""
    return list(dict.fromkeys(values))


def _check_counts(filters, tags, api):
    """400 when a filter carries more values than allowed, or the request does in all."""
    total = 0
    for name, values in list(filters.items()) + list(tags.items()):
        if len(values) > api.max_filter_values:
            raise errors.TooManyFilterValues(name=name, count=len(values),
                                             limit=api.max_filter_values)
        total += len(values)
    if total > api.max_filter_values_per_request:
        raise errors.TooManyFilterValuesInRequest(count=total,
                                                  limit=api.max_filter_values_per_request)


def parse(args, conf):
    """Parse a query string (name to list of values) into ListOptions."""
    api = conf.api_settings
    filters, tags = {}, {}
    for name, values in args.items():
        if name in TAG_PARAMS:
            tags[name] = _distinct(t for v in values for t in v.split(",") if t)
        elif name not in RESERVED:
            filters[name] = _distinct(values)
    if not api.allow_filtering:
        filters = {}
    _check_counts(filters, tags, api)
    sort = _parse_sort(args) if api.allow_sorting else []
    limit = marker = None
    page_reverse = False
    link_params = []
    if api.allow_pagination:
        limit = _parse_limit((args.get("limit") or [None])[-1], api.pagination_max_limit)
        marker = (args.get("marker") or [None])[-1]
        page_reverse = (args.get("page_reverse") or [None])[-1] == "True"
        link_params.append(("limit", str(limit) if limit is not None else "infinite"))
        for key in ("sort", "sort_key"):
            if args.get(key):
                link_params.append((key, args[key][-1]))
    return ListOptions(filters, tags, sort, limit, marker, page_reverse, link_params,
                       paginate=api.allow_pagination)


def _int_bits(ctype):
    """The width of an integer column, as PostgreSQL binds it (a wider value is an error there)."""
    if isinstance(ctype, BigInteger):
        return 64
    if isinstance(ctype, SmallInteger):
        return 16
    return 32


def _coerce(column, value):
    ctype = column.type
    if isinstance(ctype, Boolean):
        return strutils.bool_from_string(value)
    if isinstance(ctype, DateTime):
        try:
            return datetime.datetime.fromisoformat(value)
        except ValueError:
            raise errors.InvalidFilterArgument() from None
    if isinstance(ctype, (Integer, BigInteger)):
        try:
            number = int(value)
        except ValueError:
            raise errors.InvalidFilterArgument() from None
        bits = _int_bits(ctype)
        if not -2 ** (bits - 1) <= number < 2 ** (bits - 1):
            raise errors.InvalidFilterArgument()
        return number
    if isinstance(ctype, Float):
        try:
            return float(value)
        except ValueError:
            raise errors.InvalidFilterArgument() from None
    return value


def _null_substitute(ctype):
    """What NULL compares as when sorting a column of this type ('' or 0, as Octavia does)."""
    if isinstance(ctype, Boolean):
        return False
    if isinstance(ctype, (Integer, BigInteger, Float)):
        return 0
    if isinstance(ctype, DateTime):
        return datetime.datetime(1, 1, 1)
    return ""


def _sort_expr(column):
    """A column as sorted and compared: NULLs compare as the type's substitute."""
    if not column.nullable:
        return column
    return func.coalesce(column, literal(_null_substitute(column.type), column.type))


def _tagged(tags, every):
    """Ids of the objects carrying every one (or any one) of the tags.

    One subquery whatever the number of tags: an object carries all n tags when n of its
    tag rows match, as (resource_id, tag) is unique.
    """
    tags = _distinct(tags)
    stmt = select(Tag.resource_id).where(Tag.tag.in_(tags))
    if every and len(tags) > 1:
        stmt = stmt.group_by(Tag.resource_id).having(func.count() == len(tags))
    return stmt


def apply_filters(stmt, model, options, fields):
    """Add the attribute and tag filters; fields maps API attribute names to columns."""
    for name, values in options.filters.items():
        column = fields.get(name)
        if column is None:
            raise errors.InvalidFilterArgument()
        coerced = [_coerce(column, v) for v in values]
        stmt = stmt.where(column == coerced[0] if len(coerced) == 1 else column.in_(coerced))
    # Objects without tags ignore tag filters, as upstream does.
    tags = options.tags if hasattr(model, "tags") else {}
    for name, every, negate in (("tags", True, False), ("tags-any", False, False),
                                ("not-tags", True, True), ("not-tags-any", False, True)):
        if tags.get(name):
            ids = _tagged(tags[name], every)
            stmt = stmt.where(model.id.not_in(ids) if negate else model.id.in_(ids))
    return stmt


def fetch_page(session, stmt, model, options, fields, plain=False, key="id"):
    """Run a filtered select sorted and paginated as asked; returns a Page.

    stmt selects ORM objects of `model`, or (plain=True) columns of its table, one of them
    `key`: the page then holds the rows as the database returns them. `key` names the
    attribute markers are (a quota's is project_id); created_at, where `fields` has it,
    and then `key` break ties.
    """
    key_column = getattr(model, key)
    stmt = apply_filters(stmt, model, options, fields)
    keys = []
    for name, direction in options.sort:
        column = fields.get(name)
        if column is None:
            raise errors.InvalidSortKey(key=name)
        keys.append((name, column, direction))
    names = [k[0] for k in keys]
    if "created_at" in fields and "created_at" not in names:
        keys.append(("created_at", fields["created_at"], "asc"))
    if key not in names:
        keys.append((key, key_column, "asc"))
    reverse = options.page_reverse
    if options.marker is not None:
        marker_row = session.execute(
            select(*[_sort_expr(col) for _, col, _ in keys]).where(key_column == options.marker)
        ).first()
        if marker_row is None:
            raise errors.InvalidMarker(key=options.marker)
        clauses = []
        for i, (_, column, direction) in enumerate(keys):
            expr = _sort_expr(column)
            ascending = (direction == "asc") != reverse
            # Bound as a parameter: SQLAlchemy refuses < and > against a bare True/False.
            value = literal(marker_row[i], column.type)
            step = expr > value if ascending else expr < value
            equal = [_sort_expr(keys[j][1]) == marker_row[j] for j in range(i)]
            clauses.append(and_(*equal, step))
        stmt = stmt.where(or_(*clauses))
    order = []
    for _, column, direction in keys:
        expr = _sort_expr(column)
        order.append(expr.asc() if (direction == "asc") != reverse else expr.desc())
    stmt = stmt.order_by(*order)
    if options.limit is not None:
        stmt = stmt.limit(options.limit)
    rows = session.execute(stmt).all() if plain else list(session.scalars(stmt).unique())
    if reverse:
        rows.reverse()
    next_marker = previous_marker = None
    if rows and options.paginate:
        if options.limit is None or len(rows) >= options.limit:
            next_marker = getattr(rows[-1], key)
        if options.marker is not None:
            previous_marker = getattr(rows[0], key)
    return Page(rows, next_marker, previous_marker, options.link_params)
