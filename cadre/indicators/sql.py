"""The PostgreSQL engine of `compute`: one statement per year computes every indicator for every
territory (GROUP BY GROUPING SETS over the five levels) and writes only the values that changed
(all of them, without comparing, when the year has none stored).

It gives the values of the Python engine of compute.py (kept for SQLite, and for definitions this
engine does not translate): same populations, conditions, sums of numerators over sums of
denominators, medians and quartiles by the same interpolation, in exact numeric arithmetic, rounded
half away from zero to the six decimals stored. tests/test_indicator_engines.py compares the two
engines on random data. The SQL text is generated from the definitions' fixed choices; every value
from a definition (codes, thresholds, choices) is a bound parameter.
"""

from django.db import connection, transaction

from cadre.indicators.models import STRUCTURES, AreaFilter, IndicatorKind, IndicatorValue, Level, Operator, source_parts
from cadre.observatory.models import (
    NUMERIC_KINDS,
    Answer,
    Campaign,
    Question,
    QuestionKind,
    Submission,
    SubmissionStatus,
)
from cadre.structures.models import Approval, PriorityAreaStatus, Structure
from cadre.territories.models import Commune, Department

# Registry facts as the Python engine reads them: (SQL over the structure row, nature of the value).
REGISTRY = {
    "served_population": ("st.served_population::numeric", "number"),
    "multi_site": ("st.multi_site", "boolean"),
    "itinerant": ("st.itinerant", "boolean"),
    "serves_travellers": ("st.serves_travellers", "boolean"),
    "management": ("st.management", "text"),
    "priority_area_status": ("st.priority_area_status", "text"),
    "territory_type": ("NULLIF(st.territory_type, '')", "text"),
}
COMPARISONS = {Operator.GT: ">", Operator.GTE: ">=", Operator.LT: "<", Operator.LTE: "<="}
# GROUPING(region, department, epci, commune): a bit is set for each column left out of the set.
GROUPINGS = {15: Level.NATIONAL, 7: Level.REGION, 11: Level.DEPARTMENT, 13: Level.EPCI, 14: Level.COMMUNE}


def available():
    return connection.vendor == "postgresql"


def _nature(kind):
    if kind in NUMERIC_KINDS:
        return "number"
    if kind == QuestionKind.BOOLEAN:
        return "boolean"
    if kind == QuestionKind.MULTIPLE_CHOICE:
        return "codes"
    return "text"


class Unsupported(Exception):
    """A definition this engine does not translate: compute falls back on the Python engine."""


class _Query:
    """Builds the statement: SQL text of fixed shape, and its parameters in order."""

    def __init__(self, kinds):
        self.params = []
        self.kinds = kinds  # {question code: QuestionKind} in that year's questionnaire
        self.columns = {}  # {question code: pivot column}

    def bind(self, value):
        self.params.append(value)
        return "%s"

    def source(self, source):
        """(SQL of the value read, nature) — NULL when not answered, as the Python engine's None."""
        origin, name = source_parts(source)
        if origin == STRUCTURES:
            return "1::numeric", "number"
        if origin == "registry":
            if name not in REGISTRY:
                raise Unsupported(source)
            return f"w.r_{name}", REGISTRY[name][1]
        if name not in self.kinds:
            raise Unsupported(source)
        column = self.columns.setdefault(name, f"a{len(self.columns)}")
        nature = _nature(self.kinds[name])
        if nature == "boolean":
            return f"(w.{column} = 1)", nature
        return f"w.{column}", nature

    def condition(self, indicator, value, nature):
        operator = indicator.operator
        if operator == Operator.ANSWERED:
            return f"{value} IS NOT NULL"
        if operator in (Operator.YES, Operator.NO):
            if nature != "boolean":
                raise Unsupported(operator)
            return f"{value} IS {'TRUE' if operator == Operator.YES else 'FALSE'}"
        if operator == Operator.ANY_OF:
            codes = self.bind(list(indicator.choice_codes))
            if nature == "codes":
                return f"{value} ?| {codes}::text[]"
            if nature == "text":
                return f"{value} = ANY({codes}::text[])"
            raise Unsupported(operator)
        if operator in COMPARISONS and nature == "number" and indicator.threshold is not None:
            return f"{value} {COMPARISONS[operator]} {self.bind(indicator.threshold)}::numeric"
        raise Unsupported(operator)

    def population(self, indicator):
        terms = []
        if indicator.structure_kinds:
            terms.append(f"w.kind = ANY({self.bind(list(indicator.structure_kinds))}::text[])")
        if indicator.managements:
            terms.append(f"w.management = ANY({self.bind(list(indicator.managements))}::text[])")
        if indicator.priority_area:
            wanted = "TRUE" if indicator.priority_area == AreaFilter.IN_AREA else "FALSE"
            terms.append(f"(w.priority_area_status = {self.bind(PriorityAreaStatus.IN_AREA)}) IS {wanted}")
        if indicator.approval_kinds:
            terms.append(f"w.approvals && {self.bind(list(indicator.approval_kinds))}::text[]")
        return " AND ".join(terms) or "TRUE"

    def part(self, indicator):
        """(numerator, denominator) SQL of one structure's part; NULL when the structure does not count
        (out of the population, not answered). Medians: the number. Only a ratio has a denominator
        (None otherwise): a share or a mean divides by the number of structures counted. Counts and
        shares are integers, quicker to add up than numerics."""
        within, kind = self.population(indicator), indicator.kind
        if kind == IndicatorKind.COUNT:
            return f"CASE WHEN {within} THEN 1 END", None
        value, nature = self.source(indicator.source)
        if kind == IndicatorKind.SHARE:
            counted = within
            if indicator.operator != Operator.ANSWERED:
                counted = f"{within} AND {value} IS NOT NULL"
            meets = self.condition(indicator, value, nature)
            return f"CASE WHEN {counted} THEN CASE WHEN {meets} THEN 1 ELSE 0 END END", None
        if nature != "number":
            raise Unsupported(indicator.source)
        if kind == IndicatorKind.RATIO:
            denominator, denominator_nature = self.source(indicator.denominator)
            if denominator_nature != "number":
                raise Unsupported(indicator.denominator)
            return (
                f"CASE WHEN {within} AND {denominator} IS NOT NULL THEN {value} END",
                f"CASE WHEN {within} AND {value} IS NOT NULL THEN {denominator} END",
            )
        return f"CASE WHEN {within} THEN {value} END", None


def _tables():
    def table(model):
        return connection.ops.quote_name(model._meta.db_table)

    return {
        "answer": table(Answer),
        "question": table(Question),
        "submission": table(Submission),
        "campaign": table(Campaign),
        "structure": table(Structure),
        "approval": table(Approval),
        "commune": table(Commune),
        "department": table(Department),
        "value": table(IndicatorValue),
    }


# Medians and quartiles from the numbers `s` sorted (n of them), as statistics.median and
# statistics.quantiles(n=4, method="inclusive"): exact in numeric.
def _median(s, n):
    return f"CASE WHEN mod({n}, 2) = 1 THEN {s}[({n} + 1) / 2] ELSE ({s}[{n} / 2] + {s}[{n} / 2 + 1]) / 2 END"


def _quartile(i, s, n):
    position = f"({i} * ({n} - 1))"
    return (
        f"CASE WHEN {n} = 1 THEN {s}[1] ELSE ({s}[{position} / 4 + 1] * (4 - mod({position}, 4)) "
        f"+ {s}[{position} / 4 + 2] * mod({position}, 4)) / 4 END"
    )


NULL = "NULL::numeric"  # typed: the branches of a UNION agree on each column's type


def _figures(indicator, i, missing, bind, reasons):
    """SQL of the stored columns of `indicator` (value, numerator, denominator, first and third
    quartiles, structure count, reason) from its sums over a place `p` (see statement): written for
    its kind, so that no row tests a kind. `missing`: why the year cannot compute it, or ""."""
    if missing:
        return [NULL] * 5 + ["0", f"{bind(missing)}::text"]
    kind = indicator.kind
    n, num, den, numbers = f"p.c{i}", f"p.s{i}", f"p.t{i}", f"p.z{i}"
    none, no_answer, division_by_zero = (lambda reason=reason: f"{bind(reason)}::text" for reason in reasons)
    counted = f"NULLIF({n}, 0)::numeric"  # the denominator of a share or a mean: NULL when no structure

    def rounded(expression):
        return f"round({expression}, 6)"

    def divided(numerator, denominator, scale=1):
        # 30 decimals before rounding, as Decimal's 28 digits
        return rounded(f"({scale} * {numerator})::numeric(60, 30) / {denominator}")

    if kind == IndicatorKind.COUNT:
        return [counted, counted, counted, NULL, NULL, n, f"CASE WHEN {n} = 0 THEN {none()} ELSE '' END"]
    if kind != IndicatorKind.RATIO:
        reason = f"CASE WHEN {n} = 0 THEN {no_answer()} ELSE '' END"  # the last column: bound last
    if kind == IndicatorKind.SUM:
        return [rounded(num), rounded(num), NULL, NULL, NULL, n, reason]
    if kind == IndicatorKind.MEAN:
        return [divided(num, counted), rounded(num), counted, NULL, NULL, n, reason]
    if kind == IndicatorKind.MEDIAN:
        median, first, third = (
            rounded(e) for e in (_median(numbers, n), _quartile(1, numbers, n), _quartile(3, numbers, n))
        )
        return [median, NULL, NULL, first, third, n, reason]
    scale = 100 if kind == IndicatorKind.SHARE or indicator.unit == "%" else 1
    if kind == IndicatorKind.SHARE:
        return [divided(num, counted, scale), rounded(num), counted, NULL, NULL, n, reason]
    # A ratio: sums of numerators over sums of denominators.
    return [
        f"CASE WHEN {den} <> 0 THEN {divided(num, den, scale)} END",
        rounded(num),
        rounded(den),
        NULL,
        NULL,
        n,
        f"CASE WHEN {n} = 0 THEN {no_answer()} WHEN {den} = 0 THEN {division_by_zero()} ELSE '' END",
    ]


COLUMNS = (
    "indicator_id, year, level, territory, value, numerator, denominator, first_quartile, third_quartile, "
    "structure_count, reason"
)


def statement(year, indicators, missing, questions, now, reasons, compare=True):
    """(SQL, params) computing and writing `indicators` for `year` in one pass, every territory (see
    compute.compute). `missing`: {indicator id: reason}; `questions`: {question code: (kind, question
    ids)} in that year's questionnaire. `compare`: values of these indicators and year may be stored
    already, and only those that differ are rewritten; else every value is inserted as computed."""
    kinds = {code: kind for code, (kind, _) in questions.items()}
    question_ids = {code: ids for code, (_, ids) in questions.items()}
    # In the order of the values' primary key (indicator, year, level, territory): the rows are
    # produced in that order, so that each lands beside the one before.
    indicators = sorted(indicators, key=lambda indicator: indicator.pk)
    query = _Query(kinds)
    parts = {}  # {indicator index: (numerator SQL, denominator SQL or None)}
    for i, indicator in enumerate(indicators):
        if indicator.pk not in missing:  # else no column: every observed territory gets its row, saying why
            parts[i] = query.part(indicator)
    part_params = query.params
    query.params = []

    pivot = []
    for code, column in query.columns.items():
        nature = _nature(kinds[code])
        ids = query.bind(list(question_ids[code]))
        if nature in ("number", "boolean"):
            pivot.append(f"max(a.number) FILTER (WHERE a.question_id = ANY({ids}::int[])) AS {column}")
        elif nature == "codes":
            pivot.append(
                f"(array_agg(NULLIF(a.codes, '[]'::jsonb)) FILTER (WHERE a.question_id = ANY({ids}::int[])))[1]"
                f" AS {column}"
            )
        else:
            pivot.append(f"max(NULLIF(a.text, '')) FILTER (WHERE a.question_id = ANY({ids}::int[])) AS {column}")
    pivot_params = query.params
    t = _tables()
    params = [year, SubmissionStatus.VALIDATED]
    answers = ""
    if pivot:
        # Each questionnaire's answers to the questions read, by the (submission, question) index:
        # a join over the whole answer table would read every year's answers.
        answers = f""", answers AS (
          SELECT f.submission_id, x.*
          FROM facts f CROSS JOIN LATERAL (
            SELECT {", ".join(pivot)}
            FROM {t["answer"]} a
            WHERE a.submission_id = f.submission_id AND a.question_id = ANY(%s::int[])
          ) x
        )"""
        params += pivot_params + [sorted(i for code in query.columns for i in question_ids[code])]
    wide = "(SELECT * FROM facts JOIN answers USING (submission_id)) w" if pivot else "facts w"
    params += part_params

    # One row per questionnaire with each indicator's part (NULL when the structure does not count),
    # one hashed aggregate of them all over the five levels: the count of parts, their sum but for a
    # count (the count itself), the sum of the denominators of a ratio. The medians' numbers are
    # gathered unsorted and sorted afterwards (an ordered aggregate costs a sort per grouping set),
    # once for each territory: the median and quartiles read them 9 times.
    columns, sums, numbers = [], [], []
    for i, (numerator, denominator) in parts.items():
        columns.append(f"{numerator} AS n{i}")
        sums.append(f"count(n{i})::int AS c{i}")
        kind = indicators[i].kind
        if kind == IndicatorKind.MEDIAN:
            sums.append(f"array_agg(n{i}) FILTER (WHERE n{i} IS NOT NULL) AS a{i}")
            numbers.append(
                f"CASE WHEN g.a{i} IS NOT NULL THEN ARRAY(SELECT x FROM unnest(g.a{i}) x ORDER BY x) END AS z{i}"
            )
        elif kind != IndicatorKind.COUNT:
            sums.append(f"sum(n{i}) AS s{i}")
        if denominator is not None:
            columns.append(f"{denominator} AS d{i}")
            sums.append(f"sum(d{i}) AS t{i}")
    levels = " ".join(f"WHEN {bits} THEN '{level}'" for bits, level in GROUPINGS.items())
    grouping = "GROUPING(region, department, epci, commune)"

    # Then a row per indicator and place: one branch per indicator over the places sorted, its figures
    # written for its kind (no row tests a kind); in all, the order of the primary key.
    branches = []
    query.params = []
    for i, indicator in enumerate(indicators):
        figures = _figures(indicator, i, missing.get(indicator.pk, ""), query.bind, reasons)
        branches.append(
            f"SELECT {int(indicator.pk)}, {int(year)}, p.level, p.territory, {', '.join(figures)} FROM places p"
        )
    figure_params = query.params
    computed = " UNION ALL ".join(branches)
    sql = f"""
    WITH facts AS (
      SELECT s.id AS submission_id, c.year, st.kind, st.management, st.priority_area_status,
             {", ".join(f"{expression} AS r_{name}" for name, (expression, _) in REGISTRY.items())},
             co.code AS commune, NULLIF(co.epci_id, '') AS epci, co.department_id AS department,
             d.region_id AS region,
             ARRAY(SELECT ap.kind FROM {t["approval"]} ap
                   WHERE ap.structure_id = st.id AND ap.starts <= make_date(c.year, 12, 31)
                     AND ap.ends >= make_date(c.year, 1, 1))::text[] AS approvals
      FROM {t["submission"]} s
      JOIN {t["campaign"]} c ON c.id = s.campaign_id AND c.year = %s
      JOIN {t["structure"]} st ON st.id = s.structure_id
      JOIN {t["commune"]} co ON co.code = st.commune_id
      JOIN {t["department"]} d ON d.code = co.department_id
      WHERE s.status = %s
    ){answers},
    parts AS (
      SELECT w.year, w.region, w.department, w.epci, w.commune{"".join(", " + c for c in columns)} FROM {wide}
    ),
    grouped AS (
      SELECT CASE {grouping} {levels} END AS level, COALESCE(commune, epci, department, region, '') AS territory
             {"".join(", " + s for s in sums)}
      FROM parts
      GROUP BY GROUPING SETS ((year), (year, region), (year, department), (year, epci), (year, commune))
      HAVING {grouping} <> 13 OR epci IS NOT NULL  -- communes without EPCI (islands)
    ),
    places AS MATERIALIZED (
      SELECT g.*{"".join(", " + n for n in numbers)} FROM grouped g ORDER BY level, territory
    ),
    computed ({COLUMNS}) AS ({computed})"""
    params += figure_params
    if not compare:
        sql += f"""
    INSERT INTO {t["value"]} ({COLUMNS}, computed_at) SELECT *, %s FROM computed"""
        return sql, params + [now]
    sql += f""",
    stored AS (
      SELECT * FROM {t["value"]} WHERE indicator_id = ANY(%s) AND year = %s
    ),
    compared AS MATERIALIZED (  -- what differs from the stored values: the rest is not rewritten
      SELECT c.*, v.indicator_id AS stored_indicator, v.level AS stored_level, v.territory AS stored_territory
      FROM computed c
      FULL JOIN stored v ON v.indicator_id = c.indicator_id AND v.level = c.level AND v.territory = c.territory
      WHERE c.indicator_id IS NULL OR v.indicator_id IS NULL
         OR (v.value, v.numerator, v.denominator, v.first_quartile, v.third_quartile, v.structure_count, v.reason)
            IS DISTINCT FROM (c.value, c.numerator, c.denominator, c.first_quartile, c.third_quartile,
                              c.structure_count, c.reason)
    ),
    gone AS (
      DELETE FROM {t["value"]} v USING compared c
      WHERE c.indicator_id IS NULL AND v.indicator_id = c.stored_indicator AND v.year = %s
        AND v.level = c.stored_level AND v.territory = c.stored_territory
      RETURNING 1
    ),
    inserted AS (  -- plain inserts: writers hold the values' lock (lock()), no other can add these rows
      INSERT INTO {t["value"]} ({COLUMNS}, computed_at)
      SELECT {COLUMNS}, %s FROM compared WHERE indicator_id IS NOT NULL AND stored_indicator IS NULL
      ORDER BY indicator_id, level, territory  -- in the key's order: fewer pages touched
      RETURNING 1
    ),
    updated AS (  -- by the primary key, whatever the statistics say
      INSERT INTO {t["value"]} AS v ({COLUMNS}, computed_at)
      SELECT {COLUMNS}, %s FROM compared WHERE indicator_id IS NOT NULL AND stored_indicator IS NOT NULL
      ON CONFLICT (indicator_id, year, level, territory) DO UPDATE SET
        value = EXCLUDED.value, numerator = EXCLUDED.numerator, denominator = EXCLUDED.denominator,
        first_quartile = EXCLUDED.first_quartile, third_quartile = EXCLUDED.third_quartile,
        structure_count = EXCLUDED.structure_count, reason = EXCLUDED.reason, computed_at = EXCLUDED.computed_at
      RETURNING 1
    )
    SELECT (SELECT count(*) FROM computed)::int,
           ((SELECT count(*) FROM inserted) + (SELECT count(*) FROM updated))::int,
           (SELECT count(*) FROM gone)::int
    """
    return sql, params + [[i.pk for i in indicators], year, year, now, now]


def lock(cursor, shared=False):
    """Until the transaction ends, the only writer of indicator values (a refresh and a rebuild would
    otherwise add the same row: the unique constraint would fail one of them). `shared`: the workers
    of one parallel rebuild, each writing its own year (compute.rebuild keeps other rebuilds out)."""
    if shared:
        cursor.execute("SELECT pg_advisory_xact_lock_shared(hashtext('cadre.indicator_values'))")
    else:
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext('cadre.indicator_values'))")


def questions_of(years):
    """{question code: (kind, question ids)} in the questionnaires of `years`; Unsupported when a code
    changes kind."""
    questions = {}
    rows = (
        Question.objects.filter(questionnaire__campaigns__year__in=years).values_list("code", "kind", "pk").distinct()
    )
    for code, kind, pk in rows:
        found, ids = questions.setdefault(code, (kind, []))
        if found != kind:
            raise Unsupported(code)
        ids.append(pk)
    return questions


def compute(year, indicators, missing, now, reasons, shared_lock=False):
    """(values computed, rows written, rows deleted) for `year`. Raises Unsupported before touching
    anything."""
    if not indicators:
        return 0, 0, 0
    questions = questions_of([year])
    fresh = statement(year, indicators, missing, questions, now, reasons, compare=False)
    kept = statement(year, indicators, missing, questions, now, reasons)
    table = connection.ops.quote_name(IndicatorValue._meta.db_table)
    with transaction.atomic(), connection.cursor() as cursor:
        lock(cursor, shared=shared_lock)
        # The planner's estimates for the pivot are far off: JIT would spend seconds compiling a
        # plan that runs in less; the grouping sets want more than the default memory.
        cursor.execute("SET LOCAL jit = off")
        cursor.execute("SET LOCAL work_mem = '64MB'")
        # A year never computed (a rebuild from empty, a new indicator) has nothing to compare with.
        cursor.execute(
            f"SELECT EXISTS (SELECT 1 FROM {table} WHERE indicator_id = ANY(%s) AND year = %s)",
            [[i.pk for i in indicators], year],
        )
        if not cursor.fetchone()[0]:
            cursor.execute(*fresh)
            return cursor.rowcount, cursor.rowcount, 0
        cursor.execute(*kept)
        return tuple(cursor.fetchone())
