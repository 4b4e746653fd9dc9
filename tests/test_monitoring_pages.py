"""A structure enters its annual accounts in French writing, sends them, and a partner that funds it accepts or
returns them; what does not add up is told at its field and nothing is saved."""

import datetime
import re

import pytest
from django.urls import reverse

from cadre.accounts.models import User
from cadre.demo import cast
from cadre.monitoring.enums import StatementStatus
from cadre.monitoring.models import FinancialStatement
from cadre.monitoring.prefill import from_observatory
from cadre.observatory.models import Answer, Submission, SubmissionStatus
from cadre.structures.models import Structure
from tests.test_monitoring_statements import ACCOUNTS_2025

pytestmark = pytest.mark.django_db


def french(amount):
    """« 150 000,00 », as a person types it from the accounts."""
    whole, cents = f"{amount:.2f}".split(".")
    return f"{int(whole):,}".replace(",", " ") + "," + cents


def form_data(year=2025, **changes):
    data = {
        name: french(value) if name in ACCOUNTS_2025 else value for name, value in {**ACCOUNTS_2025, **changes}.items()
    }
    return {**data, "starts_on": f"{year}-01-01", "ends_on": f"{year}-12-31"}


@pytest.fixture
def a(demo):
    structure = Structure.objects.get(memberships__user__email=cast.STRUCTURE_A)
    FinancialStatement.objects.filter(structure=structure).delete()  # whatever the demo gave it
    return structure


def signed_in(client, email):
    client.force_login(User.objects.get(email=email))
    return client


def test_the_structure_enters_its_accounts_and_a_wrong_balance_is_told_at_the_cash(client, a):
    signed_in(client, cast.STRUCTURE_A)
    url = reverse("monitoring:statement_create", args=[a.uuid])
    page = client.get(url).content.decode()
    assert 'data-sums="operating_income income"' in page and 'data-sum="assets"' in page  # live totals
    wrong = client.post(url, form_data(cash=61000))
    assert wrong.status_code == 200 and not FinancialStatement.objects.filter(structure=a).exists()
    errors = wrong.context["form"].errors
    assert "Le bilan n'est pas équilibré" in errors["cash"][0]
    assert 'value="61 000,00"' in wrong.content.decode().replace("\u202f", " ") or "61" in errors["cash"][0]
    done = client.post(url, form_data())
    statement = FinancialStatement.objects.get(structure=a)
    assert done["Location"] == reverse("monitoring:statement", args=[statement.uuid])
    assert statement.year == 2025 and statement.status == StatementStatus.DRAFT
    assert statement.income == 515000 and statement.cash == 60000


def test_a_second_statement_for_the_same_year_is_refused_at_its_closing_date(client, a):
    signed_in(client, cast.STRUCTURE_A)
    url = reverse("monitoring:statement_create", args=[a.uuid])
    client.post(url, form_data())
    again = client.post(url, form_data())
    assert again.context["form"].errors["ends_on"] == ["Cette structure a déjà des comptes pour l'exercice 2025."]
    assert FinancialStatement.objects.filter(structure=a).count() == 1


def test_sent_returned_with_a_reason_corrected_then_accepted(client, a):
    signed_in(client, cast.STRUCTURE_A)
    client.post(reverse("monitoring:statement_create", args=[a.uuid]), form_data())
    statement = FinancialStatement.objects.get(structure=a)
    client.post(reverse("monitoring:statement_submit", args=[statement.uuid]))
    statement.refresh_from_db()
    assert statement.status == StatementStatus.SUBMITTED and statement.submitted_by.email == cast.STRUCTURE_A
    assert client.get(reverse("monitoring:statement_edit", args=[statement.uuid])).status_code == 403  # sent: locked

    signed_in(client, cast.CAF69)  # the Caf funds structure A
    review = reverse("monitoring:statement_review", args=[statement.uuid])
    assert "Examiner ces comptes" in client.get(reverse("monitoring:statement", args=[statement.uuid])).content.decode()
    client.post(review, {"decision": "return", "comment": ""}, follow=True)
    statement.refresh_from_db()
    assert statement.status == StatementStatus.SUBMITTED  # a return needs its reason
    client.post(review, {"decision": "return", "comment": "Les dettes sociales semblent incomplètes."})
    statement.refresh_from_db()
    assert statement.status == StatementStatus.RETURNED

    signed_in(client, cast.STRUCTURE_A)
    page = client.get(reverse("monitoring:statement", args=[statement.uuid])).content.decode()
    assert "Les dettes sociales semblent incomplètes." in page
    data = form_data(tax_social_debts=60000, supplier_debts=25000, version=statement.version)
    assert client.post(reverse("monitoring:statement_edit", args=[statement.uuid]), data).status_code == 302
    client.post(reverse("monitoring:statement_submit", args=[statement.uuid]))

    signed_in(client, cast.CAF69)
    client.post(review, {"decision": "accept"})
    statement.refresh_from_db()
    assert statement.status == StatementStatus.ACCEPTED and statement.tax_social_debts == 60000
    assert statement.reviewed_by.email == cast.CAF69
    assert [r.status for r in statement.history.order_by("history_date")][-1] == StatementStatus.ACCEPTED


def test_two_people_editing_the_same_accounts_do_not_overwrite_each_other(client, a):
    signed_in(client, cast.STRUCTURE_A)
    client.post(reverse("monitoring:statement_create", args=[a.uuid]), form_data())
    statement = FinancialStatement.objects.get(structure=a)
    url = reverse("monitoring:statement_edit", args=[statement.uuid])
    read_at = statement.version
    first = form_data(comment="Première correction", version=read_at)
    assert client.post(url, first).status_code == 302
    second = client.post(url, form_data(comment="Seconde correction", version=read_at))
    assert second.status_code == 200 and "modifiée par quelqu" in second.content.decode()
    statement.refresh_from_db()
    assert statement.comment == "Première correction"


def test_the_years_page_shows_the_ratios_in_french_and_the_structure_page_links_it(client, a):
    signed_in(client, cast.STRUCTURE_A)
    client.post(reverse("monitoring:statement_create", args=[a.uuid]), form_data())
    page = client.get(reverse("monitoring:statements", args=[a.uuid])).content.decode()
    text = re.sub(r"\s+", " ", page.replace("\u202f", " ").replace("\xa0", " "))
    assert "Trésorerie en jours de charges" in text and "43,4 jours" in text and "69,2 %" in text
    assert "Disponibilités ÷ charges décaissables" in text  # the formula is written out
    structure_page = client.get(reverse("structures:detail", args=[a.uuid])).content.decode()
    assert reverse("monitoring:statements", args=[a.uuid]) in structure_page
    assert "1 exercice, le dernier : 2025 (en cours de saisie)" in structure_page


def test_a_partner_outside_the_territory_cannot_read_them(client, a):
    signed_in(client, cast.STRUCTURE_A)
    client.post(reverse("monitoring:statement_create", args=[a.uuid]), form_data())
    statement = FinancialStatement.objects.get(structure=a)
    signed_in(client, cast.CAF13)
    assert client.get(reverse("monitoring:statement", args=[statement.uuid])).status_code == 404


def test_the_accounts_start_from_the_questionnaire_of_the_same_year(client, a):
    submission = Submission.objects.filter(structure=a).select_related("campaign").order_by("-campaign__year").first()
    Submission.objects.filter(pk=submission.pk).update(status=SubmissionStatus.DRAFT)
    questions = {q.code: q for q in submission.campaign.questionnaire.questions.all()}
    for code, number in {
        "budget_total": 580000,
        "charges_personnel": 400000,
        "commune_intercommunalite": 190000,
        "resultat_exercice": -3500,
    }.items():
        Answer.objects.update_or_create(submission=submission, question=questions[code], defaults={"number": number})
    initial, campaign = from_observatory(a, submission.campaign.year)
    assert campaign == submission.campaign.title
    assert initial["subsidy_municipal"] == 190000 and initial["staff_costs"] == 400000
    assert initial["external_charges"] == 180000  # the rest of the total expenses, to be split by the structure
    assert initial["net_result"] == initial["balance_result"] == -3500
    assert from_observatory(a, submission.campaign.year + 5) == ({}, None)

    # The form proposes them when the next fiscal year to enter is that one.
    year = submission.campaign.year
    FinancialStatement.objects.create(
        structure=a, starts_on=datetime.date(year - 1, 1, 1), ends_on=datetime.date(year - 1, 12, 31)
    )
    signed_in(client, cast.STRUCTURE_A)
    page = client.get(reverse("monitoring:statement_create", args=[a.uuid])).content.decode()
    assert "reprennent vos" in page and 'value="190000,00"' in page.replace("\u202f", "").replace(" ", "")
