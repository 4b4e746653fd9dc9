"""Agreements and funding pages on the demo: totals that add up, what each funder sees, bad input
refused at its field with nothing saved."""

import datetime
from decimal import Decimal

import pytest
from django.db.models import Sum
from django.urls import reverse
from django.utils import timezone

from cadre.accounts.models import User
from cadre.agreements.models import Agreement, AgreementKind, FrameworkAgreement, ProgressNote, RoadmapItem
from cadre.demo import cast
from cadre.funding import queries
from cadre.funding.models import ZERO, FundingLine, FundingScheme, Payment, SchemeYear, format_euros
from cadre.partners.models import Partner
from cadre.structures.models import Structure

pytestmark = pytest.mark.django_db


@pytest.fixture
def a(demo):
    return Structure.objects.get(memberships__user__email=cast.STRUCTURE_A)


@pytest.fixture
def caf69(demo):
    return Partner.objects.get(short_name="Caf 69")


def log_in(client, email):
    client.force_login(User.objects.get(email=email))


def amount_total(lines):
    return sum((line.voted if line.voted is not None else line.forecast or ZERO for line in lines), ZERO)


def test_the_structure_page_adds_up_to_the_lines_and_the_shares_to_100(client, a):
    log_in(client, cast.STRUCTURE_A)
    page = client.get(reverse("funding:structure", args=[a.uuid])).content.decode()
    years = queries.structure_funding(a, User.objects.get(email=cast.STRUCTURE_A))
    assert [y.year for y in years] == [2027, 2026, 2025, 2024]
    for year in years:
        expected = amount_total(FundingLine.objects.filter(structure=a, year=year.year))
        assert year.total == expected
        assert f"{year.year} : {format_euros(expected)}" in page
        assert abs(sum(f.share for f in year.funders) - 100) <= Decimal("0.2")  # shares rounded to 0.1


def test_a_partner_sees_its_lines_in_detail_and_the_others_totals_only(client, a, caf69):
    log_in(client, cast.CITY_VILLEURBANNE)
    page = client.get(reverse("funding:structure", args=[a.uuid])).content.decode()
    city_line = FundingLine.objects.filter(structure=a, partner__short_name="Villeurbanne", year=2025).get()
    caf_lines = FundingLine.objects.filter(structure=a, partner=caf69, year=2025)
    assert reverse("funding:line", args=[city_line.uuid]) in page
    for line in caf_lines:
        assert reverse("funding:line", args=[line.uuid]) not in page
        assert line.decision_reference not in page
    assert format_euros(amount_total(caf_lines)) in page  # the Caf's total is shared
    assert "total partagé par ce financeur" in page
    assert client.get(reverse("funding:line", args=[caf_lines[0].uuid])).status_code == 404


def test_the_partner_page_totals_are_the_sums_of_its_lines_and_payments(client, caf69):
    log_in(client, cast.CAF69)
    page = client.get(reverse("funding:partner", args=[caf69.uuid]) + "?annee=2025").content.decode()
    lines = FundingLine.objects.filter(partner=caf69, year=2025)
    voted = lines.aggregate(total=Sum("voted"))["total"]
    paid = Payment.objects.filter(line__in=lines).aggregate(total=Sum("amount"))["total"]
    assert format_euros(voted) in page
    assert format_euros(paid) in page
    assert format_euros(voted - paid) in page  # left to pay
    assert 'id="year-2025"' in page and 'id="year-2024"' not in page  # the year asked for only


def test_a_payment_above_the_vote_is_refused_at_its_field(client, a, caf69):
    line = FundingLine.objects.filter(structure=a, partner=caf69, year=2026, voted__isnull=False).first()
    before = list(line.payments.values_list("pk", flat=True))
    left = line.voted - line.paid()
    log_in(client, cast.CAF69)
    response = client.post(
        reverse("funding:line", args=[line.uuid]),
        {"kind": "instalment", "amount": str(left + Decimal("0.01")).replace(".", ","), "paid_on": "2026-11-30"},
    )
    assert response.status_code == 200
    form = response.context["form"]
    assert form.errors["amount"] == [
        f"Ce versement dépasse le montant voté ({format_euros(line.voted)}) : il reste {format_euros(left)} à verser."
    ]
    assert list(line.payments.values_list("pk", flat=True)) == before
    response = client.post(
        reverse("funding:line", args=[line.uuid]),
        {"kind": "instalment", "amount": str(left).replace(".", ","), "paid_on": "2026-11-30"},
    )
    assert response.status_code == 302
    assert line.paid() == line.voted


def test_the_administrator_enters_a_ceiling_and_the_rule_uses_it(client, demo):
    scheme = FundingScheme.objects.get(code="ps-animation-globale")
    log_in(client, cast.ADMIN)
    url = reverse("funding:scheme_year", args=[scheme.uuid])
    response = client.post(url, {"year": "2028", "rate": "142", "ceiling": "75000"})
    assert response.status_code == 200
    assert "rate" in response.context["form"].errors
    assert not SchemeYear.objects.filter(scheme=scheme, year=2028).exists()
    assert client.post(url, {"year": "2027", "rate": "42,4", "ceiling": "76000"}).status_code == 302
    assert SchemeYear.objects.get(scheme=scheme, year=2027).ceiling == Decimal("76000")
    line = FundingLine.objects.filter(scheme=scheme, year=2027, eligible_expenses__gt=76000).first()
    assert line.computed_amount()[0] == Decimal("32224.00")  # 42.4 % of the new ceiling


def test_a_line_with_a_decision_but_no_vote_is_refused(client, a, caf69):
    log_in(client, cast.CAF69)
    scheme = FundingScheme.objects.get(code="subvention-projet")
    response = client.post(
        reverse("funding:line_create", args=[a.uuid]),
        {
            "partner": caf69.pk,
            "scheme": scheme.pk,
            "year": "2026",
            "forecast": "1500",
            "decision_reference": "CA-2026-12",
            "decision_date": "2026-05-12",
        },
    )
    assert response.status_code == 200
    assert response.context["form"].errors["voted"] == [
        "Une décision porte sur un montant : saisissez le montant voté."
    ]
    assert not FundingLine.objects.filter(structure=a, scheme=scheme).exists()


def test_an_amendment_form_says_what_is_wrong_and_applies_when_right(client, demo):
    framework = FrameworkAgreement.objects.get(department_id="13", starts__year=2024)
    caf13 = Partner.objects.get(short_name="Caf 13")
    log_in(client, cast.CAF13)
    url = reverse("agreements:framework_amend", args=[framework.uuid])
    response = client.post(url, {"signed_on": "2026-01-15", "purpose": "Prolongation", "new_end": "2027-06-30"})
    assert response.context["form"].errors["new_end"] == ["La nouvelle fin doit suivre la fin actuelle (31/12/2027)."]
    assert framework.amendments.count() == 1
    response = client.post(url, {"signed_on": "2026-01-15", "purpose": "Prolongation", "new_end": "2028-12-31"})
    assert response.status_code == 302
    framework.refresh_from_db()
    assert framework.extended_to == datetime.date(2028, 12, 31)
    assert framework.signatories.filter(partner=caf13).exists()


def test_a_roadmap_item_is_updated_with_a_note_and_a_stale_edit_is_refused(client, demo):
    tripartite = Agreement.objects.get(kind=AgreementKind.TRIPARTITE)
    item = RoadmapItem.objects.filter(theme__roadmap__agreement=tripartite, owner_partner__short_name="Caf 69").first()
    log_in(client, cast.CAF69)
    url = reverse("agreements:item", args=[item.uuid])
    version = item.version
    response = client.post(
        url, {"status": "done", "due": item.due.isoformat(), "version": version, "note": "Fait en comité technique."}
    )
    assert response.status_code == 302
    item.refresh_from_db()
    assert item.status == "done"
    assert ProgressNote.objects.filter(item=item, text="Fait en comité technique.").exists()
    stale = client.post(url, {"status": "dropped", "due": item.due.isoformat(), "version": version, "note": "x"})
    assert stale.status_code == 200
    assert "modifiée par quelqu'un d'autre" in stale.context["form"].non_field_errors()[0]
    assert (
        "Rien n’a été enregistré" in stale.content.decode() or "Rien n&#x27;a été enregistré" in stale.content.decode()
    )
    item.refresh_from_db()
    assert item.status == "done"
    assert not ProgressNote.objects.filter(item=item, text="x").exists()


def test_the_api_gives_the_same_sums_as_the_pages_in_exact_euros(client, caf69):
    log_in(client, cast.CAF69)
    found, page = [], 1
    while True:
        body = client.get(reverse("api-1.0.0:funding_lines"), {"year": 2025, "page": page, "page_size": 50}).json()
        found += body["results"]
        if page * 50 >= body["count"]:
            break
        page += 1
    lines = FundingLine.objects.filter(partner=caf69, year=2025)
    assert len(found) == lines.count()
    assert all(isinstance(item["voted"], str) for item in found)  # "30528.00": exact, not a float
    voted = sum(Decimal(item["voted"]) for item in found)
    paid = sum(Decimal(item["paid"]) for item in found)
    assert voted == lines.aggregate(total=Sum("voted"))["total"]
    assert paid == sum(Decimal(p["amount"]) for item in found for p in item["payments"])
    html = client.get(reverse("funding:partner", args=[caf69.uuid]) + "?annee=2025").content.decode()
    assert format_euros(voted) in html and format_euros(paid) in html
    other = FundingLine.objects.exclude(partner=caf69).first()
    assert client.get(reverse("api-1.0.0:funding_line", args=[other.uuid])).status_code == 404


def test_an_administrator_creates_a_framework_agreement_and_its_signatories(client, demo):
    log_in(client, cast.ADMIN)
    url = reverse("agreements:framework_create")
    data = {
        "title": "Convention cadre du Rhône 2025-2028",
        "department": "69",
        "starts": "2025-01-01",
        "ends": "2024-12-31",
        "values_text": "Dignité humaine\n\nSolidarité\n",
        "purposes_text": "Coordonner les financements",
    }
    response = client.post(url, data)
    assert response.context["form"].errors["ends"] == [
        "La convention doit se terminer après son début (le 01/01/2025)."
    ]
    assert not FrameworkAgreement.objects.filter(department_id="69").exists()
    response = client.post(url, {**data, "ends": "2028-12-31"})
    framework = FrameworkAgreement.objects.get(department_id="69")
    assert response.status_code == 302 and framework.values == ["Dignité humaine", "Solidarité"]
    caf69 = Partner.objects.get(short_name="Caf 69")
    signatory = reverse("agreements:framework_signatory", args=[framework.uuid])
    assert client.post(signatory, {"partner": caf69.pk, "role": "co_chair"}).status_code == 302
    assert framework.signatories.get().partner == caf69
    again = client.post(signatory, {"partner": caf69.pk, "role": "signatory"})
    assert "partner" in again.context["form"].errors  # already signing: not offered again


def test_a_caf_advisor_creates_an_agreement_becomes_party_and_opens_its_roadmap(client, a, caf69):
    log_in(client, cast.CAF69)
    url = reverse("agreements:create")
    data = {"kind": "tripartite", "title": "Tripartite Vénissieux", "starts": "2026-01-01", "ends": "2029-12-31"}
    response = client.post(url, data)
    assert response.context["form"].errors["commune"] == [
        "Une convention tripartite ou une CTG est signée avec une ville : indiquez-la."
    ]
    client.post(url, {**data, "commune": "69259"})
    agreement = Agreement.objects.get(title="Tripartite Vénissieux")
    assert list(agreement.partners()) == [caf69]
    party = reverse("agreements:party", args=[agreement.uuid])
    neither = client.post(party, {})
    assert "l'un des deux" in neither.context["form"].non_field_errors()[0]
    assert client.post(party, {"structure": a.pk, "signed_on": "2026-01-15"}).status_code == 302
    assert list(agreement.structures()) == [a]
    client.post(reverse("agreements:roadmap_start", args=[agreement.uuid]))
    theme = agreement.roadmap.themes.get(name="Vie associative")
    created = client.post(
        reverse("agreements:item_create", args=[agreement.uuid]),
        {
            "theme": theme.pk,
            "title": "Former les bénévoles",
            "owner_structure": a.pk,
            "due": "2027-06-30",
            "status": "planned",
        },
    )
    assert created.status_code == 302
    assert RoadmapItem.objects.get(title="Former les bénévoles").owner == a


def test_the_workbook_adds_up_to_the_partner_page(client, caf69):
    import io

    from openpyxl import load_workbook

    log_in(client, cast.CAF69)
    response = client.get(reverse("funding:partner_export", args=[caf69.uuid]) + "?annee=2025")
    sheet = load_workbook(io.BytesIO(response.content)).active
    rows = list(sheet.iter_rows(min_row=2, values_only=True))
    lines = FundingLine.objects.filter(partner=caf69, year=2025)
    assert len(rows) == lines.count() and {r[0] for r in rows} == {2025}
    voted = sum(Decimal(str(r[7])) for r in rows)
    paid = sum(Decimal(str(r[10])) for r in rows)
    assert voted == lines.aggregate(total=Sum("voted"))["total"]
    assert paid == Payment.objects.filter(line__in=lines).aggregate(total=Sum("amount"))["total"]
    assert sheet.cell(row=2, column=8).number_format == '#,##0.00 "€"'
    page = client.get(reverse("funding:partner", args=[caf69.uuid]) + "?annee=2025").content.decode()
    assert format_euros(voted) in page and format_euros(paid) in page


def test_the_agreement_summary_pdf_adds_up_its_funding(client, demo):
    tripartite = Agreement.objects.get(kind=AgreementKind.TRIPARTITE)
    log_in(client, cast.ADMIN)
    response = client.get(reverse("funding:agreement_pdf", args=[tripartite.uuid]))
    assert response["Content-Type"] == "application/pdf" and response.content.startswith(b"%PDF")
    lines = FundingLine.objects.filter(agreement=tripartite)
    assert response.context["total"] == amount_total(lines)
    assert response.context["total_paid"] == Payment.objects.filter(line__in=lines).aggregate(t=Sum("amount"))["t"]
    assert [y for y, *_ in response.context["years"]] == [2024, 2025, 2026, 2027]


def test_the_agreement_pdf_is_laid_out_once_until_what_it_shows_changes(client, demo, monkeypatch):
    from django.core.cache import caches
    from weasyprint import HTML

    caches["documents"].clear()  # another test may have laid this PDF out already
    layouts = []
    write_pdf = HTML.write_pdf
    monkeypatch.setattr(HTML, "write_pdf", lambda self, *a, **k: layouts.append(1) or write_pdf(self, *a, **k))
    tripartite = Agreement.objects.get(kind=AgreementKind.TRIPARTITE)
    log_in(client, cast.ADMIN)
    url = reverse("funding:agreement_pdf", args=[tripartite.uuid])
    first = client.get(url).content
    assert client.get(url).content == first and len(layouts) == 1
    line = FundingLine.objects.filter(agreement=tripartite, voted__isnull=False).first()
    line.voted += Decimal("1000")
    line.save()
    changed = client.get(url)
    assert len(layouts) == 2 and changed.content != first
    assert changed.context["total"] == amount_total(FundingLine.objects.filter(agreement=tripartite))


def test_the_partner_workbook_follows_its_lines_and_payments(client, caf69):
    import io

    from openpyxl import load_workbook

    from cadre.funding import actions
    from cadre.funding.models import PaymentKind

    log_in(client, cast.CAF69)
    url = reverse("funding:partner_export", args=[caf69.uuid]) + "?annee=2025"

    def paid_and_voted():
        rows = list(load_workbook(io.BytesIO(client.get(url).content)).active.iter_rows(min_row=2, values_only=True))
        return sum(Decimal(str(r[10])) for r in rows), sum(Decimal(str(r[7] or 0)) for r in rows)

    paid, voted = paid_and_voted()
    line = FundingLine.objects.filter(partner=caf69, year=2025, voted__gt=100, payments__isnull=True).first()
    actions.record_payment(line, actor=None, kind=PaymentKind.ADVANCE, amount=Decimal("10"), paid_on=line.decision_date)
    assert paid_and_voted() == (paid + 10, voted)
    FundingLine.objects.filter(pk=line.pk).update(voted=line.voted + 5, updated_at=timezone.now())
    assert paid_and_voted() == (paid + 10, voted + 5)
