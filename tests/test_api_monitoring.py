"""Annual accounts in the API: the pages' scope, exact amounts, the ratios with their formulas."""

import datetime

import pytest
from django.urls import reverse

from cadre.accounts.models import User
from cadre.demo import cast
from cadre.monitoring.models import FinancialStatement
from cadre.structures.models import Structure
from tests.test_monitoring_statements import ACCOUNTS_2025

pytestmark = pytest.mark.django_db


@pytest.fixture
def accounts(demo):
    a = Structure.objects.get(memberships__user__email=cast.STRUCTURE_A)
    FinancialStatement.objects.filter(structure=a).delete()
    return FinancialStatement.objects.create(
        structure=a, starts_on=datetime.date(2025, 1, 1), ends_on=datetime.date(2025, 12, 31), **ACCOUNTS_2025
    )


def test_a_caller_reads_the_accounts_it_sees_with_their_ratios(client, accounts):
    client.force_login(User.objects.get(email=cast.CAF69))
    listed = client.get(reverse("api-1.0.0:financial_statements"), {"structure": accounts.structure.uuid}).json()
    assert listed["count"] == 1
    found = listed["results"][0]
    assert found["year"] == 2025 and found["amounts"]["cash"] == "60000.00" and found["income"] == "515000.00"
    detail = client.get(reverse("api-1.0.0:financial_statement", args=[accounts.uuid])).json()
    ratios = {r["code"]: r for r in detail["ratios"]}
    assert ratios["cash_days"]["value"] == "43.4" and ratios["cash_days"]["unit"] == "jours"
    assert ratios["income_change"]["value"] is None and "disponibilités" in ratios["cash_days"]["formula"]


def test_outside_its_territory_a_caller_sees_nothing(client, accounts):
    client.force_login(User.objects.get(email=cast.CAF13))
    assert (
        client.get(reverse("api-1.0.0:financial_statements")).json()["count"]
        == FinancialStatement.objects.filter(structure__commune__department_id="13").count()
    )
    assert client.get(reverse("api-1.0.0:financial_statement", args=[accounts.uuid])).status_code == 404
