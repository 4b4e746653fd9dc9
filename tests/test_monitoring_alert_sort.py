"""The alerts list sorts by its column headers: links that keep the filters, work with htmx and without
JavaScript, say the sort they apply, mark the sorted column with aria-sort, and set the `sort` parameter that the
CSV and XLSX exports follow."""

import csv
import io
import re
from urllib.parse import parse_qs

import pytest
from django.urls import reverse

from cadre.core.sorting import ASCENDING, DESCENDING, SortColumn, SortOrder, sort_headers
from cadre.demo import cast
from cadre.monitoring.alert_models import HealthLevel, HealthStatus
from cadre.structures.models import Structure
from tests.test_monitoring_alert_pages import a, signed_in, status  # noqa: F401 — the fixture `a`

pytestmark = pytest.mark.django_db


def names(response):
    return [row["structure"].name for row in response.context["rows"]]


def header(response, label):
    return next(h for h in response.context["headers"] if h.label == label)


@pytest.fixture
def rhone(a):  # noqa: F811
    HealthStatus.objects.all().delete()
    others = list(Structure.objects.filter(commune__department_id="69").exclude(pk=a.pk).order_by("name")[:3])
    status(a, 2025, HealthLevel.ALERT, "trésorerie : 18 jours de charges, seuil 30")
    status(others[0], 2025, HealthLevel.VIGILANCE, "fonds propres : 2 mois")
    status(others[1], 2025, HealthLevel.GREEN)
    status(others[2], 2025, HealthLevel.GREEN)
    return [a, *others]


def test_each_header_links_to_its_sort_keeping_the_filters(client, rhone):
    url = reverse("monitoring:alerts")
    signed_in(client, cast.CAF69)
    page = client.get(url, {"level": "all", "kind": "", "page": "1"})
    # By default, alerte first: the État column is sorted, descending.
    state = header(page, "État")
    assert state.aria_sort == DESCENDING
    assert state.link_text == "Trier par état, vert d'abord"
    name = header(page, "Structure")
    assert name.aria_sort == "" and name.link_text == "Trier par structure, de A à Z"
    params = parse_qs(name.query, keep_blank_values=True)
    assert params["sort"] == ["name"] and params["level"] == ["all"] and "page" not in params
    assert not header(page, "Faits").sortable
    html = page.content.decode()
    assert html.count("aria-sort=") == 1 and 'aria-sort="descending"' in html
    assert f'href="?{name.query.replace("&", "&amp;")}"' in html and 'hx-target="#results"' in html

    # Following the link (without JavaScript: a plain GET of the page), sorted by name; the header now offers Z → A.
    by_name = client.get(f"{url}?{name.query}")
    assert names(by_name) == sorted(names(by_name), key=str.lower) and len(names(by_name)) == 4
    assert header(by_name, "Structure").aria_sort == ASCENDING
    assert header(by_name, "Structure").link_text == "Trier par structure, de Z à A"
    reverse_query = header(by_name, "Structure").query
    backwards = client.get(f"{url}?{reverse_query}", headers={"HX-Request": "true"})  # htmx: the results alone
    assert "<html" not in backwards.content.decode()
    assert names(backwards) == sorted(names(by_name), key=str.lower, reverse=True)
    assert header(backwards, "Structure").aria_sort == DESCENDING
    # The fragment carries the sort for the filters' form, so that changing a filter keeps it.
    assert re.search(
        r'<input type="hidden" name="sort" value="-name" form="alert-filters">', backwards.content.decode()
    )
    assert 'id="alert-filters"' in by_name.content.decode()

    by_year = client.get(url, {"level": "all", "sort": "year"})
    assert header(by_year, "Exercice").aria_sort == ASCENDING
    assert header(by_year, "Exercice").link_text == "Trier par exercice, le plus récent d'abord"


def test_the_exports_follow_the_order_on_screen(client, rhone):
    signed_in(client, cast.CAF69)
    for sort in ("name", "-name", "-level", "department", "year"):
        on_screen = names(client.get(reverse("monitoring:alerts"), {"level": "all", "sort": sort}))
        exported = client.get(reverse("monitoring:alerts_export", args=["csv"]), {"level": "all", "sort": sort})
        rows = list(csv.reader(io.StringIO(b"".join(exported.streaming_content).decode("utf-8-sig")), delimiter=";"))
        assert [row[0] for row in rows[1:]] == on_screen, sort


def test_an_unknown_sort_is_refused_like_any_bad_filter(client, rhone):
    signed_in(client, cast.CAF69)
    page = client.get(reverse("monitoring:alerts"), {"sort": "structure__name; drop"})
    assert names(page) == [] and "sort" in page.context["form"].errors


def test_the_headers_are_built_once_for_any_list():
    columns = [SortColumn("Nom", (SortOrder("n", ASCENDING, "de A à Z"), SortOrder("-n", DESCENDING, "de Z à A")))]
    from django.http import QueryDict

    first, *_ = sort_headers(columns, QueryDict("q=x&page=3&sort=-n"), "-n")
    assert (first.aria_sort, first.query, first.link_text) == ("descending", "q=x&sort=n", "Trier par nom, de A à Z")
