"""« Sur cette structure »: the structure page links to everything about it that the reader can open,
with counts, in a fixed number of queries."""

import datetime
import re

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from cadre.accounts.models import User
from cadre.agreements.models import Agreement, AgreementKind, Signatory
from cadre.demo import cast
from cadre.funding.models import FundingLine
from cadre.structures.models import Structure

pytestmark = pytest.mark.django_db

TITLES = [
    "Conventions",
    "Financements",
    "Pièces justificatives",
    "Questionnaire de l’observatoire",
    "Indicateurs",
    "Comptes annuels",
    "Santé financière et alertes",
    "Calendrier des échéances",
]
# Difficulty reports for the structure's writers and the administrators; opening a case for a support body's
# members (the administrators: the demo's support cell is in the Bouches-du-Rhône).
CASE_TILES = {
    cast.STRUCTURE_A: ["Signalements de difficulté"],
    cast.ADMIN: ["Signalements de difficulté", "Ouvrir un dossier d’accompagnement"],
}
TILE = re.compile(
    r'<h3 class="fr-tile__title">\s*<a href="([^"]+)">([^<]+)</a>\s*</h3>\s*'
    r'<p class="fr-tile__detail[^"]*">([^<]+)</p>'
)


@pytest.fixture
def a(demo):
    return Structure.objects.get(memberships__user__email=cast.STRUCTURE_A)


def tiles(client, structure):
    page = client.get(reverse("structures:detail", args=[structure.uuid])).content.decode()
    assert "Sur cette structure" in page
    return [(title, url.replace("&amp;", "&"), detail.strip()) for url, title, detail in TILE.findall(page)]


def open_all(client, found):
    for title, url, _ in found:
        assert client.get(url).status_code == 200, (title, url)


@pytest.mark.parametrize("email", [cast.STRUCTURE_A, cast.CAF69, cast.CITY_VILLEURBANNE, cast.FEDERATION69, cast.ADMIN])
def test_each_reader_gets_every_link_and_each_opens(client, a, email):
    client.force_login(User.objects.get(email=email))
    found = tiles(client, a)
    assert [title for title, _, _ in found] == TITLES[:-1] + CASE_TILES.get(email, []) + TITLES[-1:]
    open_all(client, found)


def test_the_director_reads_counts_of_their_own_structure(client, a):
    client.force_login(User.objects.get(email=cast.STRUCTURE_A))
    found = {title: (url, detail) for title, url, detail in tiles(client, a)}
    agreements = Agreement.objects.filter(parties__structure=a).distinct().count()
    assert agreements > 0
    url, detail = found["Conventions"]
    assert url == f"{reverse('agreements:list')}?structure={a.uuid}"
    assert detail.startswith(f"{agreements} convention")
    funders = FundingLine.objects.filter(structure=a).values("partner").distinct().count()
    assert found["Financements"][1].startswith(f"{funders} financeur")
    assert re.fullmatch(
        r"(\d+ pièces? (en retard|à déposer).*|À jour|Aucune pièce demandée)", found["Pièces justificatives"][1]
    )
    assert re.fullmatch(r"\d{4} : .+", found["Questionnaire de l’observatoire"][1])


def test_the_filtered_agreement_list_shows_only_the_structure_s_agreements(client, a):
    client.force_login(User.objects.get(email=cast.CAF69))
    page = client.get(reverse("agreements:list"), {"structure": a.uuid}).content.decode()
    own = Agreement.objects.filter(parties__structure=a).distinct()
    others = Agreement.objects.exclude(pk__in=own).filter(kind=AgreementKind.STRUCTURE)
    assert own and others
    assert all(agreement.title in page for agreement in own)
    assert not any(f">{agreement.title}<" in page for agreement in others)
    assert "Voir toutes les conventions" in page
    frameworks = {agreement.framework.title for agreement in own if agreement.framework}
    assert all(title in page for title in frameworks)
    if not frameworks:
        assert "Aucune convention cadre pour les conventions de cette structure." in page
    # Another's structure, or not one: nothing to list.
    client.force_login(User.objects.get(email=cast.STRUCTURE_B))
    assert client.get(reverse("agreements:list"), {"structure": a.uuid}).status_code == 404
    assert client.get(reverse("agreements:list"), {"structure": "pas-un-uuid"}).status_code == 404


def test_a_structure_without_questionnaire_links_neither_it_nor_its_indicators(client, demo):
    from tests.factories import StructureFactory

    structure = StructureFactory()  # in Villeurbanne: the Caf du Rhône sees it
    client.force_login(User.objects.get(email=cast.CAF69))
    found = tiles(client, structure)
    assert [title for title, _, _ in found] == [
        "Conventions",
        "Financements",
        "Pièces justificatives",
        "Comptes annuels",
        "Santé financière et alertes",
        "Calendrier des échéances",
    ]
    assert [detail for _, _, detail in found][:3] == [
        "Aucune convention",
        "Aucun financement enregistré",
        "Aucune pièce demandée",
    ]
    open_all(client, found)


def test_the_public_directory_shows_no_private_link(client, a):
    page = client.get(reverse("directory:detail", args=[a.uuid])).content.decode()
    assert a.name in page
    assert "Sur cette structure" not in page
    for private in ("/financements/", "/conventions/", "/observatoire/", "/indicateurs/structures/"):
        assert private not in page


def test_the_section_costs_the_same_queries_whatever_the_structure_holds(client, a):
    client.force_login(User.objects.get(email=cast.CAF69))
    url = reverse("structures:detail", args=[a.uuid])
    cache.clear()  # the tiles computed, not read from the cache (they are kept until a table they read changes)
    with CaptureQueriesContext(connection) as before:
        client.get(url)
    # Three more agreements and funding in three more years (with their documents owed).
    line = FundingLine.objects.filter(structure=a).order_by("year").first()
    for year in (line.year - 3, line.year - 2, line.year - 1):
        FundingLine.objects.create(
            structure=a, partner=line.partner, scheme=line.scheme, year=year, forecast=line.forecast
        )
        agreement = Agreement.objects.create(
            kind=AgreementKind.STRUCTURE,
            title=f"Convention {year}",
            starts=datetime.date(year, 1, 1),
            ends=datetime.date(year, 12, 31),
        )
        Signatory.objects.create(agreement=agreement, structure=a)
        Signatory.objects.create(agreement=agreement, partner=line.partner)
    cache.clear()
    with CaptureQueriesContext(connection) as after:
        found = tiles(client, a)
    assert len(after) == len(before), [q["sql"] for q in after][len(before) :]
    assert len(before) < 40
    assert {title: detail for title, _, detail in found}["Conventions"].startswith(
        f"{Agreement.objects.filter(parties__structure=a).distinct().count()} conventions"
    )
