"""Indicator values from validated observatory answers and registry facts, by territory and year.

`rebuild` recomputes everything; `refresh_structure` recomputes only the territories of one
structure (after its submission is validated or reopened), its région and France as sums of their
départements' values — tests/test_indicators.py checks on random data that the result is a rebuild's.
Ratios are sums of numerators over sums of denominators, never averages of ratios.
"""

import dataclasses
import datetime
import json
import statistics
from concurrent.futures import ThreadPoolExecutor
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from cadre.indicators import sql
from cadre.indicators.models import (
    LEVELS,
    STRUCTURES,
    AreaFilter,
    Indicator,
    IndicatorKind,
    IndicatorValue,
    Level,
    Operator,
    source_parts,
)
from cadre.observatory.models import NUMERIC_KINDS, Answer, Campaign, Question, QuestionKind, SubmissionStatus
from cadre.structures.models import Approval, PriorityAreaStatus, Structure

HUNDRED = Decimal(100)


@dataclasses.dataclass(slots=True)
class Fact:
    """A structure observed in a year (its questionnaire validated), as the indicators read it."""

    structure_id: int
    kind: str
    management: str
    priority_area_status: str
    approvals: frozenset
    places: dict  # {level: territory code}
    registry: dict
    answers: dict = dataclasses.field(default_factory=dict)


def _places(commune):
    return {
        Level.NATIONAL: "",
        Level.REGION: commune.department.region_id,
        Level.DEPARTMENT: commune.department_id,
        Level.EPCI: commune.epci_id or "",
        Level.COMMUNE: commune.pk,
    }


def observed(year, department=None, structure_ids=None):
    """{structure id: Fact} of the structures whose questionnaire of `year` is validated (in `department`,
    among `structure_ids`)."""
    structures = Structure.objects.filter(
        submissions__campaign__year=year, submissions__status=SubmissionStatus.VALIDATED
    )
    if department:
        structures = structures.filter(commune__department_id=department)
    if structure_ids is not None:
        structures = structures.filter(pk__in=structure_ids)
    first, last = datetime.date(year, 1, 1), datetime.date(year, 12, 31)
    approvals = {}
    active = Approval.objects.filter(structure__in=structures, starts__lte=last, ends__gte=first)
    for structure_id, kind in active.values_list("structure_id", "kind"):
        approvals.setdefault(structure_id, set()).add(kind)
    facts = {}
    for row in structures.values_list(
        "pk",
        "kind",
        "management",
        "priority_area_status",
        "served_population",
        "multi_site",
        "itinerant",
        "serves_travellers",
        "territory_type",
        "commune_id",
        "commune__epci_id",
        "commune__department_id",
        "commune__department__region_id",
    ):  # fetched at once: a server-side cursor (iterator) plans for the first rows; refresh 0.65 → 0.49 s
        pk, kind, management, area, population, multi_site, itinerant, travellers, territory_type = row[:9]
        commune, epci, department_code, region = row[9:]
        facts[pk] = Fact(
            structure_id=pk,
            kind=kind,
            management=management,
            priority_area_status=area,
            approvals=frozenset(approvals.get(pk, ())),
            places={
                Level.NATIONAL: "",
                Level.REGION: region,
                Level.DEPARTMENT: department_code,
                Level.EPCI: epci or "",
                Level.COMMUNE: commune,
            },
            registry={
                "served_population": None if population is None else Decimal(population),
                "multi_site": multi_site,
                "itinerant": itinerant,
                "serves_travellers": travellers,
                "management": management,
                "priority_area_status": area,
                "territory_type": territory_type or None,
            },
        )
    return facts


def _load_answers(year, facts, codes, structures=None):
    """Fill each fact's `answers` ({code: typed value}) for the question `codes` (of `structures` only)."""
    if not codes or structures == []:
        return
    rows = Answer.objects.filter(
        submission__campaign__year=year,
        submission__status=SubmissionStatus.VALIDATED,
        question__code__in=codes,
    )
    if structures is not None:
        rows = rows.filter(submission__structure_id__in=structures)
    rows = rows.values_list("submission__structure_id", "question__code", "question__kind", "number", "text", "codes")
    if connection.vendor == "postgresql":
        # psycopg already gives Decimal and JSON: Django's per-row converters doubled the time of a refresh.
        with connection.cursor() as cursor:
            cursor.execute(*rows.query.sql_with_params())
            rows = cursor.fetchall()
    for structure_id, code, kind, number, text, chosen in rows:
        fact = facts.get(structure_id)
        if fact is None:
            continue
        if kind in NUMERIC_KINDS:
            value = number
        elif kind == QuestionKind.BOOLEAN:
            value = None if number is None else number == 1
        elif kind == QuestionKind.MULTIPLE_CHOICE:
            if isinstance(chosen, str):  # Django has psycopg leave jsonb undecoded for the ORM to decode
                chosen = json.loads(chosen)
            value = chosen or None
        else:
            value = text or None
        fact.answers[code] = value


ONE, ZERO = Decimal(1), Decimal(0)


def _reader(source):
    """fact → the value `source` reads (a question's answer, a registry fact, or 1 for « structures »)."""
    origin, name = source_parts(source)
    if origin == STRUCTURES:
        return lambda fact: ONE
    if origin == "registry":
        return lambda fact: fact.registry.get(name)
    return lambda fact: fact.answers.get(name)


def _population(indicator):
    """fact → whether the structure is in the indicator's population (its filters)."""
    kinds, managements = set(indicator.structure_kinds), set(indicator.managements)
    approvals, area = set(indicator.approval_kinds), indicator.priority_area
    in_area_wanted = area == AreaFilter.IN_AREA

    def within(fact):
        if kinds and fact.kind not in kinds:
            return False
        if managements and fact.management not in managements:
            return False
        if area and (fact.priority_area_status == PriorityAreaStatus.IN_AREA) != in_area_wanted:
            return False
        return not approvals or bool(fact.approvals & approvals)

    return within


def _condition(indicator):
    """value → whether a share's condition holds."""
    operator, threshold, codes = indicator.operator, indicator.threshold, set(indicator.choice_codes)
    if operator == Operator.YES:
        return lambda value: value is True
    if operator == Operator.NO:
        return lambda value: value is False
    if operator == Operator.ANY_OF:
        return lambda value: bool(codes.intersection(value if isinstance(value, list) else [value]))
    if operator == Operator.GT:
        return lambda value: value > threshold
    if operator == Operator.GTE:
        return lambda value: value >= threshold
    if operator == Operator.LT:
        return lambda value: value < threshold
    if operator == Operator.LTE:
        return lambda value: value <= threshold
    return lambda value: value is not None  # ANSWERED


def contributor(indicator):
    """fact → what one structure brings to the indicator: None (not counted), or a (numerator,
    denominator) pair for counts, shares and ratios, or a number for sums, means and medians.
    Built once per indicator: it runs for every structure of every territory."""
    within, kind = _population(indicator), indicator.kind
    if kind == IndicatorKind.COUNT:
        return lambda fact: (ONE, ONE) if within(fact) else None
    read = _reader(indicator.source)
    if kind == IndicatorKind.SHARE:
        meets, answered_only = _condition(indicator), indicator.operator != Operator.ANSWERED

        def share(fact):
            if not within(fact):
                return None
            value = read(fact)
            if value is None and answered_only:
                return None  # not answered (or not asked): neither counted in nor out
            return (ONE if meets(value) else ZERO, ONE)

        return share
    if kind == IndicatorKind.RATIO:
        read_denominator = _reader(indicator.denominator)

        def ratio(fact):
            if not within(fact):
                return None
            value = read(fact)
            if value is None:
                return None
            denominator = read_denominator(fact)
            return None if denominator is None else (value, denominator)

        return ratio

    def number(fact):
        return read(fact) if within(fact) else None

    return number


NO_STRUCTURE = "aucune structure de la population de l'indicateur n'a de questionnaire validé ici"
NO_ANSWER = "aucune structure n'a donné la réponse lue"
DIVISION_BY_ZERO = "division par zéro : la somme des dénominateurs est nulle"


ADDITIVE = {IndicatorKind.COUNT, IndicatorKind.SHARE, IndicatorKind.RATIO, IndicatorKind.SUM, IndicatorKind.MEAN}


def _additive(indicator, count, numerator, denominator):
    """IndicatorValue fields from the sums over a territory's structures (count > 0)."""
    kind = indicator.kind
    if kind == IndicatorKind.SUM:
        return {"structure_count": count, "value": numerator, "numerator": numerator}
    if kind == IndicatorKind.MEAN:
        return {
            "structure_count": count,
            "value": numerator / count,
            "numerator": numerator,
            "denominator": denominator,
        }
    fields = {"structure_count": count, "numerator": numerator, "denominator": denominator}
    if kind == IndicatorKind.COUNT:
        return {**fields, "value": Decimal(count)}
    if denominator == 0:
        return {**fields, "reason": DIVISION_BY_ZERO}
    # Shares, and ratios stated in %, are percentages.
    scale = HUNDRED if kind == IndicatorKind.SHARE or indicator.unit == "%" else 1
    return {**fields, "value": scale * numerator / denominator}


def _quartiles(parts):
    ordered = sorted(parts)
    if len(ordered) == 1:
        first = third = ordered[0]
    else:
        first, _, third = statistics.quantiles(ordered, n=4, method="inclusive")
    return {
        "structure_count": len(ordered),
        "value": statistics.median(ordered),
        "first_quartile": first,
        "third_quartile": third,
    }


def _empty(indicator):
    return {"structure_count": 0, "reason": NO_STRUCTURE if indicator.kind == IndicatorKind.COUNT else NO_ANSWER}


def _values_by_place(indicator, groups):
    """{place: IndicatorValue fields} from `groups` ({places: [facts]}, the structures sharing the same
    territories): one pass over the structures, then each group's totals added to its territories —
    sums for the kinds that add up, sorted lists for medians. Decimal sums are exact, so the order
    of additions does not change a value."""
    part_of = contributor(indicator)
    totals = {}
    if indicator.kind not in ADDITIVE:
        for places, members in groups.items():
            parts = [part for fact in members if (part := part_of(fact)) is not None]
            if parts:
                for place in places:
                    totals.setdefault(place, []).extend(parts)
        return {place: _quartiles(parts) for place, parts in totals.items()}
    single = indicator.kind in (IndicatorKind.SUM, IndicatorKind.MEAN)  # a number, not a pair
    for places, members in groups.items():
        count, numerator, denominator = 0, ZERO, ZERO
        for fact in members:
            part = part_of(fact)
            if part is None:
                continue
            count += 1
            if single:
                numerator += part
                denominator += ONE
            else:
                numerator += part[0]
                denominator += part[1]
        if not count:
            continue
        for place in places:
            total = totals.get(place)
            if total is None:
                totals[place] = [count, numerator, denominator]
            else:
                total[0] += count
                total[1] += numerator
                total[2] += denominator
    return {place: _additive(indicator, *total) for place, total in totals.items()}


def _missing_questions(year, indicators):
    """{indicator id: French reason} for indicators reading a question that year's questionnaire lacks."""
    campaign = Campaign.objects.filter(year=year).first()
    asked = set()
    if campaign:
        asked = set(Question.objects.filter(questionnaire_id=campaign.questionnaire_id).values_list("code", flat=True))
    missing = {}
    for indicator in indicators:
        absent = [code for code in indicator.question_codes() if code not in asked]
        if absent:
            missing[indicator.pk] = f"le questionnaire {year} n'a pas la question « {absent[0]} »"
    return missing


VALUE_COLUMNS = [
    "indicator",
    "year",
    "level",
    "territory",
    "value",
    "numerator",
    "denominator",
    "first_quartile",
    "third_quartile",
    "structure_count",
    "reason",
    "computed_at",
]
SIX_PLACES = Decimal("0.000001")


def _stored(number):
    # Half away from zero, as PostgreSQL's round(): both engines store the same digits.
    return None if number is None else Decimal(number).quantize(SIX_PLACES, rounding=ROUND_HALF_UP)


def _insert(rows):
    """Write value rows: COPY on PostgreSQL (bulk_create spent 2 s in Python per 10,000 values)."""
    if not rows:
        return
    field, quote = IndicatorValue._meta.get_field, connection.ops.quote_name
    columns = ", ".join(quote(field(name).column) for name in VALUE_COLUMNS)
    table = quote(IndicatorValue._meta.db_table)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            placeholders = ", ".join(["%s"] * len(VALUE_COLUMNS))
            stamp = field("computed_at").get_db_prep_save(rows[0][-1], connection)
            number = field("value")
            cursor.executemany(
                f"INSERT INTO {table} ({columns}) VALUES ({placeholders})",
                [
                    (*row[:4], *(number.get_db_prep_save(v, connection) for v in row[4:9]), row[9], row[10], stamp)
                    for row in rows
                ],
            )


def compute(year, indicators, *, engine=None, shared_lock=False):
    """Compute and store the values of `indicators` for `year`, for every territory where a
    structure is observed. Returns the number of values computed. On PostgreSQL the SQL engine
    (sql.py) works in the database and writes only what changed; SQLite has the Python engine
    below. `engine="python"` forces it. `shared_lock`: a worker of a parallel rebuild, which
    writes its year beside the other workers (see rebuild)."""
    missing = _missing_questions(year, indicators)
    if engine != "python" and sql.available():
        try:
            return _compute_sql(year, indicators, missing, shared_lock)
        except sql.Unsupported:
            pass  # a definition the SQL engine does not translate: the Python engine computes them all
    facts = observed(year)
    _load_answers(year, facts, _codes(indicators))
    groups, everywhere = _groups(facts.values())
    found = {i.pk: _values_by_place(i, groups) for i in indicators if i.pk not in missing}
    return _store(year, indicators, found, everywhere, None, missing)


def _codes(indicators):
    return sorted({code for i in indicators for code in i.question_codes()})


def _groups(facts, wanted=None):
    """({places: [facts]}, every place): the structures grouped by the territories they share among
    `wanted` (None: all), and the set of those territories."""
    groups, everywhere = {}, set()
    for fact in facts:
        places = []
        for level in LEVELS:
            place = (level, fact.places[level])
            if level == Level.EPCI and not place[1]:
                continue  # a commune without EPCI (islands)
            if wanted is None or place in wanted:
                places.append(place)
        if places:
            groups.setdefault(tuple(places), []).append(fact)
            everywhere.update(places)
    return groups, everywhere


def _store(year, indicators, found, everywhere, wanted, missing):
    """Write the values `found` ({indicator id: {place: fields}}) of every place of `everywhere`
    (« non calculable » where an indicator has none), replacing the old values of `wanted` (None: all)."""
    now = timezone.now()
    rows = []
    for indicator in indicators:
        if indicator.pk in missing:
            values, empty = {}, {"structure_count": 0, "reason": missing[indicator.pk]}
        else:
            values, empty = found[indicator.pk], _empty(indicator)
        for level, code in sorted(everywhere):
            fields = values.get((level, code), empty)
            rows.append(
                (
                    indicator.pk,
                    year,
                    level,
                    code,
                    _stored(fields.get("value")),
                    _stored(fields.get("numerator")),
                    _stored(fields.get("denominator")),
                    _stored(fields.get("first_quartile")),
                    _stored(fields.get("third_quartile")),
                    fields["structure_count"],
                    fields.get("reason", ""),
                    now,
                )
            )
    with transaction.atomic():
        if sql.available():
            with connection.cursor() as cursor:
                sql.lock(cursor)
        stale = IndicatorValue.objects.filter(indicator__in=indicators, year=year)
        if wanted is not None:
            place = Q(pk__in=[])
            for level, code in wanted:
                place |= Q(level=level, territory=code)
            stale = stale.filter(place)
        stale.delete()  # one DELETE: values have no dependants
        _insert(rows)
    return len(rows)


SQL_REASONS = (NO_STRUCTURE, NO_ANSWER, DIVISION_BY_ZERO)


def _compute_sql(year, indicators, missing, shared_lock=False):
    """Values computed by the SQL engine for `year` (`missing`: {indicator id: reason})."""
    now = timezone.now()
    _, written, deleted = counts = sql.compute(year, indicators, missing, now, SQL_REASONS, shared_lock=shared_lock)
    if written or deleted:
        # Pages keep their body until that year's national values change (queries.values_stamp):
        # a change elsewhere marks them too, since only changed values are rewritten.
        IndicatorValue.objects.filter(indicator__in=indicators, year=year, level=Level.NATIONAL).update(computed_at=now)
    return counts[0]


def territories_of(structure):
    commune = structure.commune
    places = _places(commune)
    return [(level, code) for level, code in places.items() if code or level == Level.NATIONAL]


def refresh_structure(structure_id, year):
    """After a validation or a reopening: the current indicators of the structure's five territories.

    Its département, EPCI and commune are computed from their own structures. For the kinds that add
    up, its région and France are the sums of their départements: the stored values of the others
    (exact: numerators and denominators are sums of numbers with at most 4 decimals, stored with 6)
    and the new one. Medians, and an indicator some observed département has no stored value for,
    are computed from every structure. tests/test_indicators.py checks the result equals a rebuild."""
    structure = Structure.objects.select_related("commune__department").get(pk=structure_id)
    indicators = list(Indicator.objects.current())
    missing = _missing_questions(year, indicators)
    commune = structure.commune
    department, region, epci = commune.department_id, commune.department.region_id, commune.epci_id or ""
    wanted = set(territories_of(structure))
    upper = {(Level.REGION, region), (Level.NATIONAL, "")}

    facts = observed(year)  # who is observed where: few queries, no answers yet
    regions = {f.places[Level.DEPARTMENT]: f.places[Level.REGION] for f in facts.values()}
    others = set(regions) - {department}
    computed = [i for i in indicators if i.pk not in missing]
    stored = {}
    rows = IndicatorValue.objects.filter(
        indicator__in=[i for i in computed if i.kind in ADDITIVE],
        year=year,
        level=Level.DEPARTMENT,
        territory__in=others,
    ).values_list("indicator_id", "territory", "structure_count", "numerator", "denominator")
    for pk, code, count, numerator, denominator in rows:
        stored.setdefault(pk, {})[code] = (count, numerator or ZERO, denominator or ZERO)
    summed = [i for i in computed if i.kind in ADDITIVE and set(stored.get(i.pk, ())) == others]
    whole = [i for i in computed if i not in summed]

    near = {
        pk: fact
        for pk, fact in facts.items()
        if fact.places[Level.DEPARTMENT] == department or (epci and fact.places[Level.EPCI] == epci)
    }
    _load_answers(year, near, _codes(summed), structures=list(near))
    _load_answers(year, facts, _codes(whole))
    groups, everywhere = _groups(facts.values(), wanted)
    near_groups, _ = _groups(near.values(), wanted - upper)
    found = {i.pk: _values_by_place(i, groups) for i in whole}
    for indicator in summed:
        values = _values_by_place(indicator, near_groups)
        parts = dict(stored.get(indicator.pk, {}))
        mine = values.get((Level.DEPARTMENT, department))
        if mine:
            parts[department] = (
                mine["structure_count"],
                mine.get("numerator") or ZERO,
                mine.get("denominator") or ZERO,
            )
        for place in upper:
            inside = [part for code, part in parts.items() if place[0] == Level.NATIONAL or regions[code] == region]
            count = sum(part[0] for part in inside)
            if count:
                numerator = sum((part[1] for part in inside), ZERO)
                denominator = sum((part[2] for part in inside), ZERO)
                values[place] = _additive(indicator, count, numerator, denominator)
        found[indicator.pk] = values
    return _store(year, indicators, found, everywhere, wanted, missing)


def rebuild(indicator_ids=None, years=None):
    """Every value of the current indicators (or of `indicator_ids`), for every campaign year."""
    indicators = (
        Indicator.objects.current() if indicator_ids is None else Indicator.objects.filter(pk__in=indicator_ids)
    )
    indicators = list(indicators)
    years = years or list(Campaign.objects.order_by("year").values_list("year", flat=True))
    workers = min(len(years), settings.CADRE_INDICATOR_WORKERS)
    if workers > 1 and sql.available() and not connection.in_atomic_block:
        return _rebuild_in_parallel(years, indicators, workers)
    return {year: compute(year, indicators) for year in years}


def _rebuild_in_parallel(years, indicators, workers):
    """The years computed side by side, each in its own connection and transaction: a statement
    of the SQL engine runs on one core, the database server has more. The years' rows are disjoint,
    so the workers share the values' lock (a refresh still waits for them, and they for it); a
    session lock keeps a second rebuild out meanwhile. Inside a transaction (tests, a caller's
    atomic block) other connections would not see its data: rebuild then goes year by year."""

    def work(year):
        try:
            return compute(year, indicators, shared_lock=True)
        finally:
            connection.close()  # this thread's own connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(hashtext('cadre.indicator_rebuild'))")
    try:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            counts = dict(zip(years, pool.map(work, years), strict=True))
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(hashtext('cadre.indicator_rebuild'))")
    return counts


def own_figure(indicator, part):
    """One structure's figure for an indicator: True/False for a share (condition met), a number
    for the others (its ratio for a ratio), None when it does not count. Counts have none."""
    if part is None or indicator.kind == IndicatorKind.COUNT:
        return None
    if indicator.kind == IndicatorKind.SHARE:
        return part[0] == 1
    if indicator.kind == IndicatorKind.RATIO:
        numerator, denominator = part
        if denominator == 0:
            return None
        return (HUNDRED if indicator.unit == "%" else 1) * numerator / denominator
    return part


def _spread(numbers):
    """(q1, median, q3, n) of the sorted `numbers`, as the département medians are computed; None if empty."""
    if not numbers:
        return None
    if len(numbers) == 1:
        q1 = q3 = numbers[0]
    else:
        q1, _, q3 = statistics.quantiles(numbers, n=4, method="inclusive")
    return (q1, statistics.median(numbers), q3, len(numbers))


def department_spreads(year, department, indicators):
    """{indicator id: (q1, median, q3, n) or None}: the distribution of the structures' own figures (see
    own_figure) among the observed structures of `department` in `year` — what a structure compares itself
    with. Read from the answers of that département only."""
    facts = observed(year, department)
    _load_answers(year, facts, _codes(indicators), structures=list(facts))
    spreads = {}
    for indicator in indicators:
        part_of = contributor(indicator)
        figures = (own_figure(indicator, part_of(fact)) for fact in facts.values())
        spreads[indicator.pk] = _spread(sorted(f for f in figures if f is not None and not isinstance(f, bool)))
    return spreads


def own_figures(structure_id, year, indicators):
    """{indicator id: the structure's own figure} in `year`; {} when its questionnaire is not validated."""
    facts = observed(year, structure_ids=[structure_id])
    fact = facts.get(structure_id)
    if fact is None:
        return {}
    _load_answers(year, facts, _codes(indicators), structures=[structure_id])
    return {indicator.pk: own_figure(indicator, contributor(indicator)(fact)) for indicator in indicators}
