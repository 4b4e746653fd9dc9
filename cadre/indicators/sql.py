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
        """(numerator, denominator) SQL of one structure's part; the numerator is NULL when the
        structure does not count (out of the population, not answered). Medians: the number."""
        within, kind = self.population(indicator), indicator.kind
        if kind == IndicatorKind.COUNT:
            return f"CASE WHEN {within} THEN 1::numeric END", "1::numeric"
        value, nature = self.source(indicator.source)
        if kind == IndicatorKind.SHARE:
            counted = within
            if indicator.operator != Operator.ANSWERED:
                counted = f"{within} AND {value} IS NOT NULL"
            meets = self.condition(indicator, value, nature)
            return f"CASE WHEN {counted} THEN CASE WHEN {meets} THEN 1::numeric ELSE 0::numeric END END", "1::numeric"
        if nature != "number":
            raise Unsupported(indicator.source)
        if kind == IndicatorKind.RATIO:
            denominator, denominator_nature = self.source(indicator.denominator)
            if denominator_nature != "number":
                raise Unsupported(indicator.denominator)
            return f"CASE WHEN {within} AND {denominator} IS NOT NULL THEN {value} END", denominator
        return f"CASE WHEN {within} THEN {value} END", "1::numeric"


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


def statement(years, indicators, missing, kinds, now, reasons):
    """(SQL, params) computing and writing `indicators` for `years` in one pass, every territory
    (see compute.compute). `missing`: {(indicator id, year): reason}; `kinds`: {question code: kind}
    in those years' questionnaires."""
    query = _Query(kinds)
    parts = []
    for index, indicator in enumerate(indicators):
        if all((indicator.pk, year) in missing for year in years):
            continue
        numerator, denominator = query.part(indicator)
        parts.append(f"({index}, {numerator}, {denominator})")
    part_params = query.params
    query.params = []

    pivot = []
    for code, column in query.columns.items():
        nature = _nature(kinds[code])
        code_param = query.bind(code)
        if nature in ("number", "boolean"):
            pivot.append(f"max(a.number) FILTER (WHERE q.code = {code_param}) AS {column}")
        elif nature == "codes":
            pivot.append(
                f"(array_agg(NULLIF(a.codes, '[]'::jsonb)) FILTER (WHERE q.code = {code_param}))[1] AS {column}"
            )
        else:
            pivot.append(f"max(NULLIF(a.text, '')) FILTER (WHERE q.code = {code_param}) AS {column}")
    pivot_params = query.params
    t = _tables()
    params = [list(years), SubmissionStatus.VALIDATED]
    answers = ""
    if pivot:
        # One pass over the answers to the questions read, as a hand-written query would.
        answers = f""", answers AS (
          SELECT a.submission_id, {", ".join(pivot)}
          FROM {t["question"]} q
          JOIN {t["answer"]} a ON a.question_id = q.id
          JOIN facts f ON f.submission_id = a.submission_id
          WHERE q.code = ANY(%s)
          GROUP BY a.submission_id
        )"""
        params += pivot_params + [list(query.columns)]
    wide = "(SELECT * FROM facts LEFT JOIN answers USING (submission_id)) w" if pivot else "facts w"

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

    medians = [index for index, i in enumerate(indicators) if i.kind == IndicatorKind.MEDIAN]
    grouping = "GROUPING(region, department, epci, commune) AS g, COALESCE(commune, epci, department, region, '')"
    sets = "GROUPING SETS ((year), (year, region), (year, department), (year, epci), (year, commune))"
    # Parts are computed once; sums for all, sorted numbers only for medians (an ordered aggregate
    # costs a sort per territory).
    aggregate = f"""
    parts AS MATERIALIZED (
      SELECT w.year, w.region, w.department, w.epci, w.commune, p.i, p.num, p.den
      FROM {wide} CROSS JOIN LATERAL (VALUES {", ".join(parts) or "(NULL::int, NULL::numeric, NULL::numeric)"})
        AS p(i, num, den)
      WHERE p.num IS NOT NULL
    ),
    sums AS (
      SELECT i, year, {grouping} AS territory, count(*)::int AS n, sum(num) AS num, sum(den) AS den
      FROM parts GROUP BY i, {sets}
    ),
    sorted AS (
      SELECT i, year, {grouping} AS territory, array_agg(num ORDER BY num) AS s
      FROM parts WHERE i = ANY(%s) GROUP BY i, {sets}
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
    places AS (
      SELECT year, {grouping} AS territory
      FROM facts GROUP BY {sets}
    ),
    constants (i, indicator_id, kind, scale) AS (VALUES {", ".join(constants)}),
    absent (i, year, reason) AS (VALUES {absent_sql}),{aggregate}
    joined AS (
      SELECT c.indicator_id, pl.year, pl.level, pl.territory, c.kind, COALESCE(m.reason, '') AS missing, c.scale,
             a.n, a.num, a.den, o.s
      FROM (SELECT year, CASE g {levels} END AS level, g, territory
            FROM places WHERE NOT (g = 13 AND territory = '')) pl
      CROSS JOIN constants c
      LEFT JOIN absent m ON m.i = c.i AND m.year = pl.year
      LEFT JOIN sums a ON a.i = c.i AND a.year = pl.year AND a.g = pl.g AND a.territory = pl.territory
      LEFT JOIN sorted o ON o.i = c.i AND o.year = pl.year AND o.g = pl.g AND o.territory = pl.territory
    ),
    computed AS (
      SELECT indicator_id, year, level, territory,
        CASE WHEN missing <> '' OR n IS NULL THEN NULL
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
        CASE WHEN missing <> '' THEN 0 ELSE COALESCE(n, 0) END AS structure_count,
        CASE WHEN missing <> '' THEN missing
             WHEN n IS NULL AND kind = '{kind.COUNT}' THEN %s
             WHEN n IS NULL THEN %s
             WHEN kind IN ('{kind.SHARE}', '{kind.RATIO}') AND den = 0 THEN %s
             ELSE '' END AS reason
      FROM joined
    ),
    gone AS (
      DELETE FROM {t["value"]} v
      WHERE v.indicator_id = ANY(%s) AND v.year = ANY(%s)
        AND NOT EXISTS (SELECT 1 FROM computed n WHERE n.indicator_id = v.indicator_id AND n.year = v.year
                        AND n.level = v.level AND n.territory = v.territory)
      RETURNING v.year
    ),
    changed AS (  -- what differs from the stored values: the rest is not rewritten
      SELECT c.* FROM computed c
      LEFT JOIN {t["value"]} v ON v.indicator_id = c.indicator_id AND v.year = c.year AND v.level = c.level
                                AND v.territory = c.territory
      WHERE v.id IS NULL
         OR (v.value, v.numerator, v.denominator, v.first_quartile, v.third_quartile, v.structure_count, v.reason)
            IS DISTINCT FROM (c.value, c.numerator, c.denominator, c.first_quartile, c.third_quartile,
                              c.structure_count, c.reason)
    ),
    written AS (
      INSERT INTO {t["value"]} AS v (indicator_id, year, level, territory, value, numerator, denominator,
                                     first_quartile, third_quartile, structure_count, reason, computed_at)
      SELECT indicator_id, year, level, territory, value, numerator, denominator, first_quartile, third_quartile,
             structure_count, reason, %s FROM changed
      ORDER BY indicator_id, year, level, territory  -- in index order: fewer pages touched
      ON CONFLICT (indicator_id, year, level, territory) DO UPDATE SET
        value = EXCLUDED.value, numerator = EXCLUDED.numerator, denominator = EXCLUDED.denominator,
        first_quartile = EXCLUDED.first_quartile, third_quartile = EXCLUDED.third_quartile,
        structure_count = EXCLUDED.structure_count, reason = EXCLUDED.reason, computed_at = EXCLUDED.computed_at
      RETURNING v.year
    ),
    counts AS (
      SELECT year, count(*) AS computed, 0 AS written, 0 AS deleted FROM computed GROUP BY year
      UNION ALL SELECT year, 0, count(*), 0 FROM written GROUP BY year
      UNION ALL SELECT year, 0, 0, count(*) FROM gone GROUP BY year
    )
    SELECT year, sum(computed)::int, sum(written)::int, sum(deleted)::int FROM counts GROUP BY year
    """
    params += constant_params + part_params + [medians]
    params += [*reasons, [i.pk for i in indicators], list(years), now]
    return sql, params


def kinds_of(years):
    """{question code: kind} in the questionnaires of `years`; Unsupported when a code changes kind."""
    kinds = {}
    rows = Question.objects.filter(questionnaire__campaigns__year__in=years).values_list("code", "kind").distinct()
    for code, kind in rows:
        if kinds.setdefault(code, kind) != kind:
            raise Unsupported(code)
    return kinds


def compute(years, indicators, missing, now, reasons):
    """{year: (values computed, rows written, rows deleted)}. Raises Unsupported before touching anything."""
    sql, params = statement(years, indicators, missing, kinds_of(years), now, reasons)
    with transaction.atomic(), connection.cursor() as cursor:
        # The planner's estimates for the pivot are far off: JIT would spend seconds compiling a
        # plan that runs in less; the sorts of the grouping sets want more than the default memory.
        cursor.execute("SET LOCAL jit = off")
        cursor.execute("SET LOCAL work_mem = '64MB'")
        cursor.execute(sql, params)
        found = {year: (computed, written, deleted) for year, computed, written, deleted in cursor.fetchall()}
    return {year: found.get(year, (0, 0, 0)) for year in years}
