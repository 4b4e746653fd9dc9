"""Annual accounts in the API: the pages' scope, exact amounts, the ratios with their formulas."""

import datetime
import json
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from cadre.accounts.models import User
from cadre.demo import cast
from cadre.monitoring.alert_models import HealthStatus
from cadre.monitoring.enums import StatementStatus
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


# -- writes, by role ------------------------------------------------------------------------------

ROLES = {
    "structure_a": cast.STRUCTURE_A,
    "structure_b": cast.STRUCTURE_B,
    "caf69": cast.CAF69,
    "caf13": cast.CAF13,
    "admin": cast.ADMIN,
}


def as_role(client, role):
    client.logout()
    if role != "anonymous":
        client.force_login(User.objects.get(email=ROLES[role]))
    return client


def body(**changes):
    """The 2025 accounts of tests/test_monitoring_statements.py as the API takes them: amounts as text."""
    amounts = {name: f"{value:.2f}" for name, value in ACCOUNTS_2025.items()}
    return {"starts_on": "2024-01-01", "ends_on": "2024-12-31", **amounts, **changes}


def send(client, method, url, data, if_match=None):
    headers = {"If-Match": if_match} if if_match else {}
    return getattr(client, method)(url, data=json.dumps(data), content_type="application/json", headers=headers)


@pytest.fixture
def structure_a(demo):
    a = Structure.objects.get(memberships__user__email=cast.STRUCTURE_A)
    FinancialStatement.objects.filter(structure=a).delete()
    return a


CREATE = "api-1.0.0:financial_statements"


@pytest.mark.parametrize(
    "role, status",
    [("anonymous", 401), ("structure_a", 201), ("structure_b", 404), ("caf69", 403), ("caf13", 404), ("admin", 201)],
)
def test_who_enters_a_structures_accounts(client, structure_a, role, status):
    response = send(as_role(client, role), "post", reverse(CREATE), body(structure=str(structure_a.uuid)))
    assert response.status_code == status, response.content
    if status == 201:
        created = FinancialStatement.objects.get(uuid=response.json()["id"])
        assert response["ETag"] == '"1"' and response["Location"].endswith(f"{created.uuid}")
        assert created.status == StatementStatus.DRAFT and created.year == 2024 and created.cash == Decimal(60000)
        assert created.history.get().history_user.email == ROLES[role]
    elif status == 403:
        assert "Seuls les membres de la structure" in response.json()["detail"]


def test_the_models_french_messages_at_their_fields(client, structure_a):
    as_role(client, "structure_a")
    url = reverse(CREATE)
    response = send(client, "post", url, body(structure=str(structure_a.uuid), net_result="-4000.00", cash=60000))
    errors = response.json()["errors"]
    assert response.status_code == 422 and errors["cash"][0].startswith("Montant attendu en texte")
    response = send(client, "post", url, body(structure=str(structure_a.uuid), net_result="-4000.00"))
    assert response.json()["errors"]["net_result"][0].startswith("Le résultat net des lignes est")
    response = send(client, "post", url, body(structure=str(structure_a.uuid), staff_costs="-1.00"))
    assert response.json()["errors"] == {
        "staff_costs": ["Un montant de « charges de personnel » ne peut pas être négatif."]
    }
    assert send(client, "post", url, body(structure=str(structure_a.uuid))).status_code == 201
    response = send(client, "post", url, body(structure=str(structure_a.uuid)))
    assert response.json()["errors"] == {"ends_on": ["Cette structure a déjà des comptes pour l'exercice 2024."]}
    assert FinancialStatement.objects.filter(structure=structure_a).count() == 1


def test_update_on_the_version_read_then_submit(client, structure_a):
    as_role(client, "structure_a")
    created = send(client, "post", reverse(CREATE), body(structure=str(structure_a.uuid))).json()
    url = reverse("api-1.0.0:financial_statement", args=[created["id"]])
    assert send(client, "patch", url, {"cash": "70000.00"}).status_code == 428
    response = send(client, "patch", url, {"cash": "70000.00"}, '"1"')
    assert response.status_code == 422 and response.json()["errors"]["cash"][0].startswith(
        "Le bilan n'est pas équilibré"
    )
    response = send(client, "patch", url, {"cash": "70000.00", "deferred_income": "15000.00"}, '"1"')
    assert (
        response.status_code == 200 and response["ETag"] == '"2"' and response.json()["amounts"]["cash"] == "70000.00"
    )
    stale = send(client, "patch", url, {"comment": "Version lue avant"}, '"1"')
    assert stale.status_code == 409 and stale.json()["current_version"] == 2
    submit = reverse("api-1.0.0:financial_statement_submit", args=[created["id"]])
    assert send(client, "post", submit, {}, '"1"').status_code == 409
    response = send(client, "post", submit, {"version": 2})
    assert response.status_code == 200 and response.json()["status"] == "submitted"
    refused = send(client, "patch", url, {"comment": "Trop tard"}, '"3"')
    assert refused.status_code == 403 and "envoyés" in refused.json()["detail"]


@pytest.fixture
def sent(structure_a):
    """A's 2025 accounts, sent: the Caf du Rhône funds A over those years."""
    return FinancialStatement.objects.create(
        structure=structure_a,
        starts_on=datetime.date(2025, 1, 1),
        ends_on=datetime.date(2025, 12, 31),
        status=StatementStatus.SUBMITTED,
        **ACCOUNTS_2025,
    )


@pytest.mark.parametrize(
    "role, status",
    [("anonymous", 401), ("structure_a", 403), ("structure_b", 404), ("caf69", 200), ("caf13", 404), ("admin", 200)],
)
def test_who_accepts_sent_accounts(client, sent, role, status):
    url = reverse("api-1.0.0:financial_statement_accept", args=[sent.uuid])
    response = send(as_role(client, role), "post", url, {}, '"1"')
    assert response.status_code == status, response.content
    sent.refresh_from_db()
    assert sent.status == (StatementStatus.ACCEPTED if status == 200 else StatementStatus.SUBMITTED)
    if status == 200:
        assert sent.reviewed_by.email == ROLES[role] and response.json()["version"] == 2


def test_a_return_says_why(client, sent):
    as_role(client, "caf69")
    url = reverse("api-1.0.0:financial_statement_return", args=[sent.uuid])
    response = send(client, "post", url, {}, '"1"')
    assert response.status_code == 422 and response.json()["errors"] == {
        "comment": ["Dites à la structure ce qu'il faut corriger."]
    }
    response = send(client, "post", url, {"comment": "Les fonds dédiés manquent."}, '"1"')
    assert response.status_code == 200 and response.json()["status"] == "returned"
    assert response.json()["review_comment"] == "Les fonds dédiés manquent."
    again = send(client, "post", url, {"comment": "Encore"}, '"2"')
    assert again.status_code == 403 and "renvoyés à la structure" in again.json()["detail"]


def test_a_statement_that_does_not_add_up_is_not_sent(client, structure_a):
    draft = FinancialStatement.objects.create(
        structure=structure_a,
        starts_on=datetime.date(2024, 1, 1),
        ends_on=datetime.date(2024, 12, 31),
        **{**ACCOUNTS_2025, "cash": Decimal(1)},
    )
    as_role(client, "structure_a")
    response = send(client, "post", reverse("api-1.0.0:financial_statement_submit", args=[draft.uuid]), {}, '"1"')
    assert response.status_code == 422 and response.json()["errors"]["cash"][0].startswith("Le bilan n'est pas")
    draft.refresh_from_db()
    assert draft.status == StatementStatus.DRAFT


@pytest.mark.parametrize(
    "role, status", [("anonymous", 401), ("structure_a", 200), ("structure_b", 404), ("caf13", 404), ("admin", 200)]
)
def test_a_statements_ratios(client, accounts, role, status):
    response = as_role(client, role).get(reverse("api-1.0.0:financial_statement_ratios", args=[accounts.uuid]))
    assert response.status_code == status
    if status == 200:
        assert {r["code"]: r["value"] for r in response.json()}["cash_days"] == "43.4"


@pytest.fixture
def statuses(structure_a):
    marseille = Structure.objects.filter(commune__department_id="13").first()
    now = timezone.now()
    HealthStatus.objects.filter(structure__in=[structure_a, marseille]).delete()
    fact = {"rule": "cash", "signal": "cash_days", "severity": "alerte", "text": "trésorerie : 18 jours, seuil 30"}
    return [
        HealthStatus.objects.create(
            structure=structure_a,
            year=2025,
            level="alerte",
            facts=[fact],
            ratios={"cash_days": "18.0"},
            computed_at=now,
        ),
        HealthStatus.objects.create(structure=marseille, year=2025, level="vert", computed_at=now),
    ]


@pytest.mark.parametrize(
    "role, sees_a, sees_13",
    [("structure_a", True, False), ("structure_b", False, False), ("caf69", True, False), ("caf13", False, True)],
)
def test_health_statuses_in_scope(client, statuses, role, sees_a, sees_13):
    a, marseille = (s.structure for s in statuses)
    found = as_role(client, role).get(reverse("api-1.0.0:health_statuses"), {"year": 2025, "page_size": 500}).json()
    shown = {row["structure"]: row for row in found["results"]}
    assert (str(a.uuid) in shown, str(marseille.uuid) in shown) == (sees_a, sees_13)
    if sees_a:
        assert shown[str(a.uuid)]["facts"][0]["text"] == "trésorerie : 18 jours, seuil 30"
        assert shown[str(a.uuid)]["ratios"] == {"cash_days": "18.0"} and shown[str(a.uuid)]["level"] == "alerte"


def test_health_statuses_filters_and_anonymous(client, statuses):
    assert client.get(reverse("api-1.0.0:health_statuses")).status_code == 401
    as_role(client, "admin")
    found = client.get(reverse("api-1.0.0:health_statuses"), {"level": "alerte", "department": "69", "year": 2025})
    assert str(statuses[0].structure.uuid) in {row["structure"] for row in found.json()["results"]}
    assert client.get(reverse("api-1.0.0:health_statuses"), {"level": "rouge"}).status_code == 400
    latest = client.get(
        reverse("api-1.0.0:health_statuses"), {"latest": "true", "structure": statuses[0].structure.uuid}
    )
    assert [row["year"] for row in latest.json()["results"]] == [2025]


def test_the_openapi_document_lists_the_writes(client):
    document = client.get(reverse("api-1.0.0:openapi-json")).json()
    paths = document["paths"]
    amounts = document["components"]["schemas"]["StatementIn"]["properties"]
    assert amounts["net_result"]["anyOf"][0]["pattern"].startswith("^-?")
    assert amounts["cash"]["anyOf"][0]["pattern"].startswith("^\\d")
    assert {"post", "get"} <= set(paths["/api/v1/financial-statements"])
    assert {"patch", "get"} <= set(paths["/api/v1/financial-statements/{uuid}"])
    for name in ("submit", "accept", "return", "ratios"):
        assert f"/api/v1/financial-statements/{{uuid}}/{name}" in paths
    assert "/api/v1/health-statuses" in paths
