"""Rows of the role × URL matrix (tests/test_access.py): {url name: (method, url builder, statuses by role)}."""

from django.urls import reverse

from cadre.indicators.actions import define_indicator
from cadre.indicators.models import Indicator
from tests.test_access import LOGIN, row  # noqa: F401 — imported while test_access is loading

# Definitions are read by everyone signed in; only the data manager (administrator) writes them.
SIGNED_IN = row(LOGIN, *[200] * 7)
ADMIN_ONLY = row(LOGIN, *[403] * 6, 200)


def indicator():
    """A current indicator: the demo data may have none loaded (then one reading the registry is defined)."""
    found = Indicator.objects.current().first()
    if found is None:
        found = define_indicator(
            "matrice_gestion_associative",
            {
                "title": "Part des structures en gestion associative",
                "theme": "key_figures",
                "kind": "share",
                "unit": "%",
                "method": "Part des structures que le répertoire dit en gestion associative.",
                "source": "registry:management",
                "operator": "any_of",
                "choice_codes": ["association"],
            },
            recompute=False,
        )[1]
    return found


ROWS = {
    "indicator_definitions:list": ("get", lambda o: reverse("indicator_definitions:list"), SIGNED_IN),
    "indicator_definitions:create": ("get", lambda o: reverse("indicator_definitions:create"), ADMIN_ONLY),
    "indicator_definitions:detail": (
        "get",
        lambda o: reverse("indicator_definitions:detail", args=[indicator().uuid]),
        SIGNED_IN,
    ),
    "indicator_definitions:edit": (
        "get",
        lambda o: reverse("indicator_definitions:edit", args=[indicator().uuid]),
        ADMIN_ONLY,
    ),
}
