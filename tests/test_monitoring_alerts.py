"""Explained early warning: statuses and their written facts on hand-built accounts, consecutive years, rules
refused at save, the shipped set loaded twice, the recompute after a change, the département quartiles."""

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from cadre.funding.models import Document, DocumentKind, DocumentStatus, FundingLine, FundingScheme
from cadre.funding.schemes import load_default_schemes
from cadre.monitoring import ratios
from cadre.monitoring.alerts import _change, compute_statuses, ratio_quartiles, statement_figures
from cadre.monitoring.default_rules import DEFAULT_RULES, load_default_rules
from cadre.monitoring.enums import StatementStatus
from cadre.monitoring.forms_alerts import AlertRuleForm
from cadre.monitoring.models import AlertRule, FinancialStatement, HealthLevel, HealthStatus, RatioQuartiles
from cadre.partners.models import PartnerKind
from tests.factories import ApprovalFactory, PartnerFactory, StructureFactory

pytestmark = pytest.mark.django_db
D = Decimal
TODAY = datetime.date(2026, 12, 7)


def accounts(structure, year, *, result=0, cash=60000, tax_social_debts=40000, caf=150000, status="accepted"):
    """Balanced accounts of 500 000 € of income closing `result`: staff 350 000, depreciation 10 000, external
    charges what is left; the loss carried forward balances the balance sheet."""
    income = D(500000)
    expenses = income - result
    fields = {
        "subsidy_caf_service": D(caf),
        "subsidy_municipal": D(200000),
        "users_contributions": income - caf - 200000,
        "staff_costs": D(350000),
        "depreciation": D(10000),
        "external_charges": expenses - 360000,
        "operating_result": D(result),
        "net_result": D(result),
        "balance_result": D(result),
        "fixed_assets": D(50000),
        "receivables": D(40000),
        "cash": D(cash),
        "association_funds": D(100000),
        "supplier_debts": D(20000),
        "tax_social_debts": D(tax_social_debts),
    }
    assets = fields["fixed_assets"] + fields["receivables"] + fields["cash"]
    fields["retained_earnings"] = assets - (D(100000) + result + 20000 + tax_social_debts)
    statement = FinancialStatement(
        structure=structure,
        starts_on=datetime.date(year, 1, 1),
        ends_on=datetime.date(year, 12, 31),
        status=status,
        **fields,
    )
    statement.full_clean()
    statement.save()
    return statement


def plain(text):
    """Facts with ordinary spaces (French typography writes narrow and no-break ones)."""
    return text.replace("\u202f", " ").replace("\u00a0", " ")


def facts(structure, year):
    status = HealthStatus.objects.get(structure=structure, year=year)
    return status.level, [plain(text) for text in status.fact_texts]


@pytest.fixture
def rules():
    load_default_rules()


def test_statuses_and_their_facts_are_written_out(rules):
    structure = StructureFactory()
    accounts(structure, 2024, result=-12400)
    # 18 days of cash: 25 693 × 365 ÷ (531 000 − 10 000 of depreciation) = 17.9996…, rounded to 18.0
    accounts(structure, 2025, result=-31000, cash=25693)
    healthy = StructureFactory()
    accounts(healthy, 2025, result=1000, cash=200000)
    compute_statuses(today=TODAY)

    level, texts = facts(structure, 2025)
    assert level == HealthLevel.ALERT
    assert "deux exercices déficitaires : 2024 -12 400 €, 2025 -31 000 €" in texts
    assert "trésorerie : 18 jours de charges, seuil 30" in texts
    assert "exercice déficitaire : -31 000 €, seuil 0" in texts
    assert texts[0].startswith(("deux exercices", "trésorerie"))  # the alerts before the vigilance
    level, texts = facts(structure, 2024)
    assert level == HealthLevel.VIGILANCE  # one deficit alone: vigilance only
    assert not any(text.startswith("deux exercices") for text in texts)
    assert facts(healthy, 2025) == (HealthLevel.GREEN, [])

    # The stored ratios are those of ratios.py on the statement itself.
    statements = list(FinancialStatement.objects.filter(structure=structure).order_by("ends_on"))
    stored = HealthStatus.objects.get(structure=structure, year=2025)
    expected = ratios.ratios_of(statements[-1], statements)
    assert {code: stored.ratio(code) for code in expected} == {
        code: None if value is None else D(value) for code, value in expected.items()
    }
    assert stored.ratio("consecutive_deficits") == 2


def test_the_bulk_write_keeps_every_character_and_a_recompute_stores_the_same(rules):
    """Statuses are written in bulk (binary COPY on PostgreSQL): the same facts and ratios come back."""
    # A rule's name opens its fact: COPY's special characters (backslash, tab, new line) must come back intact.
    AlertRule.objects.create(
        name="trésorerie \\ « C:\\n »\tà\nsuivre", signal="cash_days", comparison="below", threshold=30
    )
    structure = StructureFactory()
    accounts(structure, 2024, result=-12400)
    accounts(structure, 2025, result=-31000, cash=25693)
    compute_statuses(today=TODAY)
    stored = list(HealthStatus.objects.order_by("year").values_list("year", "level", "facts", "ratios"))
    HealthStatus.objects.update(facts=[{"text": "ancien \\ fait\n"}])
    compute_statuses(today=TODAY)
    assert list(HealthStatus.objects.order_by("year").values_list("year", "level", "facts", "ratios")) == stored
    assert "trésorerie \\ « C:\\n »\tà\nsuivre : 18 jours de charges, seuil 30" in facts(structure, 2025)[1]


def test_consecutive_years_must_follow_each_other_and_be_accepted(rules):
    structure = StructureFactory()
    accounts(structure, 2022, result=-5000)
    accounts(structure, 2024, result=-5000)  # 2023 missing: not two in a row
    accounts(structure, 2025, result=-5000, status=StatementStatus.SUBMITTED)  # not accepted: not counted
    compute_statuses([structure], today=TODAY)
    assert set(HealthStatus.objects.filter(structure=structure).values_list("year", flat=True)) == {2022, 2024}
    level, texts = facts(structure, 2024)
    assert level == HealthLevel.VIGILANCE
    assert [text for text in texts if "déficitaire" in text] == ["exercice déficitaire : -5 000 €, seuil 0"]

    # Debts rising more than 10 % two years in a row: 40 000 → 45 000 (+12,5 %) → 50 000 (+11,1 %).
    other = StructureFactory()
    for year, debts in ((2023, 40000), (2024, 45000), (2025, 50000)):
        accounts(other, year, result=1000, tax_social_debts=debts)
    compute_statuses([other], today=TODAY)
    assert "dettes fiscales et sociales en hausse : 2024 12,5 %, 2025 11,1 %" in facts(other, 2025)[1]
    assert not any("en hausse" in text for text in facts(other, 2024)[1])


def test_a_threshold_without_meaning_is_refused_at_its_field():
    def error(**fields):
        rule = AlertRule(name="essai", comparison="below", **fields)
        with pytest.raises(ValidationError) as raised:
            rule.full_clean()
        return raised.value.message_dict["threshold"][0]

    assert "ne dépasse pas 100 %" in error(signal="first_funder_share", threshold=D("120"))
    assert "ne descend pas sous 0 jours de charges" in error(signal="cash_days", threshold=D("-5"))
    assert "ne descend pas sous 0 mois de charges" in error(signal="equity_months", threshold=D("-1"))
    assert "nombres entiers" in error(signal="consecutive_deficits", threshold=D("1.5"))
    AlertRule(name="essai", signal="net_margin", comparison="below", threshold=D("-5")).full_clean()

    form = AlertRuleForm(
        data={
            "name": "dépendance",
            "signal": "public_share",
            "comparison": "above",
            "threshold": "150,5",
            "consecutive_years": "1",
            "severity": "alerte",
            "active": "on",
        }
    )
    assert not form.is_valid()
    assert "ne dépasse pas 100 %" in form.errors["threshold"][0]
    assert list(form.errors) == ["threshold"]


def test_the_shipped_rules_load_twice_to_the_same_set():
    assert load_default_rules() == (len(DEFAULT_RULES), 0)
    snapshot = list(AlertRule.objects.order_by("code").values("code", "signal", "comparison", "threshold", "severity"))
    assert all(rule.source for rule in AlertRule.objects.all())
    # An administrator's threshold is a local choice: loading again keeps it; --reset restores the shipped one.
    AlertRule.objects.filter(code="cash-under-30-days").update(threshold=D(20))
    assert load_default_rules() == (0, 0)
    assert AlertRule.objects.get(code="cash-under-30-days").threshold == D(20)
    assert load_default_rules(reset=True) == (0, 1)
    again = list(AlertRule.objects.order_by("code").values("code", "signal", "comparison", "threshold", "severity"))
    assert again == snapshot and AlertRule.objects.count() == len(DEFAULT_RULES)


def test_a_statement_that_changes_recomputes_its_structure(rules):
    """The receivers enqueue the recompute; the test settings run tasks where they are enqueued."""
    structure = StructureFactory()
    statement = accounts(structure, 2025, result=1000, cash=20000, tax_social_debts=0)
    assert HealthStatus.objects.get(structure=structure, year=2025).level == HealthLevel.ALERT
    statement.cash += 180000
    statement.association_funds += 180000
    statement.full_clean()
    statement.save()
    assert facts(structure, 2025) == (HealthLevel.GREEN, [])
    statement.status = StatementStatus.RETURNED
    statement.save()
    assert not HealthStatus.objects.filter(structure=structure, year=2025).exists()


def test_statuses_are_seen_within_the_user_scope(rules):
    from cadre.accounts.models import Role
    from tests.factories import UserFactory, member

    mine, other = StructureFactory(), StructureFactory()
    for structure in (mine, other):
        accounts(structure, 2024, result=-1000)
        accounts(structure, 2025, result=-2000)
    user = member(UserFactory(), mine, Role.EDITOR)
    visible = HealthStatus.objects.visible_to(user)
    assert set(visible.values_list("structure", "year")) == {(mine.pk, 2024), (mine.pk, 2025)}
    assert set(visible.latest_per_structure().values_list("structure", "year")) == {(mine.pk, 2025)}


def test_the_departement_quartiles_of_each_ratio():
    structures = [StructureFactory() for _ in range(5)]
    for structure, cash in zip(structures, (10000, 20000, 30000, 40000, 50000), strict=True):
        accounts(structure, 2025, result=1000, cash=cash)
    compute_statuses(today=TODAY)
    quartiles = ratio_quartiles(structures[0].commune.department, 2025)
    cash = quartiles["cash_days"]
    days = sorted(HealthStatus.objects.get(structure=each, year=2025).ratio("cash_days") for each in structures)
    assert cash.count == 5 and (cash.first_quartile, cash.median, cash.third_quartile) == (days[1], days[2], days[3])
    assert set(quartiles) == {ratio.code for ratio in ratios.RATIOS} - {"income_change"}  # no year before 2025
    # One structure's recompute refreshes its département's quartiles.
    statement = FinancialStatement.objects.get(structure=structures[2])
    statement.status = StatementStatus.RETURNED
    statement.save()
    assert ratio_quartiles(structures[0].commune.department_id, 2025)["cash_days"].count == 4
    assert RatioQuartiles.objects.filter(year=2025, ratio="cash_days").count() == 1


def test_signals_from_cadre_own_data(rules):
    load_default_schemes()
    structure = StructureFactory()
    ApprovalFactory(structure=structure, starts=datetime.date(2024, 1, 1), ends=datetime.date(2027, 3, 31))
    renewed = StructureFactory()
    ApprovalFactory(structure=renewed, starts=datetime.date(2024, 1, 1), ends=datetime.date(2027, 3, 31))
    ApprovalFactory(structure=renewed, starts=datetime.date(2027, 4, 1), ends=datetime.date(2030, 12, 31))
    city = PartnerFactory(kind=PartnerKind.COMMUNE)
    scheme = FundingScheme.objects.get(code="subvention-convention-cadre")
    FundingLine.objects.create(structure=structure, partner=city, scheme=scheme, year=2025, voted=D(10000))
    required = scheme.required_documents.get(kind=DocumentKind.ANNUAL_ACCOUNTS)
    for _ in range(2):
        Document.objects.create(
            structure=structure,
            required=required,
            year=2024,
            file_name="comptes.pdf",
            content_type="application/pdf",
            size=1,
            sha256="0" * 64,
            content=b"x",
            status=DocumentStatus.REJECTED,
            rejection_reason="illisible",
        )
    compute_statuses([structure, renewed], today=datetime.date(2026, 12, 7))

    level, texts = facts(structure, 2026)
    assert level == HealthLevel.VIGILANCE
    assert texts == ["agrément sans renouvellement : 3 mois avant la fin (fin le 31/03/2027), seuil 6"]
    assert not HealthStatus.objects.filter(structure=renewed).exists()
    assert "pièce refusée deux fois : 2 refus (comptes annuels 2024), seuil 2" in facts(structure, 2024)[1]
    texts = facts(structure, 2025)[1]
    # The accounts of 2025 were due by 30 June 2026 (the scheme's requirement): 160 days late on 7 December.
    assert any(text.startswith("comptes annuels non déposés : ") and "jours de retard" in text for text in texts)


def test_every_ratio_in_one_query_is_the_ratio_of_ratios_py():
    """On PostgreSQL the recompute computes every ratio of every accepted statement in one SQL query (each ratio's
    `sql`): the same values, written the same way, as ratios.py on the statements themselves. Ties round half
    away from zero, a zero has no sign, a ratio without meaning is None, a trend needs the year just before."""
    a, b = StructureFactory(), StructureFactory()

    def statement(structure, year, *, starts=None, ends=None, status=StatementStatus.ACCEPTED, **fields):
        return FinancialStatement(
            structure=structure,
            year=year,
            starts_on=starts or datetime.date(year, 1, 1),
            ends_on=ends or datetime.date(year, 12, 31),
            status=status,
            **fields,
        )

    def figures(caf, net_result, tax_social_debts, **fields):
        return {
            "subsidy_caf_service": D(caf),
            "subsidy_municipal": D(150000),
            "subsidy_other": D(250000),
            "staff_costs": D(400000),
            "depreciation": D(15000),
            "external_charges": D(385000),
            "net_result": D(net_result),
            "balance_result": D(net_result),
            "tax_social_debts": D(tax_social_debts),
            "cash": D("60000.50"),
            "association_funds": D(100000),
            "reserves": D("20000.25"),
            "fixed_assets": D(70000),
            "receivables": D(90000),
            "supplier_debts": D(30000),
            **fields,
        }

    nothing = {"subsidy_municipal": D(0), "subsidy_other": D(0), "staff_costs": D(0), "depreciation": D(0)}
    FinancialStatement.objects.bulk_create(
        [
            statement(a, 2020, **figures(400000, -100, 1800)),  # debts 1 800 for 400 000 of staff: 0,45 % → 0,5
            statement(a, 2021, **figures(399600, -200, 2000)),  # income 800 000 → 799 600: −0,05 % → −0,1
            statement(a, 2022, **figures(399500, 50, 2000)),  # −100 of 799 600, −0,0125 %: 0,0 without sign
            statement(a, 2024, **figures(399500, -10, 0)),  # 2023 missing: no trend, a run of one deficit
            statement(a, 2025, ends=datetime.date(2025, 6, 30), **figures(200000, -10, 100)),  # six months
            statement(b, 2024, status=StatementStatus.SUBMITTED, **figures(1, -1, 1)),  # not accepted: not read
            statement(b, 2025, **figures(0, 0, 0, external_charges=D(0), **nothing)),  # no income, no expenses
        ]
    )
    found = {(structure_id, year): rest for structure_id, year, *rest in statement_figures()}

    expected = {}
    for structure in (a, b):
        history = list(FinancialStatement.objects.accepted().filter(structure=structure).order_by("ends_on"))
        for index, accounts in enumerate(history):
            before = history[index - 1] if index else None
            change = None
            if before and ratios.follows(before, accounts):
                change = _change(accounts.tax_social_debts, before.tax_social_debts)
            values = ratios.ratios_of(accounts, history[: index + 1])
            texts = {code: None if v is None else str(abs(v) if v == 0 else v) for code, v in values.items()}
            expected[structure.pk, accounts.year] = [accounts.net_result, change, texts]
    assert found == expected
    deficits = [found[a.pk, year][2]["consecutive_deficits"] for year in (2020, 2021, 2022, 2024, 2025)]
    assert deficits == ["1", "2", "0", "1", "2"]
    assert found[a.pk, 2020][2]["tax_social_debts_share"] == "0.5"
    assert [found[a.pk, year][2]["income_change"] for year in (2021, 2022, 2024)] == ["-0.1", "0.0", None]
    assert [found[a.pk, year][1] for year in (2021, 2022, 2024, 2025)] == [D("11.1"), D("0.0"), None, None]
    assert found[a.pk, 2025][2]["cash_days"] == "13.8"  # 60 000,50 × 181 days ÷ 785 000
    empty = found[b.pk, 2025][2]
    assert empty["staff_share"] is None and empty["cash_days"] is None and empty["working_capital"] == "50000.25"
