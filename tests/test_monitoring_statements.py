"""Financial statements: the accounts must add up, field by field, and the ratios are those computed by hand."""

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError

from cadre.funding import actions
from cadre.funding.models import FundingLine, FundingScheme, PaymentKind, format_euros
from cadre.funding.schemes import load_default_schemes
from cadre.monitoring import ratios
from cadre.monitoring.models import FinancialStatement
from cadre.partners.models import PartnerKind
from tests.factories import PartnerFactory, StructureFactory

D = Decimal

# A centre social of 520 k€ of expenses closing 2025 on a small loss; every figure below is worked out by hand.
ACCOUNTS_2025 = {
    "subsidy_caf_service": D(150000),
    "subsidy_caf_other": D(20000),
    "subsidy_state": D(30000),
    "subsidy_department": D(40000),
    "subsidy_municipal": D(180000),
    "subsidy_carsat": D(5000),
    "subsidy_other": D(15000),
    "users_contributions": D(60000),
    "other_income": D(10000),
    "financial_income": D(1000),
    "exceptional_income": D(4000),  # income: 515 000
    "staff_costs": D(360000),
    "external_charges": D(120000),
    "depreciation": D(15000),
    "other_expenses": D(20000),
    "financial_exceptional_expenses": D(5000),  # expenses: 520 000
    "operating_result": D(-5000),  # 510 000 − 515 000
    "net_result": D(-5000),
    "fixed_assets": D(80000),
    "receivables": D(90000),
    "subsidies_receivable": D(70000),
    "cash": D(60000),  # assets: 230 000
    "association_funds": D(50000),
    "reserves": D(30000),
    "retained_earnings": D(10000),
    "balance_result": D(-5000),  # equity: 85 000
    "provisions": D(10000),
    "dedicated_funds": D(5000),
    "financial_debts": D(40000),
    "supplier_debts": D(30000),
    "tax_social_debts": D(55000),
    "deferred_income": D(5000),  # liabilities: 230 000
}


def statement(year=2025, **changes):
    fields = {**ACCOUNTS_2025, **changes}
    return FinancialStatement(starts_on=datetime.date(year, 1, 1), ends_on=datetime.date(year, 12, 31), **fields)


def previous_years():
    """2023 closed on a profit of 1 000, 2024 on a loss of 2 000, both with 500 000 of income."""
    return [
        statement(  # 500 000 of income, external charges cut to the result; the balance sheet moves by it in cash
            year,
            subsidy_municipal=D(165000),
            external_charges=D(120000) - 18000 - extra_savings,
            operating_result=D(result),
            net_result=D(result),
            balance_result=D(result),
            cash=D(60000) + result + 5000,
        )
        for year, result, extra_savings in ((2023, 1000, 3000), (2024, -2000, 0))
    ]


def check(accounts):
    """What a form checks: each field, then the accounts as a whole."""
    accounts.clean_fields(exclude=["structure", "year"])
    accounts.clean()


def errors_of(accounts):
    with pytest.raises(ValidationError) as raised:
        check(accounts)
    return raised.value.message_dict


def test_accounts_that_add_up_are_accepted():
    accounts = statement()
    check(accounts)
    assert (accounts.income, accounts.expenses) == (D(515000), D(520000))
    assert accounts.total_assets == accounts.total_liabilities == D(230000)
    assert accounts.equity == D(85000) and accounts.days == 365


def test_each_figure_that_does_not_add_up_is_told_at_its_field():
    e = format_euros
    assert f"pas {e(-4000)}." in errors_of(statement(operating_result=D(-4000)))["operating_result"][0]
    message = errors_of(statement(net_result=D(5000), balance_result=D(5000)))["net_result"][0]
    assert f"résultat net des lignes est {e(-5000)} (produits {e(515000)} moins charges {e(520000)})" in message
    assert "celui du compte de résultat" in errors_of(statement(balance_result=D(-4000)))["balance_result"][0]
    unbalanced = errors_of(statement(cash=D(61000)))["cash"][0]
    assert f"actif {e(231000)}, passif {e(230000)} (écart {e(1000)})" in unbalanced
    too_many = errors_of(statement(subsidies_receivable=D(95000)))["subsidies_receivable"][0]
    assert "ne peuvent pas les dépasser" in too_many


def test_a_negative_amount_is_refused_where_accounts_never_have_one():
    errors = errors_of(statement(staff_costs=D(-360000)))
    assert errors == {"staff_costs": ["Un montant de « charges de personnel » ne peut pas être négatif."]}
    # A loss carried forward is negative: the balance then needs 20 000 more elsewhere.
    check(statement(retained_earnings=D(-10000), reserves=D(50000)))


def test_the_fiscal_year_has_sensible_dates():
    wrong = statement()
    wrong.ends_on = datetime.date(2024, 12, 31)
    assert errors_of(wrong)["ends_on"] == ["La clôture doit suivre le début de l'exercice."]
    long = statement()
    long.starts_on = datetime.date(2023, 1, 1)
    assert "24 mois" in errors_of(long)["ends_on"][0]


def test_the_ratios_are_those_computed_by_hand():
    history = [*previous_years(), statement()]
    for accounts in history:
        check(accounts)
    found = ratios.ratios_of(history[-1], history)
    assert found == {
        "net_margin": D("-1.0"),  # −5 000 ÷ 515 000
        "equity_months": D("2.0"),  # 85 000 ÷ 520 000 × 12
        "cash_days": D("43.4"),  # 60 000 ÷ (520 000 − 15 000) × 365
        "working_capital": D(60000),  # 85 000 + 10 000 + 5 000 + 40 000 − 80 000
        "working_capital_requirement": D(0),  # 90 000 − (30 000 + 55 000 + 5 000)
        "net_cash": D(60000),  # the cash itself, as the balance sheet balances
        "tax_social_debts_share": D("15.3"),  # 55 000 ÷ 360 000
        "staff_share": D("69.2"),  # 360 000 ÷ 520 000
        "first_funder_share": D("35.0"),  # the communes' 180 000 over the Caf's 170 000
        "public_share": D("82.5"),  # 425 000 ÷ 515 000
        "income_change": D("3.0"),  # 500 000 → 515 000
        "consecutive_deficits": 2,  # 2024 and 2025
    }


def test_trends_need_the_year_just_before():
    history = [previous_years()[0], statement()]  # 2024 missing
    found = ratios.ratios_of(history[-1], history)
    assert found["income_change"] is None and found["consecutive_deficits"] == 1


def test_a_short_first_fiscal_year_counts_its_own_days():
    short = statement()
    short.starts_on = datetime.date(2025, 7, 1)  # six months: 184 days
    assert ratios.ratios_of(short, [short])["cash_days"] == D("21.9")  # 60 000 × 184 ÷ 505 000


def test_a_ratio_of_nothing_is_none_not_zero():
    empty = FinancialStatement(starts_on=datetime.date(2025, 1, 1), ends_on=datetime.date(2025, 12, 31))
    found = ratios.ratios_of(empty, [empty])
    assert found["net_margin"] is None and found["cash_days"] is None and found["staff_share"] is None


@pytest.mark.django_db
def test_one_statement_per_structure_and_fiscal_year():
    structure = StructureFactory()
    first = statement()
    first.structure = structure
    first.save()
    assert first.year == 2025
    again = statement()
    again.structure = structure
    with pytest.raises(IntegrityError):
        again.save()


@pytest.mark.django_db
def test_payments_overdue_from_partners_come_from_the_funding_lines():
    load_default_schemes()
    structure = StructureFactory()
    city = PartnerFactory(name="Ville de Villeurbanne", kind=PartnerKind.COMMUNE)
    line = FundingLine.objects.create(
        structure=structure,
        partner=city,
        scheme=FundingScheme.objects.get(code="subvention-convention-cadre"),
        year=2025,
        voted=D(10000),
        decision_reference="DEL-1",
        decision_date=datetime.date(2025, 1, 15),
    )
    assert ratios.overdue_payments(structure, datetime.date(2025, 1, 2)) == 0  # nothing due yet
    assert ratios.overdue_payments(structure, datetime.date(2026, 12, 7)) == D(10000)
    actions.record_payment(
        line, actor=None, kind=PaymentKind.ADVANCE, amount=D(10000), paid_on=datetime.date(2026, 3, 1)
    )
    assert ratios.overdue_payments(structure, datetime.date(2026, 12, 7)) == 0


def test_a_structure_living_on_overdrafts_has_a_negative_net_cash():
    """Receivables grow by 100 000, paid for by a 50 000 overdraft and 50 000 of the cash: FR − BFR is the cash
    less the overdraft, −40 000, though the cash itself stays positive."""
    accounts = statement(receivables=D(190000), cash=D(10000), bank_overdrafts=D(50000))
    check(accounts)
    found = ratios.ratios_of(accounts, [accounts])
    assert found["working_capital"] == D(60000) and found["working_capital_requirement"] == D(100000)
    assert found["net_cash"] == D(-40000)
