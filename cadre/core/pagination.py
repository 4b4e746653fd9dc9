"""Pages of a list with their total, counted only when the page itself does not tell it."""

from django.core.paginator import Page, Paginator
from django.utils.functional import cached_property


class _KnownCountPaginator(Paginator):
    def __init__(self, count, per_page):
        super().__init__([], per_page)
        self._known_count = count

    @cached_property
    def count(self):
        return self._known_count


def rows_and_total(queryset, offset, size):
    """`size` rows from `offset` and the total count: one query for a last page, two otherwise.

    Not COUNT(*) OVER () in the page's query: the window makes PostgreSQL join and number every row
    (a directory of 4,000 structures with their communes) before it keeps 25, where LIMIT alone walks
    an index and stops."""
    rows = list(queryset[offset : offset + size])
    if 0 < len(rows) < size:
        return rows, offset + len(rows)
    return rows, queryset.count()


def paginate(queryset, number, per_page):
    """The page `number` of `queryset` (last page if beyond, first if not a number)."""
    try:
        number = max(int(number), 1)
    except (TypeError, ValueError):
        number = 1
    offset = (number - 1) * per_page
    rows, total = rows_and_total(queryset, offset, per_page)
    if not rows and total and offset >= total:
        number = (total + per_page - 1) // per_page
        rows = list(queryset[(number - 1) * per_page : number * per_page])
    return Page(rows, number if total else 1, _KnownCountPaginator(total, per_page))
