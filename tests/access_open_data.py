"""Rows of the role × URL matrix (tests/test_access.py) for the open data pages and API:
{url name: (method, url builder taking the `objects` fixture, statuses by role)}.

Everything here is public: the same answer for the anonymous visitor and every member of the cast
(signed-in callers of the API see more indicators, not other statuses). The demo seeds no
indicator: the pages naming one define a published indicator first.
"""

from django.urls import reverse

from cadre.indicators.actions import define_indicator
from cadre.indicators.models import Indicator
from tests.test_access import LOGIN, row  # noqa: F401 — imported while test_access is loading: defined above

PUBLIC = row(*[200] * 8)


def published_indicator(objects):
    """A current published indicator (one is defined when the database has none)."""
    found = Indicator.objects.current().filter(is_public=True).first()
    if found is None:
        fields = {"title": "Structures observées", "theme": "key_figures", "kind": "count", "method": "Nombre."}
        found = define_indicator("matrice_observees", {**fields, "is_public": True}, recompute=False)[1]
    return found


ROWS = {
    "open_data:index": ("get", lambda o: reverse("open_data:index") + "?territory=department:69", PUBLIC),
    "open_data:values_csv": ("get", lambda o: reverse("open_data:values_csv") + "?level=department", PUBLIC),
    "open_data:indicator": (
        "get",
        lambda o: reverse("open_data:indicator", args=[published_indicator(o).uuid]),
        PUBLIC,
    ),
    "api-1.0.0:indicators": ("get", lambda o: reverse("api-1.0.0:indicators"), PUBLIC),
    "api-1.0.0:indicator": (
        "get",
        lambda o: reverse("api-1.0.0:indicator", args=[published_indicator(o).uuid]),
        PUBLIC,
    ),
    "api-1.0.0:indicator_values": (
        "get",
        lambda o: reverse("api-1.0.0:indicator_values") + "?level=department&territory=69",
        PUBLIC,
    ),
}
