"""The ratios of financial health, each with its formula in French, computed from a structure's statements.

A ratio reads one statement and, for the trends, the statements of the years before it (`history`: the
structure's statements, oldest first, up to and including this one). A ratio without meaning for a statement
(a share of zero income) is None, shown « — », never 0.
"""

import dataclasses
import datetime
from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal

from cadre.funding.models import FundingLine, expected_payments
from cadre.monitoring.models import PUBLIC_SUBSIDY_FIELDS

HUNDRED = Decimal(100)
ONE_DECIMAL = Decimal("0.1")


@dataclasses.dataclass(frozen=True)
class Ratio:
    code: str
    label: str
    unit: str  # "%", "jours", "mois", "€", "exercices"
    formula: str
    compute: Callable  # (statement, history) -> Decimal | int | None


def _share(part, whole):
    if not whole:
        return None
    return (Decimal(part) * HUNDRED / whole).quantize(ONE_DECIMAL, rounding=ROUND_HALF_UP)


def _per_days(amount, daily_base):
    if not daily_base:
        return None
    return (Decimal(amount) / daily_base).quantize(ONE_DECIMAL, rounding=ROUND_HALF_UP)


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
    ),
    Ratio(
        "equity_months",
        "Fonds propres en mois de charges",
        "mois",
        "fonds propres (fonds associatifs, réserves, report à nouveau, résultat) ÷ total des charges "
        "× durée de l'exercice en mois",
        lambda s, h: _per_days(s.equity * s.days * 12, s.expenses * 365),
    ),
    Ratio(
        "cash_days",
        "Trésorerie en jours de charges",
        "jours",
        "disponibilités ÷ charges décaissables (total des charges moins dotations) × jours de l'exercice",
        lambda s, h: _per_days(s.cash * s.days, s.expenses - s.depreciation),
    ),
    Ratio(
        "working_capital",
        "Fonds de roulement (FR)",
        "€",
        "fonds propres + provisions + fonds dédiés + emprunts et dettes financières − immobilisations nettes",
        lambda s, h: working_capital(s),
    ),
    Ratio(
        "working_capital_requirement",
        "Besoin en fonds de roulement (BFR)",
        "€",
        "créances − (dettes fournisseurs + dettes fiscales et sociales + produits constatés d'avance)",
        lambda s, h: working_capital_requirement(s),
    ),
    Ratio(
        "net_cash",
        "Fonds de roulement moins besoin (FR − BFR)",
        "€",
        "fonds de roulement − besoin en fonds de roulement : la trésorerie nette (disponibilités moins concours "
        "bancaires courants), négative quand la structure vit de découverts",
        lambda s, h: working_capital(s) - working_capital_requirement(s),
    ),
    Ratio(
        "tax_social_debts_share",
        "Dettes fiscales et sociales sur charges de personnel",
        "%",
        "dettes fiscales et sociales ÷ charges de personnel × 100",
        lambda s, h: _share(s.tax_social_debts, s.staff_costs),
    ),
    Ratio(
        "staff_share",
        "Charges de personnel sur charges",
        "%",
        "charges de personnel ÷ total des charges × 100",
        lambda s, h: _share(s.staff_costs, s.expenses),
    ),
    Ratio(
        "first_funder_share",
        "Part du premier financeur",
        "%",
        "subventions du premier financeur (la Caf : prestations de service et autres subventions ensemble) "
        "÷ total des produits × 100",
        lambda s, h: _share(max(_funders(s)), s.income),
    ),
    Ratio(
        "public_share",
        "Part des financements publics",
        "%",
        "subventions de la Caf, de l'État, de la Région, du Département, des communes et EPCI, de la MSA et de "
        "la Carsat ÷ total des produits × 100",
        lambda s, h: _share(sum(getattr(s, name) for name in PUBLIC_SUBSIDY_FIELDS), s.income),
    ),
    Ratio(
        "income_change",
        "Évolution des produits sur un an",
        "%",
        "(total des produits − celui de l'exercice précédent) ÷ celui de l'exercice précédent × 100",
        _income_change,
    ),
    Ratio(
        "consecutive_deficits",
        "Exercices déficitaires consécutifs",
        "exercices",
        "nombre d'exercices de suite, jusqu'à celui-ci, clos sur un résultat net négatif",
        consecutive_deficits,
    ),
]
BY_CODE = {ratio.code: ratio for ratio in RATIOS}


def ratios_of(statement, history):
    """{code: value} of every ratio of `statement`; `history` as in the module's docstring."""
    return {ratio.code: ratio.compute(statement, history) for ratio in RATIOS}


def overdue_payments(structure, today):
    """What the partners' payment schedules owe the structure and is past its date, from Cadre's funding lines
    of the last three years: a signal of its own, as a late partner makes a structure short of cash."""
    lines = FundingLine.objects.filter(structure=structure, year__gte=today.year - 2)
    return sum((expected.amount for expected in expected_payments(lines) if expected.due < today), Decimal("0.00"))
