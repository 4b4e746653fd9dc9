"""Demo financial statements: three closed fiscal years of simplified accounts for every demo structure.

Calibrated on the sector's published orders of magnitude: a centre social spends about 600 k€ a year, about
70 % of it on staff, funded by the Caf (prestations de service « animation globale » and « animation collective
familles », other Caf aid) for a quarter to a third, by its commune(s) for about a third, then the Département,
the State in priority areas (politique de la ville), users' contributions and others; an EVS spends 50 to 150 k€,
half of it or less on staff (more volunteers), with the Caf's « animation locale » service funding and the
commune as main funders. The accounts chain from one year to the next (equity grows by the result) and each
one passes FinancialStatement.clean(): results agree with the lines and the balance sheet balances.

Most structures are healthy. The ones of DIFFICULTIES, in the Rhône and the Bouches-du-Rhône, are shaped so
that one usual warning threshold trips, each for its own reason; `structures_in_difficulty()` finds them.

Each structure's figures come from a generator of its own (the seed and its public identifier): same seed,
same accounts, and the rest of the demo stays as it was whether this part runs or not.
"""

import datetime
import operator
import random
import time
import uuid
from dataclasses import dataclass
from decimal import Decimal

from django.utils import timezone

from cadre.accounts.models import Membership, Role, User
from cadre.core.bulk import insert_rows
from cadre.demo import cast
from cadre.funding.models import Document, DocumentKind, DocumentStatus
from cadre.monitoring.alerts import compute_statuses
from cadre.monitoring.default_rules import load_default_rules
from cadre.monitoring.enums import StatementStatus
from cadre.monitoring.models import FinancialStatement
from cadre.structures.models import ApprovalKind, Management, PriorityAreaStatus, Structure, StructureKind

YEARS = 3
CENT = Decimal("0.01")
CENTRE, EVS = StructureKind.CENTRE_SOCIAL, StructureKind.EVS
# The last fiscal year: how its statements stand (the earlier years are all accepted).
LATEST_STATES = [
    (StatementStatus.ACCEPTED, 0.72),
    (StatementStatus.SUBMITTED, 0.13),
    (StatementStatus.DRAFT, 0.12),
    (StatementStatus.RETURNED, 0.03),
]
BROKEN_YEAR_SHARE = 0.06  # associations closing on 31 August
# At national scale, outside the demo's départements, this share of structures take one of the difficulty shapes
# (unnamed), so that the alerts of France have volume.
NATIONAL_DIFFICULTY_SHARE = 0.04
DEMO_DEPARTMENTS = {"69", "13"}
# Healthy structures keep at least this many days of expenses in cash: above the shipped rules' thresholds
# (30 days for an alerte, 90 for vigilance), so that the demo's alerts are the structures in difficulty.
HEALTHY_CASH_DAYS = 95
RETURN_COMMENTS = [
    "Le total du bilan ne correspond pas aux comptes approuvés par l'assemblée générale : merci de vérifier les "
    "dettes fiscales et sociales.",
    "Les subventions de la commune et de la Métropole semblent inversées : pouvez-vous reprendre la ventilation "
    "par financeur ?",
    "Merci de joindre le rapport du commissaire aux comptes et de vérifier le montant des fonds dédiés.",
]


COMPARISONS = {"<": operator.lt, ">": operator.gt, ">=": operator.ge}


@dataclass(frozen=True)
class Difficulty:
    """A demo structure in difficulty: which one (the `rank`-th of its kind in its département, in the order of
    the seed, 0 being structure A or B), why in French, and the ratio of cadre.monitoring.ratios that shows it
    on the last fiscal year: its value compared to the threshold (`comparison`: "<", ">" or ">=") is true."""

    code: str
    department: str
    kind: str
    rank: int
    reason: str
    ratio: str
    threshold: Decimal
    comparison: str
    comment: str

    def crosses(self, value):
        """Whether a value of the ratio trips the threshold (a ratio without meaning, None, never does)."""
        return value is not None and COMPARISONS[self.comparison](value, self.threshold)


D = Decimal
DIFFICULTIES = [
    Difficulty(
        "deficits-recovery",
        "13",
        CENTRE,
        0,  # structure B: the support case with its recovery plan
        "trois exercices déficitaires de suite, le dernier moins lourd (plan de retour à l'équilibre engagé)",
        "consecutive_deficits",
        D(2),
        ">=",
        "Troisième exercice déficitaire, mais le déficit est divisé par deux grâce au plan de retour à "
        "l'équilibre : non-remplacement d'un poste d'animation et renégociation du loyer.",
    ),
    Difficulty(
        "cash",
        "69",
        CENTRE,
        7,
        "trésorerie sous 30 jours de charges : subventions de l'année versées avec retard",
        "cash_days",
        D(30),
        "<",
        "Le solde de la subvention municipale et l'avance du contrat de ville n'étaient pas versés à la clôture : "
        "découvert autorisé utilisé en décembre.",
    ),
    Difficulty(
        "equity",
        "13",
        CENTRE,
        9,
        "fonds propres sous 3 mois de charges : des réserves jamais constituées",
        "equity_months",
        D(3),
        "<",
        "Résultats proches de l'équilibre depuis la création : l'association n'a pas pu constituer de réserves.",
    ),
    Difficulty(
        "deficits",
        "69",
        CENTRE,
        14,
        "deux exercices déficitaires de suite",
        "consecutive_deficits",
        D(2),
        ">=",
        "Deuxième exercice en déficit : hausse des salaires de la convention collective non compensée par les "
        "financeurs, et fin d'un contrat aidé.",
    ),
    Difficulty(
        "working-capital",
        "13",
        CENTRE,
        17,
        "fonds de roulement négatif : travaux du bâtiment payés sur la trésorerie courante",
        "working_capital",
        D(0),
        "<",
        "Rénovation des locaux financée sur fonds propres en attendant un emprunt qui n'a pas été accordé.",
    ),
    Difficulty(
        "first-funder",
        "69",
        CENTRE,
        21,
        "plus de la moitié des produits d'un seul financeur, la commune",
        "first_funder_share",
        D(50),
        ">",
        "La commune a repris le financement des postes que d'autres partenaires ne financent plus.",
    ),
    Difficulty(
        "tax-social-debts",
        "13",
        CENTRE,
        26,
        "dettes fiscales et sociales en hausse chaque année : cotisations reportées",
        "tax_social_debts_share",
        D(20),
        ">",
        "Échéancier accordé par l'Urssaf pour les cotisations de l'an dernier ; une partie de celles de l'année "
        "n'est pas encore payée.",
    ),
    Difficulty(
        "income-drop",
        "69",
        CENTRE,
        30,
        "produits en baisse de plus d'un cinquième en un an : fin d'un financement de la politique de la ville",
        "income_change",
        D(-20),
        "<",
        "Fin du financement de l'État au titre du contrat de ville et de deux postes d'adultes-relais.",
    ),
    Difficulty(
        "cash-evs",
        "69",
        EVS,
        4,
        "trésorerie sous 30 jours de charges dans un petit budget",
        "cash_days",
        D(30),
        "<",
        "La prestation de service de la Caf a été versée en janvier : trésorerie au plus bas à la clôture.",
    ),
    Difficulty(
        "first-funder-evs",
        "13",
        EVS,
        6,
        "plus de la moitié des produits d'un seul financeur, la Caf, depuis le retrait de la commune",
        "first_funder_share",
        D(50),
        ">",
        "La commune a cessé sa subvention : l'espace vit presque uniquement de la prestation de service de la Caf.",
    ),
    Difficulty(
        "negative-equity-evs",
        "13",
        EVS,
        12,
        "fonds propres négatifs : pertes anciennes jamais reconstituées",
        "equity_months",
        D(0),
        "<",
        "Les pertes des exercices passés n'ont pas encore été comblées ; le bureau prépare un plan de redressement.",
    ),
]
BY_CODE = {difficulty.code: difficulty for difficulty in DIFFICULTIES}


def fiscal_years(today):
    """The last three closed fiscal years (by their closing year), oldest first."""
    return [today.year - YEARS + index for index in range(YEARS)]


def structures_in_difficulty():
    """{Difficulty: Structure} of the seeded demo (the demo's départements must be there)."""
    found = {}
    for difficulty in DIFFICULTIES:
        found[difficulty] = Structure.objects.filter(
            commune__department_id=difficulty.department, kind=difficulty.kind
        ).order_by("pk")[difficulty.rank]
    return found


# ---------------------------------------------------------------------------------------------
# Drawing the accounts


def cents(value):
    return Decimal(round(value * 100)) / 100


class Accounts:
    """One structure's three years, drawn from its own generator."""

    def __init__(self, rng, structure, *, family_project, difficulty=None):
        self.rng = rng
        self.structure = structure
        self.centre = structure.kind == CENTRE
        self.difficulty = difficulty
        self.family_project = family_project
        centre, u = self.centre, rng.uniform
        size = rng.lognormvariate(0, 0.32 if centre else 0.3)
        self.expenses = (600_000 if centre else 85_000) * max(0.45, min(2.3, size))
        self.staff_share = u(0.64, 0.76) if centre else u(0.32, 0.55)
        self.depreciation_share = u(0.015, 0.035) if centre else u(0.005, 0.02)
        self.other_share = u(0.02, 0.04)
        self.financial_share = u(0.002, 0.01)
        self.equity_months = u(3.9, 7.5) if centre else u(4.2, 9)
        self.fixed_share = u(0.08, 0.24) if centre else u(0.01, 0.1)
        self.receivable_share = u(0.12, 0.22)
        self.subsidies_receivable_share = u(0.6, 0.85)
        self.supplier_share = u(0.03, 0.06)
        self.tax_social_share = u(0.09, 0.15)
        self.deferred_share = u(0, 0.03)
        self.provision_share = u(0, 0.03) if centre else u(0, 0.01)
        self.dedicated_share = u(0, 0.04) if centre else 0
        self.borrowing = u(0, 0.6) if centre and rng.random() < 0.4 else 0
        self.association_funds_share = u(0.1, 0.4)
        self.reserves_share = u(0.2, 0.6)
        self.growth = rng.gauss(0.025, 0.02)
        self.mix = self.funding_mix()
        self.margins = self.healthy_margins()
        self.caf_share = None  # a share of the income instead of the service funding's rule
        self.broken_year = structure.management == Management.ASSOCIATION and rng.random() < BROKEN_YEAR_SHARE

    def healthy_margins(self):
        margins = []
        for _ in range(YEARS):
            # Mostly small surpluses; a deficit now and then (each is a vigilance under the shipped rules).
            margin = max(-0.025, min(0.04, self.rng.gauss(0.014, 0.008)))
            if margins and margins[-1] < 0 and margin < 0:
                margin = -margin / 2 + 0.002  # a deficit is followed by a recovery
            margins.append(margin)
        return margins

    def funding_mix(self):
        """Shares of the operating income by line, the Caf's service funding aside (in euros, by rule)."""
        rng, u, structure, centre = self.rng, self.rng.uniform, self.structure, self.centre
        status = structure.priority_area_status
        mix = {
            "subsidy_caf_other": u(0.04, 0.1) if centre else u(0.02, 0.07),
            "subsidy_municipal": u(0.24, 0.36) if centre else u(0.18, 0.32),
            "subsidy_department": u(0.03, 0.08) if centre else u(0.02, 0.07),
            "subsidy_state": (
                u(0.07, 0.12)
                if status == PriorityAreaStatus.IN_AREA
                else u(0.03, 0.06)
                if status == PriorityAreaStatus.SERVES_AREA
                else u(0.005, 0.025)
            ),
            "subsidy_region": u(0.005, 0.02) if rng.random() < 0.4 else 0,
            "subsidy_msa": u(0.003, 0.015) if structure.commune.population < 10000 and rng.random() < 0.6 else 0,
            "subsidy_carsat": u(0.002, 0.01) if rng.random() < 0.35 else 0,
            "subsidy_other": u(0.02, 0.06) if centre else u(0.03, 0.09),
            "users_contributions": u(0.07, 0.13) if centre else u(0.08, 0.15),
        }
        if structure.management == Management.LOCAL_AUTHORITY:
            mix["subsidy_municipal"] = u(0.36, 0.42)
            mix["users_contributions"] *= 0.7
        elif structure.management == Management.CAF:
            mix["subsidy_caf_other"] = u(0.12, 0.16)
            mix["subsidy_municipal"] = u(0.1, 0.2)
        return mix

    def caf_service(self, operating_income):
        """Prestations de service: animation globale (and collective familles) or animation locale (EVS)."""
        u = self.rng.uniform
        if self.centre:
            amount = u(64_000, 74_000) + (u(20_000, 25_000) if self.family_project else 0)
            return min(amount, 0.3 * operating_income)
        return min(u(20_000, 30_000), 0.36 * operating_income)

    # -- difficulty shapes ------------------------------------------------------------------

    def shape(self):
        """Override the drawn life so that the difficulty's threshold trips on the last year."""
        code = self.difficulty.code if self.difficulty else None
        u = self.rng.uniform
        self.targets = {"cash_days": [None] * YEARS, "tax_social_share": [self.tax_social_share] * YEARS}
        self.drift = [1 + self.rng.gauss(0, 0.015) for _ in range(YEARS)]
        self.income_factor = [1.0] * YEARS
        if code == "deficits-recovery":
            self.margins = [-0.035, -0.06, -0.028]
            self.equity_months = 4.6
            self.targets["cash_days"] = [40, 28, 24]
        elif code == "cash" or code == "cash-evs":
            self.targets["cash_days"] = [u(40, 50), u(32, 38), u(14, 22)]
            self.receivable_share = 0.3
        elif code == "equity":
            self.equity_months = u(1.2, 1.6)
            self.margins = [0.002, 0.004, 0.001]
        elif code == "deficits":
            self.margins = [0.008, -0.022, -0.034]
        elif code == "working-capital":
            self.equity_months = u(1.8, 2.2)
            self.fixed_share = u(0.32, 0.38)
            self.borrowing = 0
            self.supplier_share = 0.11
            self.targets["cash_days"] = [35, 20, 12]
        elif code == "first-funder":
            self.mix["subsidy_municipal"] = u(0.58, 0.62)
            self.mix["subsidy_department"] = 0.01
            self.mix["subsidy_caf_other"] = 0.02
        elif code == "tax-social-debts":
            self.targets["tax_social_share"] = [u(0.12, 0.14), u(0.17, 0.19), u(0.26, 0.3)]
        elif code == "income-drop":
            self.mix["subsidy_state"] = 0.2
            self.margins = [0.01, 0.006, -0.018]
            self.drift = [1, 1, 0.78]  # expenses cut too, but not as fast as income
            self.income_factor = [1, 1, 0.98]
        elif code == "first-funder-evs":
            self.mix["subsidy_municipal"] = 0.0
            self.mix["subsidy_caf_other"] = 0.06
            self.mix["subsidy_other"] = 0.02
            self.caf_share = u(0.5, 0.55)
        elif code == "negative-equity-evs":
            self.equity_months = -u(1.5, 2.5)
            self.margins = [0.01, -0.01, 0.012]
            self.targets["cash_days"] = [30, 25, 28]

    # -- the statements ---------------------------------------------------------------------

    def statements(self, years, today):
        self.shape()
        expenses, equity, found = self.expenses, None, []
        for index, year in enumerate(years):
            expenses *= (1 + self.growth) * self.drift[index]
            statement = self.statement(year, index, expenses, equity)
            equity = statement.equity
            found.append(statement)
        if not self.difficulty:
            self.no_rising_debts(found)
        self.statuses(found, today)
        if self.difficulty:
            found[-1].comment = self.difficulty.comment
        return found

    def no_rising_debts(self, found):
        """A healthy structure's tax and social debts do not rise three years running (in amount or in share of
        the staff costs): the last year's are then below the year before, and the cash pays for it."""
        first, second, last = found

        def share(s):
            return s.tax_social_debts / s.staff_costs

        if first.tax_social_debts < second.tax_social_debts or share(first) < share(second):
            lower = min(second.tax_social_debts, cents(float(share(second)) * float(last.staff_costs)))
            lowered = cents(float(lower) * self.rng.uniform(0.9, 0.98))
            if lowered < last.tax_social_debts:
                last.cash -= last.tax_social_debts - lowered
                last.tax_social_debts = lowered

    def statement(self, year, index, expenses_target, equity_before):
        u, rng = self.rng.uniform, self.rng
        if self.broken_year:
            starts, ends = datetime.date(year - 1, 9, 1), datetime.date(year, 8, 31)
        else:
            starts, ends = datetime.date(year, 1, 1), datetime.date(year, 12, 31)
        s = FinancialStatement(
            structure=self.structure, starts_on=starts, ends_on=ends, year=ends.year, uuid=_uuid(rng)
        )
        e = expenses_target
        s.staff_costs = cents(e * self.staff_share * (1 + rng.gauss(0, 0.008)))
        s.depreciation = cents(e * self.depreciation_share)
        s.other_expenses = cents(e * self.other_share)
        s.financial_exceptional_expenses = cents(e * self.financial_share * u(0.6, 1.4))
        s.external_charges = cents(e) - s.staff_costs - s.depreciation - s.other_expenses
        s.external_charges -= s.financial_exceptional_expenses
        expenses = s.expenses
        # Income: the margin of the year, then the lines
        income = float(expenses) * (1 + self.margins[index]) * self.income_factor[index]
        s.financial_income = cents(income * u(0.001, 0.004))
        s.exceptional_income = cents(income * u(0.003, 0.012))
        operating = income - float(s.financial_income + s.exceptional_income)
        if self.caf_share:
            s.subsidy_caf_service = cents(operating * self.caf_share)
        else:
            s.subsidy_caf_service = cents(self.caf_service(operating))
        rest = operating - float(s.subsidy_caf_service)
        weights = {name: share * (1 + rng.gauss(0, 0.03)) for name, share in self.mix.items()}
        whole = sum(weights.values())
        scale = min(1.0, 0.97 * rest / (whole * operating)) if whole else 0
        for name, share in weights.items():
            setattr(s, name, cents(operating * share * scale))
        s.other_income = cents(operating) - s.subsidies - s.users_contributions
        s.operating_result = s.operating_income - s.operating_expenses
        s.net_result = s.balance_result = s.income - s.expenses
        # Balance sheet: equity chains from the year before, with the result of the year
        if equity_before is None:
            start = cents(float(expenses) * self.equity_months / 12) - s.net_result
            if start >= 0:
                s.association_funds = cents(float(start) * self.association_funds_share)
                s.reserves = cents(float(start) * self.reserves_share)
                s.retained_earnings = start - s.association_funds - s.reserves
            else:
                s.association_funds = cents(float(expenses) * 0.02)
                s.retained_earnings = start - s.association_funds
            self.equity_base = (s.association_funds, s.reserves)
        else:
            s.association_funds, s.reserves = self.equity_base
            s.retained_earnings = equity_before - s.association_funds - s.reserves
        e = float(expenses)
        s.fixed_assets = cents(e * self.fixed_share * (1 + rng.gauss(0, 0.05)))
        s.provisions = cents(e * self.provision_share)
        s.dedicated_funds = cents(e * self.dedicated_share)
        s.financial_debts = cents(float(s.fixed_assets) * self.borrowing)
        s.supplier_debts = cents(e * self.supplier_share * (1 + rng.gauss(0, 0.05)))
        tax_share = self.targets["tax_social_share"][index] * (1 + rng.gauss(0, 0.04))
        s.tax_social_debts = cents(float(s.staff_costs) * tax_share)
        s.deferred_income = cents(e * self.deferred_share)
        liabilities = s.total_liabilities
        cash_days = self.targets["cash_days"][index]
        if cash_days is None:
            s.receivables = cents(e * self.receivable_share * (1 + rng.gauss(0, 0.05)))
            s.cash = liabilities - s.fixed_assets - s.receivables
            floor = cents(HEALTHY_CASH_DAYS * 1.1 * float(expenses - s.depreciation) / s.days)
            if not self.difficulty and s.cash < floor:  # the structure keeps its cash: less left owed to it
                s.receivables = max(cents(e * 0.02), s.receivables - (floor - s.cash))
                s.cash = liabilities - s.fixed_assets - s.receivables
        else:
            s.cash = cents(cash_days * float(expenses - s.depreciation) / s.days)
            s.receivables = liabilities - s.fixed_assets - s.cash
        if s.cash < 0 or s.receivables < 0:  # out of shape: more short-term debts fill the gap
            gap = -min(s.cash, s.receivables)
            s.supplier_debts += gap
            if s.cash < 0:
                s.cash += gap
            else:
                s.receivables += gap
        s.subsidies_receivable = cents(float(s.receivables) * self.subsidies_receivable_share)
        return s

    def statuses(self, statements, today):
        rng = self.rng
        for index, s in enumerate(statements):
            latest = index == len(statements) - 1
            status = StatementStatus.ACCEPTED
            if latest and not self.difficulty:
                roll, total = rng.random(), 0
                for candidate, share in LATEST_STATES:
                    total += share
                    if roll < total:
                        status = candidate
                        break
            s.status = status
            if status == StatementStatus.DRAFT:
                continue
            submitted = min(s.ends_on + datetime.timedelta(days=rng.randint(120, 190)), today)
            s.submitted_at = _moment(rng, submitted)
            if status in (StatementStatus.ACCEPTED, StatementStatus.RETURNED):
                reviewed = min(submitted + datetime.timedelta(days=rng.randint(7, 45)), today)
                s.reviewed_at = max(_moment(rng, reviewed), s.submitted_at + datetime.timedelta(hours=1))
            if status == StatementStatus.RETURNED:
                s.review_comment = rng.choice(RETURN_COMMENTS)


def _uuid(rng):
    return uuid.UUID(int=rng.getrandbits(128), version=4)


def _moment(rng, day):
    naive = datetime.datetime.combine(day, datetime.time(8, 30)) + datetime.timedelta(seconds=rng.randrange(10 * 3600))
    return timezone.make_aware(naive)


# ---------------------------------------------------------------------------------------------
# Entry point


def seed(builder):
    """Three fiscal years of statements for every structure of `builder`, in bulk; returns a summary."""
    started = time.monotonic()
    structures = builder.structures
    years = fiscal_years(builder.today)
    family = {
        a.structure_id
        for a in builder.approvals
        if a.kind == ApprovalKind.FAMILY_PROJECT and a.ends.year >= years[0] and a.starts.year <= years[-1]
    }
    chosen = _difficulty_structures(structures)
    editors = dict(
        Membership.objects.filter(structure__isnull=False, role=Role.EDITOR)
        .order_by("pk")
        .values_list("structure_id", "user_id")
    )
    reviewers = {
        user.email.split("@")[0][3:].upper(): user
        for user in User.objects.filter(email__startswith="caf", email__endswith="@" + cast.DOMAIN)
    }
    # The annual accounts deposited as documents owed (the structures the demo funds): the statement links to them
    deposited = {
        (structure, year): pk
        for structure, year, pk in Document.objects.filter(required__kind=DocumentKind.ANNUAL_ACCOUNTS, year__in=years)
        .exclude(status=DocumentStatus.REJECTED)
        .order_by("uploaded_at", "pk")
        .values_list("structure_id", "year", "pk")
    }
    statements = []
    for structure in structures:
        difficulty = chosen.get(structure.pk)
        if structure.commune.department_id not in DEMO_DEPARTMENTS:
            draw = random.Random(f"{builder.seed}:monitoring-difficulty:{structure.uuid}")
            if draw.random() < NATIONAL_DIFFICULTY_SHARE:
                difficulty = draw.choice([d for d in DIFFICULTIES if d.kind == structure.kind])
                chosen[structure.pk] = difficulty
        rng = random.Random(f"{builder.seed}:monitoring:{structure.uuid}")
        accounts = Accounts(rng, structure, family_project=structure.pk in family, difficulty=difficulty)
        for s in accounts.statements(years, builder.today):
            s.accounts_document_id = deposited.get((structure.pk, s.year))
            if s.submitted_at:
                s.submitted_by_id = editors.get(structure.pk)
            if s.reviewed_at:
                s.reviewed_by = reviewers.get(structure.commune.department_id)
            statements.append(s)
    write(statements, builder.admin)
    # Written in bulk, the statements sent no signal: the health statuses are computed once, under the shipped rules.
    load_default_rules()
    statuses = compute_statuses(today=builder.today)
    cases = seed_cases(builder)
    return {
        "statements": len(statements),
        "statuses": statuses,
        "cases": cases,
        "difficulties": len(chosen),
        "seconds": time.monotonic() - started,
    }


def write(statements, admin):
    """Insert the statements and their creation entries in the history, as bulk_create_tracked would, but
    without the ORM's work per field (COPY on PostgreSQL): some 12,000 statements at national scale."""
    now = timezone.now()
    fields = [f for f in FinancialStatement._meta.concrete_fields if not f.primary_key]
    for statement in statements:
        statement.created_at = statement.updated_at = now
    insert_rows(
        FinancialStatement,
        [f.name for f in fields],
        ([getattr(s, f.attname) for f in fields] for s in statements),
    )
    ids = {
        (structure, year): pk
        for structure, year, pk in FinancialStatement.objects.filter(
            structure_id__in={s.structure_id for s in statements}
        ).values_list("structure_id", "year", "pk")
    }
    for statement in statements:
        statement.pk = ids[statement.structure_id, statement.year]
    history = FinancialStatement.history.model
    extra = {
        "history_date": now,
        "history_change_reason": None,
        "history_type": "+",
        "history_user_id": admin.pk if admin else None,
    }
    history_fields = [f for f in history._meta.concrete_fields if not f.primary_key]
    insert_rows(
        history,
        [f.name for f in history_fields],
        (
            [extra[f.attname] if f.attname in extra else getattr(s, f.attname) for f in history_fields]
            for s in statements
        ),
    )


def _difficulty_structures(structures):
    """{structure pk: Difficulty}, by rank among the structures of a kind in a département, in seed order."""
    groups = {}
    for structure in sorted(structures, key=lambda s: s.pk):
        groups.setdefault((structure.commune.department_id, structure.kind), []).append(structure)
    found = {}
    for difficulty in DIFFICULTIES:
        group = groups.get((difficulty.department, difficulty.kind), [])
        if difficulty.rank < len(group):
            found[group[difficulty.rank].pk] = difficulty
    return found


# ---------------------------------------------------------------------------------------------
# Difficulty reports and support cases, in the Bouches-du-Rhône


PDF_STUB = b"%PDF-1.4\n% Cadre : document de demonstration\n"


def _editor(structure):
    membership = Membership.objects.filter(structure=structure, role=Role.EDITOR).select_related("user")
    first = membership.order_by("pk").first()
    return first.user if first else None


def seed_cases(builder):
    """A recent difficulty report still without a case; two open support cases of the Bouches-du-Rhône's support
    cell (structure B, three deficits in a row, with its recovery plan under way and notes in the three circles;
    the « fonds propres » structure, in diagnosis) and one closed case. Written row by row with their own dates
    and identifiers drawn from the seed (no e-mail is sent): the same seed gives the same cases. Returns how many
    cases, 0 when the support cell or the cases are already there."""
    from cadre.agreements.models import Committee, CommitteeKind, Decision, Meeting
    from cadre.monitoring.actions import partners_told
    from cadre.monitoring.alert_models import HealthLevel, HealthStatus
    from cadre.monitoring.case_models import (
        CaseAction,
        CaseDocument,
        CaseEvent,
        CaseNote,
        CaseOrigin,
        CaseOutcome,
        CaseStatus,
        Circle,
        DifficultyReport,
        EventKind,
        RecoveryPlan,
        SupportCase,
    )
    from cadre.partners.models import Partner

    rng = random.Random(f"{builder.seed}:monitoring-cases")
    today = builder.today
    cell = Committee.objects.filter(kind=CommitteeKind.SUPPORT, framework__department_id="13").first()
    first_uuid = _uuid(random.Random(f"{builder.seed}:monitoring-cases:report"))
    users = {u.email: u for u in User.objects.filter(email__in=[cast.CAF13, cast.FEDERATION13, cast.PREFECTURE13])}
    if cell is None or len(users) < 3 or DifficultyReport.objects.filter(uuid=first_uuid).exists():
        return 0
    caf13, federation13, prefecture13 = users[cast.CAF13], users[cast.FEDERATION13], users[cast.PREFECTURE13]
    in_difficulty = structures_in_difficulty()
    b = in_difficulty[BY_CODE["deficits-recovery"]]
    thin_equity = in_difficulty[BY_CODE["equity"]]
    debts = in_difficulty[BY_CODE["tax-social-debts"]]
    recovered = in_difficulty[BY_CODE["working-capital"]]

    caf13_partner = Partner.objects.get(memberships__user=caf13)
    federation = Partner.objects.get(memberships__user=federation13)

    def at(days_ago, hour=10):
        day = today - datetime.timedelta(days=days_ago)
        return timezone.make_aware(datetime.datetime.combine(day, datetime.time(hour, rng.randrange(60))))

    def dated(model, pk, **fields):
        model.objects.filter(pk=pk).update(**fields)

    # A report of this month, without a case yet, from a structure the demo funds (the one whose debts rise, or
    # else the first funded centre of the département): on the home page of its funders and its federation.
    taken = {b.pk, thin_equity.pk, recovered.pk}
    for candidate in [debts, *Structure.objects.filter(commune__department_id="13").order_by("pk")]:
        if candidate.pk not in taken and partners_told(candidate, today.year):
            debts = candidate
            break
    report = DifficultyReport(
        uuid=first_uuid,
        structure=debts,
        category="financial",
        urgency="high",
        reported_by=_editor(debts),
        description=(
            "L'Urssaf nous a accordé un échéancier pour les cotisations de l'an dernier, mais nous ne pourrons pas "
            "payer celles du trimestre en cours à la date prévue. Le solde de la subvention départementale n'est "
            "toujours pas versé. Nous demandons un rendez-vous avec les partenaires avant la fin du mois."
        ),
    )
    report.save_tracked(user=_editor(debts))
    report.notified.set(partners_told(debts, today.year))
    dated(DifficultyReport, report.pk, created_at=at(4), updated_at=at(4))

    def open_case(structure, title, status, opened_days_ago, origin, lead, person, **extra):
        case = SupportCase(
            uuid=_uuid(rng),
            structure=structure,
            committee=cell,
            title=title,
            origin=origin,
            status=status,
            lead=lead,
            lead_person=person,
            opened_on=today - datetime.timedelta(days=opened_days_ago),
            **extra,
        )
        statuses = HealthStatus.objects.filter(structure=structure).order_by("-year")
        health = statuses.exclude(level=HealthLevel.GREEN).first() or statuses.first()
        if origin == CaseOrigin.ALERT and health is not None:
            case.alert_year, case.alert_facts = health.year, health.facts
        case.save_tracked(user=caf13)
        case.members.set(sorted({*partners_told(structure, today.year), federation.pk}))
        event(
            case,
            EventKind.OPENED,
            f"Dossier ouvert ({case.get_origin_display().lower()})",
            opened_days_ago,
            caf13,
            Circle.PARTNERS,
        )
        return case

    def event(case, kind, text, days_ago, actor, circle, **links):
        CaseEvent.objects.create(case=case, kind=kind, text=text, actor=actor, circle=circle, at=at(days_ago), **links)

    def note(case, text, days_ago, actor, circle):
        written = CaseNote.objects.create(
            uuid=_uuid(rng), case=case, circle=circle, text=text, author=actor, written_at=at(days_ago, 14)
        )
        event(case, EventKind.NOTE, "Note ajoutée", days_ago, actor, circle, note=written)

    def step(case, text, days_ago):
        event(case, EventKind.STATUS, text, days_ago, caf13, Circle.PARTNERS)

    def action(case, title, due_in, circle, owner=None, done_days_ago=None, by_structure=False):
        due = today + datetime.timedelta(days=due_in)
        made = CaseAction.objects.create(
            uuid=_uuid(rng),
            case=case,
            circle=circle,
            title=title,
            due=due,
            owner=owner,
            owner_is_structure=by_structure,
            done_on=None if done_days_ago is None else today - datetime.timedelta(days=done_days_ago),
        )
        event(
            case,
            EventKind.ACTION,
            f"Action prévue pour le {due:%d/%m/%Y} : {title}",
            max(-due_in, 0) + 60,
            caf13,
            circle,
        )
        return made

    # 1. Structure B: three deficits in a row, the plan under way.
    first = open_case(
        b,
        "Trois exercices déficitaires : plan de retour à l'équilibre",
        CaseStatus.PLAN,
        240,
        CaseOrigin.ALERT,
        caf13_partner,
        "Karim Benali",
    )
    step(first, "Ouvert → Diagnostic", 225)
    note(
        first,
        "Le conseil d'administration ne se réunit plus depuis six mois ; la trésorière envisage de "
        "démissionner. À ne pas évoquer devant l'équipe salariée tant que le bureau n'a pas statué.",
        220,
        caf13,
        Circle.BODY,
    )
    note(
        first,
        "Diagnostic partagé avec la Ville et le Département : le déficit tient au poste d'animation "
        "non financé depuis la fin du contrat de ville et au loyer réévalué. La Ville peut avancer le versement "
        "de sa subvention de deux mois.",
        200,
        federation13,
        Circle.PARTNERS,
    )
    step(first, "Diagnostic → Plan d'accompagnement", 150)
    note(
        first,
        "Le plan de retour à l'équilibre est adopté : non-remplacement d'un poste d'animation, "
        "renégociation du loyer, recherche de mécénat. Prochain point avec la direction dans deux mois.",
        148,
        caf13,
        Circle.STRUCTURE,
    )
    meeting = Meeting(
        committee=cell,
        starts_at=at(150, 9),
        place="Caf des Bouches-du-Rhône, Marseille",
        agenda="Situation des structures suivies par la cellule",
        minutes="La cellule valide le plan de retour à l'équilibre du centre et son suivi trimestriel.",
    )
    meeting.save_tracked(user=caf13)
    decision = Decision.objects.create(
        meeting=meeting, number=1, text="Le plan de retour à l'équilibre est validé ; point d'étape à six mois."
    )
    first.meetings.add(meeting)
    first.decisions.add(decision)
    event(first, EventKind.LINK, f"Réunion liée : {meeting}", 150, caf13, Circle.PARTNERS)
    plan = RecoveryPlan(
        case=first,
        adopted_on=today - datetime.timedelta(days=150),
        summary="Non-remplacement d'un poste d'animation au départ de son titulaire ; loyer renégocié avec le "
        "bailleur ; recherche de mécénat pour l'accueil de loisirs ; suivi trimestriel de la trésorerie.",
    )
    plan.save_tracked(user=caf13)
    event(first, EventKind.PLAN, "Plan de retour à l'équilibre adopté", 150, caf13, Circle.PARTNERS)
    last = fiscal_years(today)[-1]
    plan.milestones.create(
        title="Loyer renégocié", due=today - datetime.timedelta(days=90), done_on=today - datetime.timedelta(days=95)
    )
    plan.milestones.create(title="Budget prévisionnel à l'équilibre voté", due=today + datetime.timedelta(days=40))
    plan.targets.create(ratio="net_margin", year=last, target=D("-3"), at_least=True)
    plan.targets.create(ratio="net_margin", year=last + 1, target=D("0"), at_least=True)
    plan.targets.create(ratio="cash_days", year=last + 1, target=D("30"), at_least=True)
    action(first, "Envoyer la situation de trésorerie trimestrielle", -12, Circle.STRUCTURE, by_structure=True)
    action(
        first,
        "Avancer le versement de la subvention municipale",
        -40,
        Circle.PARTNERS,
        owner=federation,
        done_days_ago=45,
    )
    action(first, "Rencontrer le bureau sur la gouvernance", 20, Circle.BODY, owner=caf13_partner)
    document = CaseDocument(
        uuid=_uuid(rng),
        case=first,
        circle=Circle.STRUCTURE,
        title="Plan de retour à l'équilibre signé",
        uploaded_by=caf13,
        uploaded_at=at(148, 15),
    )
    document.set_file(("plan-retour-equilibre.pdf", "application/pdf", PDF_STUB, "0" * 64))
    document.save()
    event(first, EventKind.DOCUMENT, f"Document déposé : {document}", 148, caf13, Circle.STRUCTURE, document=document)

    # 2. Thin equity: in diagnosis.
    second = open_case(
        thin_equity,
        "Fonds propres sous trois mois de charges",
        CaseStatus.DIAGNOSIS,
        45,
        CaseOrigin.ALERT,
        federation,
        "Mehdi Haddad",
    )
    step(second, "Ouvert → Diagnostic", 30)
    note(
        second,
        "La directrice part en retraite en juin : le recrutement pèsera sur un budget sans réserve.",
        28,
        prefecture13,
        Circle.BODY,
    )
    note(
        second,
        "Le Département étudie une aide exceptionnelle à la constitution de fonds propres.",
        20,
        federation13,
        Circle.PARTNERS,
    )
    action(
        second,
        "Analyser les trois derniers exercices avec le commissaire aux comptes",
        15,
        Circle.PARTNERS,
        owner=federation,
    )

    # 3. Closed: the working capital restored by a loan.
    third = open_case(
        recovered,
        "Fonds de roulement négatif après les travaux",
        CaseStatus.CLOSED,
        420,
        CaseOrigin.MANUAL,
        caf13_partner,
        "Karim Benali",
        outcome=CaseOutcome.RECOVERED,
        closed_on=today - datetime.timedelta(days=60),
    )
    step(third, "Ouvert → Diagnostic", 400)
    note(
        third,
        "Un prêt de la banque des territoires reconstitue le fonds de roulement ; le dossier peut être clos.",
        62,
        caf13,
        Circle.STRUCTURE,
    )
    event(third, EventKind.CLOSED, "Suivi → Clos : redressé", 60, caf13, Circle.PARTNERS)
    return 3
