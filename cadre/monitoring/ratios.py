"""The ratios of financial health, each with its formula in French, computed from a structure's statements.

A ratio reads one statement and, for the trends, the statements of the years before it (`history`: the
structure's statements, oldest first, up to and including this one). A ratio without meaning for a statement
(a share of zero income) is None, shown « — », never 0.

Each ratio is also written in SQL (`sql`), over the columns of STATEMENTS_SQL: the national recompute of the
statuses computes every ratio of every accepted statement in one query on PostgreSQL (statement_figures). Both
forms give the same values (exact numeric arithmetic, rounded half away from zero), which
tests/test_monitoring_alerts.py checks on hand-built accounts.
"""

import dataclasses
import datetime
from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal

from cadre.funding.models import FundingLine, expected_payments
from cadre.monitoring.enums import StatementStatus
from cadre.monitoring.models import (
    EQUITY_FIELDS,
    OPERATING_EXPENSE_FIELDS,
    OPERATING_INCOME_FIELDS,
    OTHER_EXPENSE_FIELDS,
    OTHER_INCOME_FIELDS,
    PUBLIC_SUBSIDY_FIELDS,
    FinancialStatement,
)

HUNDRED = Decimal(100)
ONE_DECIMAL = Decimal("0.1")


@dataclasses.dataclass(frozen=True)
class Ratio:
    code: str
    label: str
    unit: str  # "%", "jours", "mois", "€", "exercices"
    formula: str
    compute: Callable  # (statement, history) -> Decimal | int | None
    sql: str  # the same, over the columns of STATEMENTS_SQL


def _share(part, whole):
    if not whole:
        return None
    return (Decimal(part) * HUNDRED / whole).quantize(ONE_DECIMAL, rounding=ROUND_HALF_UP)


def _per_days(amount, daily_base):
    if not daily_base:
        return None
    return (Decimal(amount) / daily_base).quantize(ONE_DECIMAL, rounding=ROUND_HALF_UP)


# PostgreSQL's numeric division keeps at least 16 significant digits: far more than a ratio of amounts in cents
# needs to be rounded to one decimal as Decimal's 28 digits round it; round() goes half away from zero.
def _share_sql(part, whole):
    return f"round(({part}) * 100 / nullif({whole}, 0), 1)"


def _per_days_sql(amount, daily_base):
    return f"round(({amount}) / nullif({daily_base}, 0), 1)"


def working_capital(s):
    """Fonds de roulement: the lasting resources (equity, provisions, dedicated funds, borrowings) over the
    fixed assets they finance."""
    return s.equity + s.provisions + s.dedicated_funds + s.financial_debts - s.fixed_assets


def working_capital_requirement(s):
    """Besoin en fonds de roulement: what is owed to the structure (subsidies to receive included) less what
    it owes in its day-to-day running."""
    return s.receivables - (s.supplier_debts + s.tax_social_debts + s.deferred_income)


def _funders(s):
    """Income by funder: the Caf's two lines make one funder."""
    return [
        s.subsidy_caf_service + s.subsidy_caf_other,
        s.subsidy_state,
        s.subsidy_region,
        s.subsidy_department,
        s.subsidy_municipal,
        s.subsidy_msa,
        s.subsidy_carsat,
        s.subsidy_other,
    ]


def follows(previous, statement):
    """Whether `previous` is the fiscal year just before `statement` (no year missing between them)."""
    return statement.starts_on - previous.ends_on <= datetime.timedelta(days=1) and previous.ends_on < statement.ends_on


def _income_change(statement, history):
    before = history[:-1]
    if not before or not follows(before[-1], statement):
        return None
    return _share(statement.income - before[-1].income, before[-1].income)


def consecutive_deficits(statement, history):
    """Fiscal years in a row, ending with this one, that closed on a loss (0 if this one did not)."""
    count, current = 0, statement
    for earlier in reversed(history):
        if earlier is not current and not follows(earlier, current):
            break
        if earlier.net_result >= 0:
            break
        count, current = count + 1, earlier
    return count


RATIOS = [
    Ratio(
        "net_margin",
        "Résultat net sur produits",
        "%",
        "résultat net de l'exercice ÷ total des produits × 100",
        lambda s, h: _share(s.net_result, s.income),
        _share_sql("net_result", "income"),
    ),
    Ratio(
        "equity_months",
        "Fonds propres en mois de charges",
        "mois",
        "fonds propres (fonds associatifs, réserves, report à nouveau, résultat) ÷ total des charges "
        "× durée de l'exercice en mois",
        lambda s, h: _per_days(s.equity * s.days * 12, s.expenses * 365),
        _per_days_sql("equity * days * 12", "expenses * 365"),
    ),
    Ratio(
        "cash_days",
        "Trésorerie en jours de charges",
        "jours",
        "disponibilités ÷ charges décaissables (total des charges moins dotations) × jours de l'exercice",
        lambda s, h: _per_days(s.cash * s.days, s.expenses - s.depreciation),
        _per_days_sql("cash * days", "expenses - depreciation"),
    ),
    Ratio(
        "working_capital",
        "Fonds de roulement (FR)",
        "€",
        "fonds propres + provisions + fonds dédiés + emprunts et dettes financières − immobilisations nettes",
        lambda s, h: working_capital(s),
        "working_capital",
    ),
    Ratio(
        "working_capital_requirement",
        "Besoin en fonds de roulement (BFR)",
        "€",
        "créances − (dettes fournisseurs + dettes fiscales et sociales + produits constatés d'avance)",
        lambda s, h: working_capital_requirement(s),
        "working_capital_requirement",
    ),
    Ratio(
        "net_cash",
        "Fonds de roulement moins besoin (FR − BFR)",
        "€",
        "fonds de roulement − besoin en fonds de roulement : la trésorerie nette (disponibilités moins concours "
        "bancaires courants), négative quand la structure vit de découverts",
        lambda s, h: working_capital(s) - working_capital_requirement(s),
        "working_capital - working_capital_requirement",
    ),
    Ratio(
        "tax_social_debts_share",
        "Dettes fiscales et sociales sur charges de personnel",
        "%",
        "dettes fiscales et sociales ÷ charges de personnel × 100",
        lambda s, h: _share(s.tax_social_debts, s.staff_costs),
        _share_sql("tax_social_debts", "staff_costs"),
    ),
    Ratio(
        "staff_share",
        "Charges de personnel sur charges",
        "%",
        "charges de personnel ÷ total des charges × 100",
        lambda s, h: _share(s.staff_costs, s.expenses),
        _share_sql("staff_costs", "expenses"),
    ),
    Ratio(
        "first_funder_share",
        "Part du premier financeur",
        "%",
        "subventions du premier financeur (la Caf : prestations de service et autres subventions ensemble) "
        "÷ total des produits × 100",
        lambda s, h: _share(max(_funders(s)), s.income),
        _share_sql("first_funder", "income"),
    ),
    Ratio(
        "public_share",
        "Part des financements publics",
        "%",
        "subventions de la Caf, de l'État, de la Région, du Département, des communes et EPCI, de la MSA et de "
        "la Carsat ÷ total des produits × 100",
        lambda s, h: _share(sum(getattr(s, name) for name in PUBLIC_SUBSIDY_FIELDS), s.income),
        _share_sql("public_subsidies", "income"),
    ),
    Ratio(
        "income_change",
        "Évolution des produits sur un an",
        "%",
        "(total des produits − celui de l'exercice précédent) ÷ celui de l'exercice précédent × 100",
        _income_change,
        "CASE WHEN follows THEN " + _share_sql("income - previous_income", "previous_income") + " END",
    ),
    Ratio(
        "consecutive_deficits",
        "Exercices déficitaires consécutifs",
        "exercices",
        "nombre d'exercices de suite, jusqu'à celui-ci, clos sur un résultat net négatif",
        consecutive_deficits,
        "CASE WHEN net_result < 0 THEN row_number() OVER (PARTITION BY structure_id, run ORDER BY ends_on) ELSE 0 END",
    ),
]
BY_CODE = {ratio.code: ratio for ratio in RATIOS}


def _sum(fields):
    return " + ".join(fields)


# One row per accepted statement with the columns the ratios' SQL reads: its totals, what finances it and what it
# needs, and — through `follows`, when the statement before is the fiscal year just before — that year's income,
# debts and loss. `run` numbers the runs of deficits: a new run starts at each statement that does not follow a
# year closed on a loss.
STATEMENTS_SQL = f"""
WITH totals AS (
  SELECT structure_id, year, starts_on, ends_on, net_result, cash, depreciation, staff_costs, tax_social_debts,
    ends_on - starts_on + 1 AS days,
    {_sum(OPERATING_INCOME_FIELDS + OTHER_INCOME_FIELDS)} AS income,
    {_sum(OPERATING_EXPENSE_FIELDS + OTHER_EXPENSE_FIELDS)} AS expenses,
    {_sum(EQUITY_FIELDS)} AS equity,
    {_sum(EQUITY_FIELDS)} + provisions + dedicated_funds + financial_debts - fixed_assets AS working_capital,
    receivables - (supplier_debts + tax_social_debts + deferred_income) AS working_capital_requirement,
    greatest(subsidy_caf_service + subsidy_caf_other, subsidy_state, subsidy_region, subsidy_department,
      subsidy_municipal, subsidy_msa, subsidy_carsat, subsidy_other) AS first_funder,
    {_sum(PUBLIC_SUBSIDY_FIELDS)} AS public_subsidies
  FROM {FinancialStatement._meta.db_table}
  WHERE status = %s {{scope}}
), chained AS (
  SELECT totals.*,
    starts_on - lag(ends_on) OVER w <= 1 AS follows,
    lag(income) OVER w AS previous_income,
    lag(tax_social_debts) OVER w AS previous_tax_social_debts,
    lag(net_result < 0) OVER w AS previous_deficit
  FROM totals WINDOW w AS (PARTITION BY structure_id ORDER BY ends_on)
), statements AS (
  SELECT chained.*,
    count(*) FILTER (WHERE (follows AND previous_deficit) IS NOT TRUE)
      OVER (PARTITION BY structure_id ORDER BY ends_on) AS run
  FROM chained
)"""


def accepted_ratios_sql(structure_ids=None, columns=()):
    """SQL (PostgreSQL) and parameters of one row per accepted statement (of these structures; None: all),
    oldest first by structure: the structure id, the year, the other `columns` asked (SQL over the columns of
    STATEMENTS_SQL), then every ratio in the order of RATIOS, as text: the text of its Decimal, as
    HealthStatus.ratios stores it."""
    scope, params = "", [StatementStatus.ACCEPTED]
    if structure_ids is not None:
        scope = "AND structure_id = ANY(%s)"
        params.append(list(structure_ids))
    selected = ", ".join(["structure_id", "year", *columns, *(f"({ratio.sql})::text" for ratio in RATIOS)])
    return (
        f"{STATEMENTS_SQL.format(scope=scope)}\nSELECT {selected} FROM statements ORDER BY structure_id, ends_on",
        params,
    )


def ratios_of(statement, history):
    """{code: value} of every ratio of `statement`; `history` as in the module's docstring."""
    return {ratio.code: ratio.compute(statement, history) for ratio in RATIOS}


def overdue_payments(structure, today):
    """What the partners' payment schedules owe the structure and is past its date, from Cadre's funding lines
    of the last three years: a signal of its own, as a late partner makes a structure short of cash."""
    lines = FundingLine.objects.filter(structure=structure, year__gte=today.year - 2)
    return sum((expected.amount for expected in expected_payments(lines) if expected.due < today), Decimal("0.00"))
