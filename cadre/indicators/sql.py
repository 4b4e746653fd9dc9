"""The PostgreSQL engine of `compute`: one statement per year computes every indicator for every
territory (GROUP BY GROUPING SETS over the five levels) and writes only the values that changed.

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
        """(numerator, denominator) SQL of one structure's part; both NULL when the structure does not
        count (out of the population, not answered). Medians: the number. The denominator of a kind
        other than a ratio is the number of structures counted: NULL here, nothing to add up."""
        within, kind = self.population(indicator), indicator.kind
        if kind == IndicatorKind.COUNT:
            return f"CASE WHEN {within} THEN 1::numeric END", "NULL::numeric"
        value, nature = self.source(indicator.source)
        if kind == IndicatorKind.SHARE:
            counted = within
            if indicator.operator != Operator.ANSWERED:
                counted = f"{within} AND {value} IS NOT NULL"
            meets = self.condition(indicator, value, nature)
            return (
                f"CASE WHEN {counted} THEN CASE WHEN {meets} THEN 1::numeric ELSE 0::numeric END END",
                "NULL::numeric",
            )
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
        return f"CASE WHEN {within} THEN {value} END", "NULL::numeric"


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


# Medians and quartiles from the sorted numbers `s` (n of them), as statistics.median and
# statistics.quantiles(n=4, method="inclusive"): exact in numeric.
MEDIAN = "CASE WHEN mod(n, 2) = 1 THEN s[(n + 1) / 2] ELSE (s[n / 2] + s[n / 2 + 1]) / 2 END"


def _quartile(i):
    position = f"({i} * (n - 1))"
    return (
        f"CASE WHEN n = 1 THEN s[1] ELSE (s[{position} / 4 + 1] * (4 - mod({position}, 4)) "
        f"+ s[{position} / 4 + 2] * mod({position}, 4)) / 4 END"
    )


def statement(years, indicators, missing, questions, now, reasons):
    """(SQL, params) computing and writing `indicators` for `years` in one pass, every territory
    (see compute.compute). `missing`: {(indicator id, year): reason}; `questions`: {question code:
    (kind, question ids)} in those years' questionnaires."""
    kinds = {code: kind for code, (kind, _) in questions.items()}
    question_ids = {code: ids for code, (_, ids) in questions.items()}
    query = _Query(kinds)
    parts = []  # [(numerator SQL, denominator SQL)] by indicator index
    for indicator in indicators:
        if all((indicator.pk, year) in missing for year in years):
            # Still a column: every observed territory gets its row, saying why.
            parts.append(("NULL::numeric", "NULL::numeric"))
            continue
        parts.append(query.part(indicator))
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
    params = [list(years), SubmissionStatus.VALIDATED]
    answers = ""
    if pivot:
        # Each questionnaire's answers to the questions read, by the (submission, question) index:
        # a join over the whole answer table would read every year's answers for each year.
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

    # Each indicator's constants: its kind, the scale of a share or a ratio in %. Indexes, not ids,
    # tie the parts to them. Then the (indicator, year) whose question that year's questionnaire lacks.
    constants, constant_params = [], []
    for index, indicator in enumerate(indicators):
        scale = 100 if indicator.kind == IndicatorKind.SHARE or indicator.unit == "%" else 1
        constants.append(f"({index}, %s, %s, {scale}::numeric)")
        constant_params += [indicator.pk, indicator.kind]
    index_of = {indicator.pk: index for index, indicator in enumerate(indicators)}
    absent = [(index_of[pk], year, reason) for (pk, year), reason in missing.items() if pk in index_of]
    absent_sql = ", ".join(["(%s, %s, %s)"] * len(absent)) or "(NULL::int, NULL::int, NULL::text)"
    constant_params += [item for row in absent for item in row]

    medians = {index for index, i in enumerate(indicators) if i.kind == IndicatorKind.MEDIAN}
    sets = "GROUPING SETS ((year), (year, region), (year, department), (year, epci), (year, commune))"

    # One row per questionnaire with each indicator's part in two columns (NULL when the structure
    # does not count), one hashed aggregate of them all over the five levels, then a row per
    # indicator and territory: the parts are never multiplied by the number of indicators. The
    # medians' numbers are gathered unsorted and sorted afterwards (an ordered aggregate costs a
    # sort per grouping set), once for each territory: the median and quartiles read them 9 times.
    def sorted_numbers(i):
        return f"CASE WHEN g.a{i} IS NOT NULL THEN ARRAY(SELECT x FROM unnest(g.a{i}) x ORDER BY x) END"

    columns = ", ".join(f"{num} AS n{i}, {den} AS d{i}" for i, (num, den) in enumerate(parts)) or "NULL AS n"
    sums = []
    for i in range(len(parts)):
        sums.append(f"count(n{i})::int AS c{i}, sum(n{i}) AS s{i}, sum(d{i}) AS t{i}")
        if i in medians:
            sums.append(f"array_agg(n{i}) FILTER (WHERE n{i} IS NOT NULL) AS a{i}")
    rows = (
        ", ".join(
            f"({i}, g.c{i}, g.s{i}, g.t{i}, {sorted_numbers(i) if i in medians else 'NULL::numeric[]'})"
            for i in range(len(parts))
        )
        or "(NULL::int, 0, NULL::numeric, NULL::numeric, NULL::numeric[])"
    )
    aggregate = f"""
    parts AS (
      SELECT w.year, w.region, w.department, w.epci, w.commune, {columns} FROM {wide}
    ),
    grouped AS (
      SELECT year, GROUPING(region, department, epci, commune) AS g,
             COALESCE(commune, epci, department, region, '') AS territory{"".join(", " + s for s in sums)}
      FROM parts GROUP BY {sets}
    ),
    sums AS (
      SELECT p.i, g.year, g.g, g.territory, p.n, p.num, p.den, p.s
      FROM grouped g CROSS JOIN LATERAL (VALUES {rows}) AS p(i, n, num, den, s)
    ),"""
    kind = IndicatorKind
    round6 = "round({}, 6)"
    divide = "(scale * num)::numeric(60, 30) / den"  # 30 decimals before rounding, as Decimal's 28 digits
    levels = " ".join(f"WHEN {bits} THEN '{level}'" for bits, level in GROUPINGS.items())
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
      JOIN {t["campaign"]} c ON c.id = s.campaign_id AND c.year = ANY(%s)
      JOIN {t["structure"]} st ON st.id = s.structure_id
      JOIN {t["commune"]} co ON co.code = st.commune_id
      JOIN {t["department"]} d ON d.code = co.department_id
      WHERE s.status = %s
    ){answers},
    constants (i, indicator_id, kind, scale) AS (VALUES {", ".join(constants)}),
    absent (i, year, reason) AS (VALUES {absent_sql}),{aggregate}
    joined AS (
      SELECT c.indicator_id, a.year, CASE a.g {levels} END AS level, a.territory, c.kind,
             COALESCE(m.reason, '') AS missing, c.scale, a.n, a.num,
             CASE WHEN c.kind = '{IndicatorKind.RATIO}' THEN a.den WHEN a.n > 0 THEN a.n::numeric END AS den,
             a.s
      FROM sums a
      JOIN constants c ON c.i = a.i
      LEFT JOIN absent m ON m.i = a.i AND m.year = a.year
      WHERE a.i IS NOT NULL AND NOT (a.g = 13 AND a.territory = '')
    ),
    computed AS (
      SELECT indicator_id, year, level, territory,
        CASE WHEN missing <> '' OR n = 0 THEN NULL
             WHEN kind = '{kind.COUNT}' THEN n::numeric
             WHEN kind = '{kind.SUM}' THEN {round6.format("num")}
             WHEN kind = '{kind.MEAN}' THEN {round6.format("num::numeric(60, 30) / n")}
             WHEN kind = '{kind.MEDIAN}' THEN {round6.format(MEDIAN)}
             WHEN den = 0 THEN NULL
             ELSE {round6.format(divide)} END AS value,
        CASE WHEN missing = '' AND kind <> '{kind.MEDIAN}' THEN {round6.format("num")} END AS numerator,
        CASE WHEN missing = '' AND kind NOT IN ('{kind.MEDIAN}', '{kind.SUM}') THEN {round6.format("den")} END
          AS denominator,
        CASE WHEN missing = '' AND kind = '{kind.MEDIAN}' THEN {round6.format(_quartile(1))} END AS first_quartile,
        CASE WHEN missing = '' AND kind = '{kind.MEDIAN}' THEN {round6.format(_quartile(3))} END AS third_quartile,
        CASE WHEN missing <> '' THEN 0 ELSE n END AS structure_count,
        CASE WHEN missing <> '' THEN missing
             WHEN n = 0 AND kind = '{kind.COUNT}' THEN %s
             WHEN n = 0 THEN %s
             WHEN kind IN ('{kind.SHARE}', '{kind.RATIO}') AND den = 0 THEN %s
             ELSE '' END AS reason
      FROM joined
    ),
    stored AS (
      SELECT * FROM {t["value"]} WHERE indicator_id = ANY(%s) AND year = ANY(%s)
    ),
    compared AS MATERIALIZED (  -- what differs from the stored values: the rest is not rewritten
      SELECT c.*, v.id AS stored_id
      FROM computed c
      FULL JOIN stored v ON v.indicator_id = c.indicator_id AND v.year = c.year AND v.level = c.level
                          AND v.territory = c.territory
      WHERE c.indicator_id IS NULL OR v.id IS NULL
         OR (v.value, v.numerator, v.denominator, v.first_quartile, v.third_quartile, v.structure_count, v.reason)
            IS DISTINCT FROM (c.value, c.numerator, c.denominator, c.first_quartile, c.third_quartile,
                              c.structure_count, c.reason)
    ),
    gone AS (
      -- By the primary key, whatever the table's statistics say (a rebuild fills it from empty).
      DELETE FROM {t["value"]} v
      WHERE v.id = ANY(ARRAY(SELECT stored_id FROM compared WHERE indicator_id IS NULL))
      RETURNING v.year
    ),
    inserted AS (  -- plain inserts: writers hold the values' lock (lock()), no other can add these rows
      INSERT INTO {t["value"]} (indicator_id, year, level, territory, value, numerator, denominator,
                                first_quartile, third_quartile, structure_count, reason, computed_at)
      SELECT indicator_id, year, level, territory, value, numerator, denominator, first_quartile, third_quartile,
             structure_count, reason, %s FROM compared WHERE indicator_id IS NOT NULL AND stored_id IS NULL
      ORDER BY indicator_id, year, level, territory  -- in index order: fewer pages touched
      RETURNING year
    ),
    updated AS (  -- by the unique index, whatever the statistics say
      INSERT INTO {t["value"]} AS v (indicator_id, year, level, territory, value, numerator, denominator,
                                     first_quartile, third_quartile, structure_count, reason, computed_at)
      SELECT indicator_id, year, level, territory, value, numerator, denominator, first_quartile, third_quartile,
             structure_count, reason, %s FROM compared WHERE indicator_id IS NOT NULL AND stored_id IS NOT NULL
      ON CONFLICT (indicator_id, year, level, territory) DO UPDATE SET
        value = EXCLUDED.value, numerator = EXCLUDED.numerator, denominator = EXCLUDED.denominator,
        first_quartile = EXCLUDED.first_quartile, third_quartile = EXCLUDED.third_quartile,
        structure_count = EXCLUDED.structure_count, reason = EXCLUDED.reason, computed_at = EXCLUDED.computed_at
      RETURNING v.year
    ),
    written AS (SELECT year FROM inserted UNION ALL SELECT year FROM updated),
    counts AS (
      SELECT year, count(*) AS computed, 0 AS written, 0 AS deleted FROM computed GROUP BY year
      UNION ALL SELECT year, 0, count(*), 0 FROM written GROUP BY year
      UNION ALL SELECT year, 0, 0, count(*) FROM gone GROUP BY year
    )
    SELECT year, sum(computed)::int, sum(written)::int, sum(deleted)::int FROM counts GROUP BY year
    """
    params += constant_params + part_params
    params += [*reasons, [i.pk for i in indicators], list(years), now, now]
    return sql, params


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


def compute(years, indicators, missing, now, reasons, shared_lock=False):
    """{year: (values computed, rows written, rows deleted)}. Raises Unsupported before touching anything."""
    sql, params = statement(years, indicators, missing, questions_of(years), now, reasons)
    with transaction.atomic(), connection.cursor() as cursor:
        lock(cursor, shared=shared_lock)
        # The planner's estimates for the pivot are far off: JIT would spend seconds compiling a
        # plan that runs in less; the sorts of the grouping sets want more than the default memory.
        cursor.execute("SET LOCAL jit = off")
        cursor.execute("SET LOCAL work_mem = '64MB'")
        cursor.execute(sql, params)
        found = {year: (computed, written, deleted) for year, computed, written, deleted in cursor.fetchall()}
    return {year: found.get(year, (0, 0, 0)) for year in years}
