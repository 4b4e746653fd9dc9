"""Sortable column headers of a list, shared by every list that sorts by a `sort` parameter.

A list declares its columns as `SortColumn(label, orders)`, `orders` the values of its `sort` parameter that sort
by this column, the one applied at the first click first, each with its direction and the words that say it
(« de A à Z »). `sort_headers` gives, for the template `includes/sort_header.html`, each header's link (the
page's query with that sort, the page number dropped: filters are kept), the `aria-sort` of the column sorted now,
and the link's text, which says the sort it applies. The same parameter drives the page, its htmx fragment and
its exports, so that an export follows the order on screen."""

import dataclasses

ASCENDING, DESCENDING = "ascending", "descending"


@dataclasses.dataclass(frozen=True)
class SortOrder:
    key: str  # the value of the `sort` parameter
    direction: str  # ASCENDING or DESCENDING, for aria-sort and the arrow
    words: str  # « de A à Z », « alerte d'abord »


@dataclasses.dataclass(frozen=True)
class SortColumn:
    label: str
    orders: tuple = ()  # SortOrder, the first applied at the first click; none: the column does not sort


@dataclasses.dataclass
class SortHeader:
    label: str
    query: str = ""  # the query string of the link, without "?"
    aria_sort: str = ""  # on the column sorted now
    link_text: str = ""  # what the link does, read by screen readers and shown on hover
    current: str = ""  # the direction of the column sorted now (its arrow)

    @property
    def sortable(self):
        return bool(self.query)


def sort_headers(columns, query, current, param="sort"):
    """[SortHeader] of `columns` for a list read with `query` (request.GET) and sorted by `current` (a key)."""
    headers = []
    for column in columns:
        header = SortHeader(column.label)
        headers.append(header)
        if not column.orders:
            continue
        keys = [order.key for order in column.orders]
        following = column.orders[0]
        if current in keys:
            now = column.orders[keys.index(current)]
            header.aria_sort = header.current = now.direction
            following = column.orders[(keys.index(current) + 1) % len(column.orders)]
        params = query.copy()
        params.pop("page", None)
        params[param] = following.key
        header.query = params.urlencode()
        header.link_text = f"Trier par {column.label.lower()}, {following.words}"
    return headers
