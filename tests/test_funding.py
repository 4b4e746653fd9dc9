"""Funding: the Caf's computation by year, lines and payments, the sharing rules, money that adds up."""

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from cadre.accounts.models import Role
from cadre.agreements.models import Agreement, AgreementKind
from cadre.funding import actions
from cadre.funding.models import (
    FundingLine,
    FundingScheme,
    NotComputable,
    PaymentKind,
    SchemeYear,
    format_euros,
    service_amount,
)
from cadre.funding.schemes import load_default_schemes
from cadre.partners.models import PartnerKind
from cadre.structures.models import StructureKind
from cadre.territories.models import Commune
from tests.factories import VILLEURBANNE, PartnerFactory, StructureFactory, UserFactory, member

pytestmark = pytest.mark.django_db

D = Decimal


@pytest.fixture
def schemes():
    load_default_schemes()
    return {s.code: s for s in FundingScheme.objects.all()}


@pytest.fixture
def caf():
    return PartnerFactory(name="Caf du Rhône", kind=PartnerKind.CAF, departments=["69"])


@pytest.fixture
def city():
    return PartnerFactory(name="Ville de Villeurbanne", kind=PartnerKind.COMMUNE, communes=[VILLEURBANNE])


def ceiling(scheme, year, amount):
    SchemeYear.objects.filter(scheme=scheme, year=year).update(ceiling=D(amount))


class TestCafComputation:
    def test_rates_change_in_2023_and_the_ceiling_caps_the_expenses(self, schemes):
        ag, families, evs = (
            schemes["ps-animation-globale"],
            schemes["ps-animation-collective-familles"],
            schemes["ps-evs"],
        )
        for scheme in (ag, families, evs):
            ceiling(scheme, 2022, "70000")
            ceiling(scheme, 2023, "72000")
            ceiling(scheme, 2024, "74000")
        # Animation globale: 40 % until 2022, 42.4 % from 2023; expenses above the ceiling are capped.
        assert service_amount(ag, 2022, D("65000")) == D("26000.00")
        assert service_amount(ag, 2022, D("90000")) == D("28000.00")  # 40 % of 70,000
        assert service_amount(ag, 2023, D("65000")) == D("27560.00")
        assert service_amount(ag, 2024, D("100000")) == D("31376.00")  # 42.4 % of 74,000
        # Families and EVS: 60 % until 2022, 63.6 % from 2023.
        assert service_amount(families, 2022, D("20000")) == D("12000.00")
        assert service_amount(families, 2023, D("20000")) == D("12720.00")
        assert service_amount(evs, 2023, D("1234.57")) == D("785.19")  # 785.18652, rounded to the cent
        assert service_amount(evs, 2024, D("80000")) == D("47064.00")  # 63.6 % of 74,000

    def test_an_edited_rate_or_ceiling_is_what_counts(self, schemes):
        ag = schemes["ps-animation-globale"]
        SchemeYear.objects.filter(scheme=ag, year=2025).update(rate=D("43"), ceiling=D("75000"))
        assert service_amount(ag, 2025, D("50000")) == D("21500.00")

    def test_a_missing_ceiling_or_rate_is_said(self, schemes):
        ag = schemes["ps-animation-globale"]
        with pytest.raises(NotComputable, match="plafond 2024"):
            service_amount(ag, 2024, D("50000"))
        with pytest.raises(NotComputable, match="taux 2031"):
            service_amount(ag, 2031, D("50000"))
        with pytest.raises(NotComputable, match="dépenses retenues"):
            service_amount(ag, 2024, None)

    def test_a_line_shows_the_rule_amount_or_why_not(self, schemes, caf):
        ag = schemes["ps-animation-globale"]
        ceiling(ag, 2024, "74000")
        structure = StructureFactory()
        line = FundingLine.objects.create(
            structure=structure, partner=caf, scheme=ag, year=2024, eligible_expenses=D("60000")
        )
        assert line.computed_amount() == (D("25440.00"), "")
        line.year = 2025
        assert line.computed_amount() == (
            None,
            "le plafond 2025 de « Prestation de service animation globale et coordination » n'est pas saisi",
        )

    def test_loading_again_keeps_the_administrators_edits(self, schemes):
        ag = schemes["ps-animation-globale"]
        SchemeYear.objects.filter(scheme=ag, year=2023).update(rate=D("42.5"))
        assert load_default_schemes() == (0, 0)
        assert SchemeYear.objects.get(scheme=ag, year=2023).rate == D("42.5")


class TestLines:
    def test_a_scheme_applies_in_its_years_to_its_structures_from_its_funder(self, schemes, caf, city):
        ag = schemes["ps-animation-globale"]
        ag.last_year = 2026  # as when the 2025 circular's merged scheme takes over
        ag.save()
        centre = StructureFactory()
        with pytest.raises(ValidationError) as error:
            FundingLine(structure=centre, partner=caf, scheme=ag, year=2027).full_clean()
        assert "ne s'applique pas en 2027 (jusqu'en 2026)" in str(error.value)
        with pytest.raises(ValidationError) as error:
            FundingLine(structure=centre, partner=city, scheme=ag, year=2024).full_clean()
        assert error.value.message_dict["partner"] == [
            "« Prestation de service animation globale et coordination » est versé par un partenaire de type Caf."
        ]
        evs = StructureFactory(kind=StructureKind.EVS)
        with pytest.raises(ValidationError) as error:
            FundingLine(structure=evs, partner=caf, scheme=ag, year=2024).full_clean()
        assert "structure" in error.value.message_dict

    def test_a_line_of_an_agreement_stays_in_its_period(self, schemes, city):
        agreement = Agreement.objects.create(
            kind=AgreementKind.STRUCTURE,
            title="COF",
            starts=datetime.date(2024, 1, 1),
            ends=datetime.date(2027, 12, 31),
        )
        line = FundingLine(
            structure=StructureFactory(),
            partner=city,
            scheme=schemes["subvention-convention-cadre"],
            year=2028,
            agreement=agreement,
            forecast=D("1000"),
        )
        with pytest.raises(ValidationError) as error:
            line.full_clean()
        assert error.value.message_dict["year"] == [
            "L'année 2028 est hors de la période de la convention (du 01/01/2024 au 31/12/2027)."
        ]

    def test_multiyear_commitment_is_all_or_nothing(self, schemes, city):
        agreement = Agreement.objects.create(
            kind=AgreementKind.TRIPARTITE,
            title="Tripartite",
            commune=Commune.objects.get(code=VILLEURBANNE),
            starts=datetime.date(2024, 1, 1),
            ends=datetime.date(2027, 12, 31),
        )
        structures = [StructureFactory(), StructureFactory()]
        for structure in structures:
            agreement.parties.create(structure=structure)
        scheme = schemes["subvention-convention-cadre"]
        with pytest.raises(ValidationError, match="2028"):
            actions.commit_multiyear(
                agreement, actor=None, partner=city, scheme=scheme, amounts={2027: "5000", 2028: "5000"}
            )
        assert not FundingLine.objects.exists()
        lines = actions.commit_multiyear(
            agreement, actor=None, partner=city, scheme=scheme, amounts=dict.fromkeys(range(2024, 2028), "5000.50")
        )
        assert len(lines) == 8
        assert sum(line.forecast for line in lines) == D("40004.00")
        outsider = StructureFactory()
        with pytest.raises(ValidationError, match="n'est pas partie à la convention"):
            actions.commit_multiyear(
                agreement, actor=None, partner=city, scheme=scheme, amounts={2026: "10"}, structures=[outsider]
            )
        assert not FundingLine.objects.filter(structure=outsider).exists()


class TestPayments:
    @pytest.fixture
    def line(self, schemes, city):
        # The rules of payments alone: the documents a balance waits for are tests/test_documents.py's.
        FundingScheme.objects.filter(code="subvention-convention-cadre").update(balance_requires_documents=False)
        return FundingLine.objects.create(
            structure=StructureFactory(),
            partner=city,
            scheme=schemes["subvention-convention-cadre"],
            year=2024,
            voted=D("10000.00"),
            decision_reference="DEL-2024-118",
            decision_date=datetime.date(2024, 2, 12),
        )

    def pay(self, line, kind, amount, day=datetime.date(2024, 3, 1)):
        return actions.record_payment(line, actor=None, kind=kind, amount=D(amount), paid_on=day)

    def test_payments_never_exceed_the_voted_amount(self, line):
        self.pay(line, PaymentKind.ADVANCE, "6000")
        with pytest.raises(ValidationError) as error:
            self.pay(line, PaymentKind.BALANCE, "4000.01")
        assert error.value.message_dict["amount"] == [
            "Ce versement dépasse le montant voté (10\u202f000,00\u00a0€) : il reste 4\u202f000,00\u00a0€ à verser."
        ]
        self.pay(line, PaymentKind.BALANCE, "4000")
        assert line.paid() == D("10000.00")

    def test_the_balance_closes_the_line(self, line):
        self.pay(line, PaymentKind.BALANCE, "5000")
        with pytest.raises(ValidationError, match="déjà versé"):
            self.pay(line, PaymentKind.BALANCE, "100")
        with pytest.raises(ValidationError, match="la ligne est close"):
            self.pay(line, PaymentKind.INSTALMENT, "100")

    def test_no_payment_before_the_vote(self, schemes, city, line):
        with pytest.raises(ValidationError, match="suit la décision du 12/02/2024"):
            self.pay(line, PaymentKind.ADVANCE, "100", datetime.date(2024, 1, 5))
        unvoted = FundingLine.objects.create(
            structure=line.structure, partner=city, scheme=schemes["subvention-qpv"], year=2024, forecast=D("3000")
        )
        with pytest.raises(ValidationError, match="un versement suit une décision"):
            self.pay(unvoted, PaymentKind.ADVANCE, "100")

    def test_the_vote_cannot_drop_below_what_is_paid(self, line):
        self.pay(line, PaymentKind.ADVANCE, "6000")
        line.voted = D("5000")
        with pytest.raises(ValidationError) as error:
            line.full_clean()
        assert "Déjà 6\u202f000,00\u00a0€ versés" in error.value.message_dict["voted"][0]


class TestSharing:
    def test_a_partner_sees_its_lines_in_detail_and_the_others_as_totals(self, schemes, caf, city):
        funded, elsewhere = StructureFactory(), StructureFactory()
        ag, framework = schemes["ps-animation-globale"], schemes["subvention-convention-cadre"]
        caf_line = FundingLine.objects.create(structure=funded, partner=caf, scheme=ag, year=2024, voted=D("30000"))
        city_line = FundingLine.objects.create(
            structure=funded, partner=city, scheme=framework, year=2024, voted=D("8000")
        )
        other = FundingLine.objects.create(structure=elsewhere, partner=caf, scheme=ag, year=2024, voted=D("25000"))
        officer = member(UserFactory(), city, Role.VIEWER)
        assert set(FundingLine.objects.visible_to(officer)) == {city_line}
        assert set(FundingLine.objects.totals_visible_to(officer)) == {city_line, caf_line}
        director = member(UserFactory(), funded, Role.EDITOR)
        assert set(FundingLine.objects.visible_to(director)) == {caf_line, city_line}
        assert other not in FundingLine.objects.totals_visible_to(director)


def test_euros_are_written_in_french():
    assert format_euros(D("1234567.5")) == "1\u202f234\u202f567,50\u00a0€"
    assert format_euros(None) == "—"
