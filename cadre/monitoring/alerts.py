"""The early-warning engine: every ratio of the accepted statements, every signal Cadre knows, the active rules
applied to them, and a status per structure and year with its facts written out; then the département quartiles.

At national scale (4,000 structures × 10 years) one query computes every ratio of every accepted statement on
PostgreSQL (each ratio's SQL form, beside its Python one in ratios.py; SQLite reads the statements and applies
ratios.py), every other signal is one query for all structures, the rules are applied as the statuses are
written in bulk (COPY), and the quartiles come from the ratios already in memory. A single structure goes the
same way, scoped.
"""

import datetime
import functools
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal

from django.db import connection, transaction
from django.db.models import Count, Exists, OuterRef, Q
from django.utils import timezone

from cadre.core.bulk import insert_rows
from cadre.core.charts import format_number
from cadre.funding.models import (
    DocumentKind,
    DocumentStatus,
    FundingLine,
    PaymentKind,
    PaymentStep,
    RequiredDocument,
    expected_payments,
)
from cadre.monitoring import ratios as ratio_module
from cadre.monitoring.alert_models import (
    LEVEL_OF_SEVERITY,
    LEVEL_RANK,
    SIGNALS,
    AlertRule,
    HealthLevel,
    HealthStatus,
    RatioQuartiles,
)
from cadre.monitoring.models import (
    EQUITY_FIELDS,
    OPERATING_EXPENSE_FIELDS,
    OPERATING_INCOME_FIELDS,
    OTHER_EXPENSE_FIELDS,
    OTHER_INCOME_FIELDS,
    SUBSIDY_FIELDS,
    FinancialStatement,
)
from cadre.structures.models import MAIN_APPROVAL_KINDS, Approval, Structure

ONE_DECIMAL = Decimal("0.1")
CENT = Decimal("0.01")
QUARTER, HALF = Decimal("0.25"), Decimal("0.5")
INCOME_FIELDS = OPERATING_INCOME_FIELDS + OTHER_INCOME_FIELDS
EXPENSE_FIELDS = OPERATING_EXPENSE_FIELDS + OTHER_EXPENSE_FIELDS
# What the ratios read of a statement (its totals are computed once per statement below).
READ_FIELDS = [
    *INCOME_FIELDS,
    *EXPENSE_FIELDS,
    *EQUITY_FIELDS,
    "net_result",
    "cash",
    "fixed_assets",
    "receivables",
    "provisions",
    "dedicated_funds",
    "financial_debts",
    "supplier_debts",
    "tax_social_debts",
    "deferred_income",
]


class Accounts:
    """A statement's figures as the ratios read them, with the totals of FinancialStatement computed once."""

    def __init__(self, structure_id, year, starts_on, ends_on, values):
        self.structure_id, self.year, self.starts_on, self.ends_on = structure_id, year, starts_on, ends_on
        self.__dict__.update(zip(READ_FIELDS, values, strict=True))
        self.subsidies = sum(values[: len(SUBSIDY_FIELDS)])
        self.income = sum(values[: len(INCOME_FIELDS)])
        self.expenses = sum(values[len(INCOME_FIELDS) : len(INCOME_FIELDS) + len(EXPENSE_FIELDS)])
        self.equity = sum(getattr(self, name) for name in EQUITY_FIELDS)
        self.days = (ends_on - starts_on).days + 1


def read_accounts(structure_ids=None):
    """{structure id: [Accounts], oldest first} of the accepted statements, in one query."""
    rows = FinancialStatement.objects.accepted().order_by("structure_id", "ends_on")
    if structure_ids is not None:
        rows = rows.filter(structure_id__in=structure_ids)
    found = defaultdict(list)
    for structure_id, year, starts_on, ends_on, *values in rows.values_list(
        "structure_id", "year", "starts_on", "ends_on", *READ_FIELDS
    ).iterator(chunk_size=5000):
        found[structure_id].append(Accounts(structure_id, year, starts_on, ends_on, values))
    return found


def _change(now, before):
    if not before:
        return None
    return ((now - before) * 100 / before).quantize(ONE_DECIMAL, rounding=ROUND_HALF_UP)


# The same in SQL over ratios.STATEMENTS_SQL: NULL when the year before is not the fiscal year just before.
DEBTS_CHANGE_SQL = (
    "CASE WHEN follows THEN round((tax_social_debts - previous_tax_social_debts) * 100 "
    "/ nullif(previous_tax_social_debts, 0), 1) END"
)
RATIO_CODES = [ratio.code for ratio in ratio_module.RATIOS]


def statement_figures(structure_ids=None):
    """(structure id, year, net result, change of the tax and social debts, {ratio code: value as stored}) of
    every accepted statement, oldest first by structure; a ratio is stored as the text of its Decimal, so that
    nothing is lost in JSON. On PostgreSQL, one query computes them all (each ratio's SQL form, written as text
    by the database); elsewhere ratios.py computes them from the statements read in one query."""
    if connection.vendor == "postgresql":
        sql, params = ratio_module.accepted_ratios_sql(structure_ids, ["net_result", DEBTS_CHANGE_SQL])
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            rows = cursor.fetchall()
        return [
            (structure_id, year, net_result, debts_change, dict(zip(RATIO_CODES, values, strict=True)))
            for structure_id, year, net_result, debts_change, *values in rows
        ]
    figures = []
    for history in read_accounts(structure_ids).values():
        for index, accounts in enumerate(history):
            before = history[index - 1] if index else None
            debts_change = None
            if before and ratio_module.follows(before, accounts):
                debts_change = _change(accounts.tax_social_debts, before.tax_social_debts)
            values = _as_text(ratio_module.ratios_of(accounts, history[: index + 1]))
            figures.append((accounts.structure_id, accounts.year, accounts.net_result, debts_change, values))
    return figures


# -- Signals from Cadre's other data: each one query (or a few) for every structure in scope -------------------


def _scoped(queryset, structure_ids, field="structure_id"):
    return queryset if structure_ids is None else queryset.filter(**{f"{field}__in": structure_ids})


def _months_between(start, end):
    return (end.year - start.year) * 12 + end.month - start.month - (end.day < start.day)


def other_signals(structure_ids, today):
    """{structure id: {year: {signal: (value, detail)}}} of the signals that do not come from the statements."""
    from cadre.observatory.models import NOT_SENT_STATUSES, Submission

    found = defaultdict(lambda: defaultdict(dict))

    def keep(structure_id, year, code, value, detail):
        """The worst value of a signal in a year (two late documents: the later one speaks)."""
        current = found[structure_id][year].get(code)
        if current is None or value > current[0]:
            found[structure_id][year][code] = (value, detail)

    # Main approval in force with no renewal recorded after it: the months left before it ends.
    renewed = Approval.objects.filter(structure=OuterRef("pk"), kind__in=MAIN_APPROVAL_KINDS, starts__gt=today)
    approvals = (
        _scoped(Structure.objects.all(), structure_ids, "pk")
        .with_current_approval_end(today)
        .filter(approval_ends__isnull=False)
        .exclude(Exists(renewed))
        .values_list("pk", "approval_ends")
    )
    for structure_id, ends in approvals:
        found[structure_id][today.year]["approval_ending"] = (
            Decimal(_months_between(today, ends)),
            f" (fin le {ends:%d/%m/%Y})",
        )

    # Questionnaire of a closed campaign never sent (or sent back and not sent again).
    late = _scoped(
        Submission.objects.filter(status__in=NOT_SENT_STATUSES, campaign__closes_on__lt=today), structure_ids
    ).values_list("structure_id", "campaign__year", "campaign__closes_on")
    for structure_id, year, closes_on in late:
        keep(structure_id, year, "questionnaire_overdue", Decimal((today - closes_on).days), f" (campagne {year})")

    # Annual accounts a funding scheme requires, past their due date, neither deposited nor accepted.
    accounts_due = defaultdict(list)
    for required in RequiredDocument.objects.filter(kind=DocumentKind.ANNUAL_ACCOUNTS, scheme__isnull=False):
        accounts_due[required.scheme_id].append(required)
    from cadre.funding.models import Document

    deposited = set(
        _scoped(
            Document.objects.filter(
                required__kind=DocumentKind.ANNUAL_ACCOUNTS,
                status__in=[DocumentStatus.SUBMITTED, DocumentStatus.ACCEPTED],
            ),
            structure_ids,
        ).values_list("structure_id", "year")
    )
    lines = _scoped(FundingLine.objects.filter(scheme_id__in=list(accounts_due)), structure_ids)
    for structure_id, year, scheme_id in lines.values_list("structure_id", "year", "scheme_id").distinct():
        if (structure_id, year) in deposited:
            continue
        due = min(required.due_on(year) for required in accounts_due[scheme_id])
        if due < today:
            keep(structure_id, year, "accounts_overdue", Decimal((today - due).days), f" (échéance {due:%d/%m/%Y})")

    # A document refused twice or more for the same requirement and year, and not accepted since.
    refusals = defaultdict(int)
    accepted = set()
    documents = _scoped(
        Document.objects.filter(status__in=[DocumentStatus.REJECTED, DocumentStatus.ACCEPTED]), structure_ids
    )
    for structure_id, year, kind, required_id, status, count in (
        documents.values_list("structure_id", "year", "required__kind", "required_id", "status")
        .annotate(count=Count("pk"))
        .order_by()
    ):
        key = (structure_id, year, f"pk-{required_id}" if kind == DocumentKind.OTHER else kind)
        if status == DocumentStatus.ACCEPTED:
            accepted.add(key)
        else:
            refusals[key] += count
    labels = dict(DocumentKind.choices)
    for (structure_id, year, kind), count in refusals.items():
        if (structure_id, year, kind) not in accepted:
            label = labels.get(kind, "pièce")
            keep(structure_id, year, "document_refused", Decimal(count), f" ({label.lower()} {year})")

    # A balance waiting for a blocking document, counted from the date the schedule expected it.
    blocked = _scoped(FundingLine.objects.balance_blocked(), structure_ids).values_list(
        "structure_id", "year", "scheme_id", "partner__name"
    )
    blocked = list(blocked)
    balance_steps = {
        step.scheme_id: step
        for step in PaymentStep.objects.filter(
            kind=PaymentKind.BALANCE, scheme_id__in={scheme_id for _, _, scheme_id, _ in blocked}
        )
    }
    for structure_id, year, scheme_id, partner in blocked:
        step = balance_steps.get(scheme_id)
        due = step.due_on(year) if step else datetime.date(year, 12, 31)
        if due < today:
            keep(
                structure_id,
                year,
                "balance_blocked",
                Decimal(_months_between(due, today)),
                f" (solde {year} de {partner}, attendu le {due:%d/%m/%Y})",
            )

    # Payments the partners' schedules owe and are past their date, by the year of the funding line.
    lines = _scoped(FundingLine.objects.filter(year__gte=today.year - 2), structure_ids)
    overdue = defaultdict(Decimal)
    for expected in expected_payments(lines):
        if expected.due < today:
            overdue[(expected.line.structure_id, expected.line.year)] += expected.amount
    for (structure_id, year), total in overdue.items():
        found[structure_id][year]["overdue_payments"] = (total, "")
    return found


def read_signals(structure_ids, today, watched):
    """The signals of these structures (None: all) that rules watch, {structure id: {year: {signal: (value,
    detail)}}}, and the ratios of their accepted statements, {(structure id, year): {ratio code: value}}. Every
    ratio is a signal, as are the net result and the change of the tax and social debts; then come the signals
    of Cadre's other data."""
    signals, ratios = defaultdict(dict), {}
    financial = [code for code in RATIO_CODES if code in watched]
    for structure_id, year, net_result, debts_change, values in statement_figures(structure_ids):
        year_signals = {code: (_decimal(values[code]), "") for code in financial}
        year_signals["net_result"] = (net_result, "")
        year_signals["tax_social_debts_change"] = (debts_change, "")
        signals[structure_id][year] = year_signals
        ratios[structure_id, year] = values
    for structure_id, years in other_signals(structure_ids, today).items():
        for year, values in years.items():
            signals[structure_id].setdefault(year, {}).update(values)
    return signals, ratios


# -- Rules and facts --------------------------------------------------------------------------------------------


def format_value(value, signal):
    """« 17,6 jours de charges », « 18 jours de charges » (a decimal of zero is not written), « -12 400 € »."""
    return _value_text(value, signal.code)


@functools.lru_cache(maxsize=4096)
def _value_text(value, code):
    """The same values recur across structures (days of cash, shares, a deficit told again the next year): each is
    written once."""
    signal = SIGNALS[code]
    decimals = signal.decimals if value != round(value) else 0
    return format_number(value, decimals, signal.unit)


def format_threshold(rule):
    return _threshold_text(rule.threshold)


@functools.lru_cache(maxsize=256)
def _threshold_text(threshold):
    """A rule's threshold as written in its facts, once per threshold rather than once per fact."""
    return format_number(threshold, 0 if threshold == threshold.to_integral_value() else 2)


def apply_rules(rules, signals_by_year):
    """{year: (level, [fact])} from {year: {signal: (value, detail)}}: a rule holds in a year when its signal holds
    that year and each of the years before, as many as the rule asks."""
    statuses = {}
    for year in sorted(signals_by_year):
        level, facts = HealthLevel.GREEN, []
        current = signals_by_year[year]
        for rule in rules:
            entry = current.get(rule.signal)
            if entry is None or not rule.matches(entry[0]):  # most rules stop here: checked first
                continue
            span = range(year - rule.consecutive_years + 1, year + 1)
            seen = [entry]
            if rule.consecutive_years > 1:
                seen = [signals_by_year.get(each, {}).get(rule.signal) for each in span]
                if not all(entry is not None and rule.matches(entry[0]) for entry in seen):
                    continue
            facts.append(
                {
                    "rule": rule.code or rule.pk,
                    "signal": rule.signal,
                    "severity": rule.severity,
                    "text": _fact(rule, span, seen),
                }
            )
            if LEVEL_RANK[LEVEL_OF_SEVERITY[rule.severity]] > LEVEL_RANK[level]:
                level = LEVEL_OF_SEVERITY[rule.severity]
        if len(facts) > 1:  # the graver facts first: they are what a reader must see
            facts.sort(key=lambda fact: -LEVEL_RANK[LEVEL_OF_SEVERITY[fact["severity"]]])
        statuses[year] = (level, facts)
    return statuses


def _fact(rule, span, seen):
    """« trésorerie : 18 jours de charges, seuil 30 »; over several years, each year's value:
    « deux exercices déficitaires : 2024 -12 400 €, 2025 -31 000 € »."""
    signal = SIGNALS[rule.signal]
    if rule.consecutive_years == 1:
        value, detail = seen[0]
        return f"{rule.name} : {format_value(value, signal)}{detail}, seuil {format_threshold(rule)}"
    return f"{rule.name} : " + ", ".join(
        f"{each} {format_value(value, signal)}{detail}" for each, (value, detail) in zip(span, seen, strict=True)
    )


def _as_text(values):
    """Ratios as stored: the text of each Decimal, a zero without sign (« 0.0 », as PostgreSQL writes it, not the
    « -0.0 » of a small loss rounded)."""
    return {code: None if value is None else str(abs(value) if value == 0 else value) for code, value in values.items()}


def _decimal(text):
    return None if text is None else Decimal(text)


def compute_statuses(structures=None, *, today=None):
    """Recompute the statuses (and ratios) of `structures` (ids or instances; None: every structure) for every year
    they have an accepted statement or a signal, then the quartiles of their départements for those years.
    Returns the number of statuses written."""
    today = today or timezone.localdate()
    structure_ids = None if structures is None else [getattr(each, "pk", each) for each in structures]
    rules = list(AlertRule.objects.active())
    signals, ratios = read_signals(structure_ids, today, {rule.signal for rule in rules})
    departments = dict(
        _scoped(Structure.objects.all(), structure_ids, "pk").values_list("pk", "commune__department_id")
    )
    now = timezone.now()
    # Applied as the statuses are written (a generator): the database takes each batch of rows in while the rules
    # are applied to the next structures.
    computed = (
        (structure_id, year, level, facts, ratios.get((structure_id, year), {}))
        for structure_id in departments
        for year, (level, facts) in apply_rules(rules, signals.get(structure_id, {})).items()
    )
    with transaction.atomic():
        if structure_ids is not None:
            # Two recomputes of one structure (two payments in a row, two workers) write one after the other:
            # the second deletes what the first wrote instead of colliding with it.
            locked = Structure.objects.select_for_update().filter(pk__in=structure_ids).order_by("pk")
            list(locked.values_list("pk", flat=True))
        previous = _scoped(HealthStatus.objects.all(), structure_ids)
        # What each status was before: a level that stays keeps its date (acknowledgements made since still
        # cover it); a status turning to alerte is told to the subscribers once the write is committed.
        before = {
            (structure_id, year): (level, since)
            for structure_id, year, level, since in previous.values_list("structure_id", "year", "level", "level_since")
        }
        rows, turned = [], {}  # the ratios for the quartiles, the structures turning to alerte: as written

        def statuses():
            for structure_id, year, level, facts, year_ratios in computed:
                old_level, since = before.get((structure_id, year), (None, None))
                if old_level != level or since is None:
                    since = now
                if year_ratios:
                    rows.append((departments[structure_id], year, year_ratios))
                # The very first computation of all (nothing stored yet) is no change: nobody is told of the
                # whole past. A structure's own first status (its first accounts accepted) is news.
                news = before or structure_ids is not None
                if level == HealthLevel.ALERT and old_level != HealthLevel.ALERT and news:
                    if year >= turned.get(structure_id, (0, None))[0]:
                        turned[structure_id] = (year, facts)
                yield (structure_id, year, level, facts, year_ratios, now, since)

        # The quartiles a structure was part of: a year it no longer has must be refreshed too.
        pairs = (
            set() if structure_ids is None else set(previous.values_list("structure__commune__department_id", "year"))
        )
        previous.delete()
        count = write_rows(HealthStatus, STATUS_COLUMNS, statuses())
        if structure_ids is None:
            RatioQuartiles.objects.all().delete()
            write_rows(RatioQuartiles, QUARTILE_COLUMNS, quartile_rows(rows))
        else:
            refresh_quartiles(pairs | {(department, year) for department, year, _ in rows})
        if turned:
            transaction.on_commit(lambda: notify_turned_to_alert(turned, today))
    return count


STATUS_COLUMNS = ["structure_id", "year", "level", "facts", "ratios", "computed_at", "level_since"]
QUARTILE_COLUMNS = ["department_id", "year", "ratio", "count", "first_quartile", "median", "third_quartile"]


def write_rows(model, columns, rows):
    """Write rows (tuples in the order of `columns`; JSON columns as Python values) in a few statements: binary
    COPY on PostgreSQL (cadre.core.bulk), where bulk_create's parameters would cost more than the rows. Returns
    the count."""
    return insert_rows(model, columns, rows)


def _quartile(ordered, share):
    """The `share` quantile of sorted Decimals, interpolated between the two closest values (the « inclusive »
    method of statistics.quantiles, the indicators' one), in Decimal arithmetic."""
    position = (len(ordered) - 1) * share
    below = int(position)
    fraction = position - below
    if not fraction:
        return ordered[below]
    return ordered[below] + (ordered[below + 1] - ordered[below]) * fraction


def quartile_rows(rows):
    """RatioQuartiles rows (in the order of QUARTILE_COLUMNS) from (département, year, {ratio code: value as
    stored}) rows."""
    places = defaultdict(list)
    for department, year, ratios in rows:
        places[department, year].append(ratios)
    found = []
    for (department, year), structures in places.items():
        for code in RATIO_CODES:
            numbers = sorted(Decimal(value) for ratios in structures if (value := ratios.get(code)) is not None)
            if not numbers:
                continue
            quartiles = (_quartile(numbers, share) for share in (QUARTER, HALF, 3 * QUARTER))
            found.append(
                (
                    department,
                    year,
                    code,
                    len(numbers),
                    *(Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP) for value in quartiles),
                )
            )
    return found


def refresh_quartiles(pairs):
    """Recompute the quartiles of these (département, year) pairs from the stored ratios (a few dozen structures
    each): what one structure's recompute changes. Every year of every département named is redone."""
    if not pairs:
        return
    departments = {department for department, _ in pairs}
    years = {year for _, year in pairs}
    stored = HealthStatus.objects.filter(structure__commune__department_id__in=departments, year__in=years).values_list(
        "structure__commune__department_id", "year", "ratios"
    )
    RatioQuartiles.objects.filter(department_id__in=departments, year__in=years).delete()
    write_rows(RatioQuartiles, QUARTILE_COLUMNS, quartile_rows(stored))


def ratio_quartiles(department, year):
    """{ratio code: RatioQuartiles} of a département (instance or code) and year, precomputed: one query."""
    department_id = getattr(department, "pk", department)
    return {row.ratio: row for row in RatioQuartiles.objects.filter(department_id=department_id, year=year)}


# -- E-mails to the subscribers ---------------------------------------------------------------------------------


def subscribers(structure_ids, today):
    """{structure id: {user}} of the active users subscribed to these structures (or to every structure their
    partners fund) whose partner funds the structure around today: two queries, whatever the count."""
    from cadre.accounts.models import User
    from cadre.monitoring.alert_models import AlertSubscription

    subscriptions = list(
        AlertSubscription.objects.filter(user__is_active=True)
        .filter(Q(structure_id__in=structure_ids) | Q(structure__isnull=True))
        .values_list("user_id", "structure_id")
    )
    if not subscriptions:
        return {}
    funded = set(
        FundingLine.objects.filter(
            structure_id__in=structure_ids,
            year__gte=today.year - 2,
            partner__memberships__user_id__in={user_id for user_id, _ in subscriptions},
        )
        .values_list("structure_id", "partner__memberships__user_id")
        .distinct()
    )
    users = User.objects.in_bulk({user_id for user_id, _ in subscriptions})
    found = defaultdict(set)
    for user_id, watched in subscriptions:
        for structure_id in [watched] if watched is not None else structure_ids:
            if (structure_id, user_id) in funded:
                found[structure_id].add(users[user_id])
    return found


def notify_turned_to_alert(turned, today=None):
    """One e-mail per subscriber and structure that turned to alerte: {structure id: (year, facts)}. Returns
    the number of e-mails sent."""
    from django.conf import settings
    from django.core import mail
    from django.urls import reverse

    today = today or timezone.localdate()
    recipients = subscribers(sorted(turned), today)
    if not recipients:
        return 0
    structures = Structure.objects.in_bulk(list(recipients))
    messages = []
    for structure_id, users in sorted(recipients.items()):
        structure = structures[structure_id]
        year, facts = turned[structure_id]
        url = settings.CADRE_SITE_URL + reverse("monitoring:health", args=[structure.uuid])
        written = "\n".join(f"- {fact['text']}" for fact in facts)
        for user in sorted(users, key=lambda each: each.email):
            messages.append(
                mail.EmailMessage(
                    subject=f"Alerte : {structure.name} ({year})",
                    body=(
                        f"Bonjour,\n\nLa santé financière de {structure.name} passe en alerte pour l'exercice "
                        f"{year}, pour ces raisons :\n{written}\n\nLa page de la structure : {url}\n\n"
                        f"Vous recevez ce message parce que vous suivez les alertes des structures que finance "
                        f"votre partenaire ; vous pouvez vous désabonner depuis cette page ou depuis la liste "
                        f"des alertes.\n\n"
                        f"{settings.CADRE_OPERATOR['name']}"
                    ),
                    to=[user.email],
                )
            )
    mail.get_connection().send_messages(messages)
    return len(messages)
