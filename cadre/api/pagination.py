"""Page-numbered lists: `?page=` and `?page_size=` (capped), answered as {count, page, page_size, results}."""

from django.conf import settings
from ninja import Field, Schema

from cadre.core.pagination import rows_and_total


class PageParams(Schema):
    page: int = Field(1, ge=1, description="Numéro de page, à partir de 1.")
    page_size: int | None = Field(
        None,
        ge=1,
        description=f"Taille de page (par défaut {settings.CADRE_PAGE_SIZE}, "
        f"au plus {settings.CADRE_API_MAX_PAGE_SIZE}).",
    )


def paginate(queryset, params: PageParams):
    size = min(params.page_size or settings.CADRE_PAGE_SIZE, settings.CADRE_API_MAX_PAGE_SIZE)
    # The primary key breaks ties, so that no row appears on two pages or on none.
    ordering = list(queryset.query.order_by) or list(queryset.model._meta.ordering)
    queryset = queryset.order_by(*ordering, "pk")
    rows, total = rows_and_total(queryset, (params.page - 1) * size, size)
    return {"count": total, "page": params.page, "page_size": size, "results": rows}
