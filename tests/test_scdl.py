"""SCDL « subventions »: publishing a partner's subsidies, reading back a past file with its matches."""

import csv
import io
from decimal import Decimal

import pytest
from django.urls import reverse

from cadre.accounts.models import User
from cadre.demo import cast
from cadre.funding import scdl
from cadre.funding.models import FundingLine, FundingScheme, SchemeRule, SubsidyImport
from cadre.partners.models import Partner
from cadre.structures.models import Structure

pytestmark = pytest.mark.django_db


def test_normalised_names_meet_whatever_the_spelling():
    assert scdl.normalise("CENTRE SOCIAL DE LA FERRANDIÈRE") == scdl.normalise("CS Ferrandiere")
    assert scdl.normalise("Centre social et culturel Charpennes-Tonkin") == "centre social culturel charpennes tonkin"


def test_the_published_file_has_the_schema_columns_and_the_voted_subsidies(client, demo):
    city = Partner.objects.get(short_name="Villeurbanne")
    client.force_login(User.objects.get(email=cast.ADMIN))
    response = client.get(reverse("funding:scdl", args=[city.uuid]), {"format": "csv", "annee": 2025})
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert list(rows[0]) == scdl.COLUMNS
    lines = FundingLine.objects.filter(partner=city, year=2025, voted__isnull=False).exclude(
        scheme__rule=SchemeRule.CAF_SERVICE
    )
    assert len(rows) == lines.count() > 0
    assert sum(Decimal(r["montant"]) for r in rows) == sum(line.voted for line in lines)
    assert {r["idAttribuant"] for r in rows} == {city.siret}
    assert all(r["nature"] == "aide en numéraire" and r["pourcentageSubvention"] == "1" for r in rows)
    assert all(len(r["datesPeriodeVersement"]) in (10, 21) for r in rows)  # 2025-03-15 or 2025-03-15/2025-09-20


def test_a_past_file_is_matched_reviewed_and_written_all_or_nothing(client, demo):
    caf = Partner.objects.get(short_name="Caf 69")
    structures = list(Structure.objects.filter(commune__department_id="69", kind="centre_social").order_by("name"))
    by_siret, by_siren, by_name = structures[0], structures[1], structures[2]
    header = ",".join(scdl.COLUMNS)

    def line(name, siret, amount, reference):
        return (
            f"Caf du Rhône,{caf.siret},2023-03-01,{reference},{name},{siret},,Projet jeunesse,{amount},"
            "aide en numéraire,unique,2023-04-01,,non,1,"
        )

    other_establishment = by_siren.siret[:9] + ("00099" if by_siren.siret[9:] != "00099" else "00098")
    rows = [
        line(by_siret.name.upper(), by_siret.siret, "1500.00", "D1"),
        line("Nom différent", other_establishment, "2000", "D2"),
        line(by_name.name.upper().replace("CENTRE SOCIAL", "CS"), "", "2500.50", "D3"),
        line("Association inconnue des Alpes", "", "900", "D4"),
        line(by_siret.name, by_siret.siret, "douze", "D5"),
    ]
    client.force_login(User.objects.get(email=cast.CAF69))
    scheme = FundingScheme.objects.get(code="subvention-projet")
    upload = io.BytesIO(("\n".join([header, *rows]) + "\n").encode())
    upload.name = "subventions-2023.csv"
    response = client.post(reverse("funding:scdl", args=[caf.uuid]), {"file": upload, "scheme": scheme.pk})
    review = reverse("funding:scdl_import", args=[SubsidyImport.objects.get().uuid])
    assert response["Location"] == review
    page = client.get(review)
    assert "ligne 6 : montant « douze »" in page.content.decode()
    context = page.context
    assert [r.number for r in context["certain"]] == [2, 3, 6]  # the 6th is matched, and wrong
    assert [(r.number, r.structure) for r in context["uncertain"]] == [(4, by_name)]
    assert [r.number for r in context["unmatched"]] == [5]
    client.post(review, {"ligne-4": str(by_name.uuid)})
    assert not FundingLine.objects.filter(scheme=scheme).exists()  # an error left: nothing written

    upload = io.BytesIO(("\n".join([header, *rows[:4]]) + "\n").encode())
    upload.name = "subventions-2023.csv"
    client.post(reverse("funding:scdl", args=[caf.uuid]), {"file": upload, "scheme": scheme.pk})
    review = reverse("funding:scdl_import", args=[SubsidyImport.objects.latest("uploaded_at").uuid])
    assert client.post(review, {"ligne-4": str(by_name.uuid)}).status_code == 302
    written = FundingLine.objects.filter(scheme=scheme, partner=caf, year=2023)
    assert {(line.structure, line.voted, line.decision_reference) for line in written} == {
        (by_siret, Decimal("1500.00"), "D1"),
        (by_siren, Decimal("2000.00"), "D2"),
        (by_name, Decimal("2500.50"), "D3"),
    }
    again = client.post(review, {"ligne-4": str(by_name.uuid)})
    assert again.status_code == 200 and written.count() == 3  # a file is imported once
