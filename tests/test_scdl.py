"""SCDL « subventions »: publishing a partner's subsidies, reading back a past file with its matches."""

import csv
import io
from decimal import Decimal

import pytest
from django.urls import reverse

from cadre.accounts.models import User
from cadre.demo import cast
from cadre.funding import scdl
from cadre.funding.models import FundingLine, SchemeRule
from cadre.partners.models import Partner

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
