"""Pages of a list with their total from one query (COUNT(*) OVER ()) instead of two."""

from django.core.paginator import Page, Paginator
from django.db.models import Count, Window
from django.utils.functional import cached_property


class _KnownCountPaginator(Paginator):
    def __init__(self, count, per_page):
        super().__init__([], per_page)
        self._known_count = count

    @cached_property
    def count(self):
        return self._known_count


def rows_and_total(queryset, offset, size):
    """`size` rows from `offset` and the total count, in one query when the slice is not empty."""
    rows = list(queryset.annotate(_total=Window(Count("pk")))[offset : offset + size])
    return rows, (rows[0]._total if rows else queryset.count())


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
