"""Payment schedules: what a voted line still expects and when, in the line's page and the calendar;
one deposit answering every scheme that asks for the same kind of document."""

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from icalendar import Calendar

from cadre.accounts.models import Role
from cadre.funding import actions
from cadre.funding.calendar import ical, obligations
from cadre.funding.models import (
    Document,
    DocumentKind,
    DocumentStatus,
    FundingLine,
    FundingScheme,
    PaymentKind,
    PaymentStep,
    documents_owed,
    expected_payments,
    missing_for_balance,
    owed_for_lines,
)
from cadre.funding.permissions import can_review
from cadre.funding.schemes import load_default_schemes
from cadre.partners.models import PartnerKind
from tests.factories import VILLEURBANNE, PartnerFactory, StructureFactory, UserFactory, member

pytestmark = pytest.mark.django_db
PDF = b"%PDF-1.4\n1 0 obj << >> endobj\n%%EOF\n"


@pytest.fixture
def world():
    load_default_schemes()
    caf = PartnerFactory(name="Caf du Rhône", kind=PartnerKind.CAF, communes=[VILLEURBANNE])
    city = PartnerFactory(name="Ville de Villeurbanne", kind=PartnerKind.COMMUNE, communes=[VILLEURBANNE])
    other = PartnerFactory(name="Ville voisine", kind=PartnerKind.COMMUNE, communes=[VILLEURBANNE])
    structure = StructureFactory()

    def line(partner, code, voted):
        return FundingLine.objects.create(
            structure=structure,
            partner=partner,
            scheme=FundingScheme.objects.get(code=code),
            year=2025,
            voted=voted,
            decision_reference="DEL-1" if voted else "",
            decision_date=datetime.date(2025, 1, 15) if voted else None,
        )

    return {
        "caf": caf,
        "city": city,
        "other": other,
        "structure": structure,
        "subsidy": line(city, "subvention-convention-cadre", Decimal("10000")),
        "service": line(caf, "ps-animation-globale", Decimal("20000")),
    }


def pay(line, kind, amount, on):
    return actions.record_payment(line, actor=None, kind=kind, amount=Decimal(amount), paid_on=on)


def expected_of(line):
    return [(e.step.kind, e.due, e.amount) for e in expected_payments(FundingLine.objects.filter(pk=line.pk))]


class TestExpected:
    def test_each_step_asks_its_share_and_what_is_paid_settles_the_earliest_first(self, world):
        line = world["subsidy"]  # 50 % by 30 April, the balance by 30 September of the next year
        assert expected_of(line) == [
            (PaymentKind.ADVANCE, datetime.date(2025, 4, 30), Decimal("5000.00")),
            (PaymentKind.BALANCE, datetime.date(2026, 9, 30), Decimal("5000.00")),
        ]
        pay(line, PaymentKind.ADVANCE, "3000", datetime.date(2025, 5, 10))  # late and short
        assert expected_of(line) == [
            (PaymentKind.ADVANCE, datetime.date(2025, 4, 30), Decimal("2000.00")),
            (PaymentKind.BALANCE, datetime.date(2026, 9, 30), Decimal("5000.00")),
        ]
        pay(line, PaymentKind.INSTALMENT, "4000.01", datetime.date(2025, 9, 1))  # beyond the advance's share
        assert expected_of(line) == [(PaymentKind.BALANCE, datetime.date(2026, 9, 30), Decimal("2999.99"))]

    def test_a_paid_balance_closes_the_line_and_a_forecast_expects_nothing(self, world):
        line = world["subsidy"]
        FundingScheme.objects.filter(pk=line.scheme_id).update(balance_requires_documents=False)
        line = FundingLine.objects.get(pk=line.pk)
        pay(line, PaymentKind.BALANCE, "9000", datetime.date(2026, 9, 1))  # less than voted: the partner's call
        assert expected_of(line) == []
        forecast = FundingLine.objects.create(
            structure=world["structure"],
            partner=world["city"],
            scheme=line.scheme,
            year=2026,
            forecast=Decimal("8000"),
        )
        assert expected_of(forecast) == []

    def test_odd_cents_go_to_the_balance(self, world):
        line = world["service"]  # the Caf: 70 % by 31 March
        FundingLine.objects.filter(pk=line.pk).update(voted=Decimal("1000.01"))
        assert [amount for _, _, amount in expected_of(line)] == [Decimal("700.01"), Decimal("300.00")]


class TestSchedule:
    def step(self, scheme, **fields):
        step = PaymentStep(scheme=scheme, **{"due_month": 6, "due_day": 30, **fields})
        step.full_clean()
        return step

    def test_refusals_say_what_is_wrong_at_the_field(self, world):
        scheme = world["subsidy"].scheme  # 50 % advance and a balance already
        with pytest.raises(ValidationError) as error:
            self.step(scheme, kind=PaymentKind.INSTALMENT, share=Decimal("60"))
        assert error.value.message_dict["share"] == ["Les échéances verseraient 110 % du montant voté : au plus 100 %."]
        with pytest.raises(ValidationError) as error:
            self.step(scheme, kind=PaymentKind.BALANCE)
        assert error.value.message_dict["kind"] == ["Ce dispositif a déjà une échéance de solde."]
        with pytest.raises(ValidationError) as error:
            self.step(scheme, kind=PaymentKind.INSTALMENT, share=Decimal("10"), following_year=True, due_month=12)
        assert error.value.message_dict["due_month"] == [
            "Le solde est prévu au 30/09 de l'année suivante : une échéance vient avant lui."
        ]
        with pytest.raises(ValidationError) as error:
            self.step(scheme, kind=PaymentKind.INSTALMENT, share=None, due_month=2, due_day=30)
        assert error.value.message_dict == {
            "share": ["Indiquez la part du montant voté que verse cette échéance."],
            "due_day": ["Ce jour n'existe pas dans ce mois."],
        }
        project = FundingScheme.objects.get(code="subvention-projet")  # no schedule
        with pytest.raises(ValidationError) as error:
            self.step(project, kind=PaymentKind.BALANCE, share=Decimal("100"))
        assert error.value.message_dict["share"] == [
            "Le solde verse ce qui reste du montant voté : laissez la part vide."
        ]
        self.step(scheme, kind=PaymentKind.INSTALMENT, share=Decimal("30"), due_month=10, due_day=31)

    def test_the_administrator_edits_the_schedule_on_the_scheme_page(self, client, world):
        client.force_login(UserFactory(is_superuser=True))
        scheme = FundingScheme.objects.get(code="subvention-projet")
        url = reverse("funding:scheme_step", args=[scheme.uuid])
        bad = client.post(url, {"kind": "advance", "share": "", "due_month": "3", "due_day": "1"})
        assert bad.status_code == 200
        assert bad.context["step_form"].errors["share"] == [
            "Indiquez la part du montant voté que verse cette échéance."
        ]
        assert not scheme.payment_steps.exists()
        client.post(url, {"kind": "advance", "share": "33,5", "due_month": "3", "due_day": "1"})
        client.post(url, {"kind": "balance", "share": "", "due_month": "12", "due_day": "15"})
        steps = list(scheme.payment_steps.all())
        assert [(s.kind, s.share) for s in steps] == [("advance", Decimal("33.50")), ("balance", None)]
        page = client.get(reverse("funding:scheme", args=[scheme.uuid])).content.decode()
        assert "33,5" in page and "le 15/12" in page
        client.post(url, {"supprimer": str(steps[0].uuid)})
        assert list(scheme.payment_steps.values_list("kind", flat=True)) == ["balance"]
        client.force_login(member(UserFactory(), world["caf"], Role.EDITOR))
        assert client.post(url, {"kind": "advance", "share": "10", "due_month": "3", "due_day": "1"}).status_code == 403

    def test_defaults_come_once_and_a_removed_step_stays_removed(self, world):
        scheme = FundingScheme.objects.get(code="ps-evs")
        assert [(s.kind, s.share) for s in scheme.payment_steps.all()] == [
            ("advance", Decimal("70.00")),
            ("balance", None),
        ]
        scheme.payment_steps.get(kind="advance").delete()
        load_default_schemes()
        assert list(scheme.payment_steps.values_list("kind", flat=True)) == ["balance"]


class TestWhereUsersSeeThem:
    def test_the_line_page_lists_them_and_offers_the_next_one(self, client, world):
        line = world["service"]
        client.force_login(member(UserFactory(), world["caf"], Role.EDITOR))
        response = client.get(reverse("funding:line", args=[line.uuid]))
        assert [(e.step.kind, e.amount) for e in response.context["expected"]] == [
            ("advance", Decimal("14000.00")),
            ("balance", Decimal("6000.00")),
        ]
        form = response.context["form"]
        assert form.initial["kind"] == "advance" and form.initial["amount"] == Decimal("14000.00")
        assert "31/03/2025" in response.content.decode()

    def test_the_calendar_and_its_feed_show_them_to_payer_and_payee_only(self, world):
        start, end = datetime.date(2025, 1, 1), datetime.date(2026, 12, 31)
        city_officer = member(UserFactory(), world["city"], Role.EDITOR)
        director = member(UserFactory(), world["structure"], Role.EDITOR)
        stranger = member(UserFactory(), world["other"], Role.EDITOR)

        def payments(user):
            return [(o.day, o.title) for o in obligations(user, start, end) if o.kind == "Versement attendu"]

        name = world["structure"].name
        assert payments(city_officer) == [
            (
                datetime.date(2025, 4, 30),
                f"{name} : avance de 5\u202f000,00\xa0€, Subvention complémentaire pluriannuelle de la "
                f"convention cadre 2025 (Ville de Villeurbanne)",
            ),
            (
                datetime.date(2026, 9, 30),
                f"{name} : solde de 5\u202f000,00\xa0€, Subvention complémentaire pluriannuelle de la "
                f"convention cadre 2025 (Ville de Villeurbanne)",
            ),
        ]
        assert {day for day, _ in payments(director)} == {
            datetime.date(2025, 3, 31),
            datetime.date(2025, 4, 30),
            datetime.date(2026, 9, 30),
        }
        assert payments(stranger) == []
        feed = Calendar.from_ical(
            ical(obligations(city_officer, start, end), "https://cadre.test", datetime.datetime.now(datetime.UTC))
        )
        summaries = [str(event["summary"]) for event in feed.walk("VEVENT")]
        assert sum(s.startswith("Versement attendu : ") for s in summaries) == 2


class TestSharedDeposit:
    def test_one_deposit_answers_every_scheme_asking_for_the_same_kind(self, client, world):
        structure, subsidy, service = world["structure"], world["subsidy"], world["service"]
        owed = {o.required.kind: o for o in documents_owed(structure, [2025], today=datetime.date(2026, 1, 1))}
        accounts = owed[DocumentKind.ANNUAL_ACCOUNTS]
        assert {str(source) for source in accounts.sources} == {subsidy.scheme.name, service.scheme.name}
        assert len(owed) == 4  # forecast budget, accounts, activity report, observatory: accounts asked twice
        lines = FundingLine.objects.filter(structure=structure)
        assert sum(o.required.kind == DocumentKind.ANNUAL_ACCOUNTS for _, o in owed_for_lines(lines)) == 1

        director = member(UserFactory(), structure, Role.EDITOR)
        client.force_login(director)
        url = reverse("funding:documents", args=[structure.uuid])
        page = client.get(url)
        labels = dict(page.context["form"].fields["owed"].choices)
        assert (
            labels[f"{accounts.required.pk}-2025"]
            == "Comptes annuels 2025 (échéance le 30/06/2026 ; pour 2 demandeurs)"
        )
        client.post(url, {"owed": f"{accounts.required.pk}-2025", "file": SimpleUploadedFile("comptes.pdf", PDF)})
        document = Document.objects.get()
        again = {o.required.kind: o for o in documents_owed(structure, [2025])}
        assert again[DocumentKind.ANNUAL_ACCOUNTS].document == document

        # The city's officer may review it though it was filed under the Caf's requirement, and the
        # acceptance answers both balances.
        officer = member(UserFactory(), world["city"], Role.EDITOR)
        assert can_review(officer, document) and can_review(member(UserFactory(), world["caf"], Role.EDITOR), document)
        assert not can_review(member(UserFactory(), world["other"], Role.EDITOR), document)
        assert [str(r) for r in missing_for_balance(subsidy)] == ["Comptes annuels"]
        client.force_login(officer)
        client.post(reverse("funding:document_review", args=[document.uuid]), {"decision": "accept", "reason": ""})
        assert Document.objects.get().status == DocumentStatus.ACCEPTED
        assert missing_for_balance(subsidy) == []
        assert [str(r) for r in missing_for_balance(service)] == ["Rapport d'activité"]
