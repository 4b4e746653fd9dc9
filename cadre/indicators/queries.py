"""Reading indicator values for pages, reports, open data and the API: one place for the
territory names, the display of a figure, and the statistical-secrecy rule of public output."""

import collections
import dataclasses
import hashlib

from django.conf import settings
from django.core.cache import cache
from django.db.models import Max

from cadre.core.charts import format_number
from cadre.indicators.compute import ADDITIVE, department_spreads, own_figures
from cadre.indicators.models import Indicator, IndicatorKind, IndicatorValue, Level
from cadre.territories import reference
from cadre.territories.models import Commune, Department, Epci, Region

NOT_COMPUTABLE = "non calculable"


def min_structures():
    """Public output shows no value resting on fewer structures than this (statistical secrecy)."""
    return settings.CADRE_OPEN_DATA_MIN_STRUCTURES


def count_indicator():
    """The current count of all observed structures (no filter), for maps and drill-down counts."""
    counts = Indicator.objects.current().filter(kind=IndicatorKind.COUNT, structure_kinds=[], managements=[])
    return counts.filter(code="structures_observees").first() or counts.order_by("pk").first()


def values_stamp(years):
    """When the values of `years` or the definitions last changed: a refresh always rewrites the national
    values, and the SQL engine marks them when anything changed (see `_stamps`); a new version adds a
    definition."""
    latest = max(_stamps(years).values(), default=0)
    definitions = Indicator.objects.aggregate(created=Max("created_at"), replaced=Max("replaced_at"))
    changes = (definitions["created"], definitions["replaced"])
    return "-".join([str(latest), *(str(v.timestamp()) if v else "0" for v in changes)])


def until_values_change(name, stamp, key_parts, build):
    """`build()`, or what it gave for the same `key_parts` while the values and definitions stay as
    `stamp` (`values_stamp` of the years it reads) says. The results kept this way are the same for
    every visitor who may see them: the key names what else they depend on."""
    digest = hashlib.sha256(repr((tuple(key_parts), stamp)).encode()).hexdigest()
    key = f"cadre:indicator-values:{name}:{digest}"
    result = cache.get(key)
    if result is None:
        result = build()
        cache.set(key, result, 24 * 3600)  # a refresh always makes a new stamp: the day is a bound on memory
    return result


def territory_name(level, code):
    if level == Level.NATIONAL:
        return "France"
    # Régions, départements and EPCI: names read once per process (reference data).
    if level == Level.REGION:
        return reference.region_names().get(code, code)
    if level == Level.DEPARTMENT:
        return reference.department_names().get(code, code)
    if level == Level.EPCI:
        return reference.epci_name(code) or code
    return Commune.objects.filter(code=code).values_list("name", flat=True).first() or code


def parents(level, code):
    """[(level, code)] of the territories above (level, code), the nearest first, France last."""
    if level == Level.NATIONAL:
        return []
    chain = []
    if level == Level.COMMUNE:
        commune = Commune.objects.select_related("department").get(code=code)
        if commune.epci_id:
            chain.append((Level.EPCI, commune.epci_id))
        chain += [(Level.DEPARTMENT, commune.department_id), (Level.REGION, commune.department.region_id)]
    elif level == Level.EPCI:
        department = Commune.objects.filter(epci_id=code).values_list("department_id", "department__region_id").first()
        if department:
            chain += [(Level.DEPARTMENT, department[0]), (Level.REGION, department[1])]
    elif level == Level.DEPARTMENT:
        chain.append((Level.REGION, reference.department_region(code)))
    return [*chain, (Level.NATIONAL, "")]


def display(indicator, value, *, public=False, masked=None):
    """The figure as shown: French number with its unit, or why there is none. `masked`: see `secrecy`."""
    if value is None:
        return "pas de donnée"
    if public:
        secret = secrecy(value, masked)
        if secret == PRIMARY:
            return f"secret statistique (moins de {min_structures()} structures)"
        if secret == SECONDARY:
            return "secret statistique"
    if value.value is None:
        return NOT_COMPUTABLE
    return format_number(value.value, indicator.decimals, indicator.unit)


def shown(value, *, public=False, masked=None):
    """The number itself, or None when it may not be shown (public and secret) or has none."""
    if value is None or value.value is None:
        return None
    if public and secrecy(value, masked):
        return None
    return value.value


def values_at(indicators, year, places):
    """{(indicator id, level, code): IndicatorValue} for `indicators` × `places` in `year`."""
    found = {}
    by_level = {}
    for level, code in places:
        by_level.setdefault(level, set()).add(code)
    for level, codes in by_level.items():
        for value in IndicatorValue.objects.filter(
            indicator__in=indicators, year=year, level=level, territory__in=codes
        ):
            found[(value.indicator_id, value.level, value.territory)] = value
    return found


@dataclasses.dataclass
class Row:
    """One indicator on the dashboard: its value here, last year, and above."""

    indicator: Indicator
    value: IndicatorValue | None
    previous: IndicatorValue | None
    comparisons: list  # [(territory name, IndicatorValue | None)]

    def text(self, value, public=False):
        return display(self.indicator, value, public=public)


def dashboard_rows(indicators, year, level, code):
    """The dashboard of a territory: each indicator with its value, last year's and its parents'."""
    above = parents(level, code)
    comparisons = [place for place in above if place[0] in (Level.REGION, Level.NATIONAL)]
    here = (level, code)
    current = values_at(indicators, year, [here, *comparisons])
    previous = values_at(indicators, year - 1, [here])
    names = {place: territory_name(*place) for place in comparisons}
    return [
        Row(
            indicator=indicator,
            value=current.get((indicator.pk, *here)),
            previous=previous.get((indicator.pk, *here)),
            comparisons=[(names[place], current.get((indicator.pk, *place))) for place in comparisons],
        )
        for indicator in indicators
    ]


PUBLISHED = "published"
SUPPRESSED = "suppressed"
NOT_COMPUTED = "not_computable"


def status(value, *, public=False, masked=None):
    """The state of a stored value as `display` decides it: PUBLISHED, SUPPRESSED (public output, primary or
    secondary secrecy: see `secrecy`) or NOT_COMPUTED."""
    if public and secrecy(value, masked):
        return SUPPRESSED
    if value.value is None:
        return NOT_COMPUTED
    return PUBLISHED


def territory_names(level, codes):
    """{code: name} of the territories `codes` of `level`, in one query (the code itself when unknown)."""
    codes = set(codes)
    if level == Level.NATIONAL:
        return dict.fromkeys(codes, "France")
    model, field = {
        Level.REGION: (Region, "code"),
        Level.DEPARTMENT: (Department, "code"),
        Level.EPCI: (Epci, "siren"),
        Level.COMMUNE: (Commune, "code"),
    }[level]
    found = dict(model.objects.filter(**{f"{field}__in": codes}).values_list(field, "name"))
    return {code: found.get(code, code) for code in codes}


# -- statistical secrecy of public output ---------------------------------------------------------
#
# Primary: a value resting on fewer than min_structures() structures is withheld. Secondary: the
# values of the kinds that add up (ADDITIVE) form partitions — France = its régions, a région = its
# départements, a département = its communes, an EPCI = its communes — and structure counts are
# published beside them, so in a partition where exactly one value is withheld it could be deduced
# from the others by difference. Other values are then withheld until no partition has exactly one
# (docs/open-data.md says it in French, and what it does not cover). Medians do not add up: primary
# secrecy only.

PRIMARY = "primary"
SECONDARY = "secondary"

# {(indicator id, year): (stamp of the values, threshold, frozenset of the secondary places)}: per process,
# kept until the values of that year are written again (every refresh rewrites the national values).
_masked_cache = {}


def secrecy(value, masked=None):
    """Why public output withholds `value`: PRIMARY (too few structures), SECONDARY (masked so that another
    withheld value cannot be deduced by difference), or None: it may be shown. `masked`: the secondary places
    of the value's indicator and year (`masked_places`), read here when not given."""
    if value.structure_count < min_structures():
        return PRIMARY
    if masked is None:
        masked = masked_places([value.indicator], [value.year])[(value.indicator_id, value.year)]
    return SECONDARY if (value.level, value.territory) in masked else None


def withheld(indicator, year):
    """{(level, code)} of every value of `indicator` in `year` that public output withholds: primary and
    secondary secrecy together."""
    few = IndicatorValue.objects.filter(indicator=indicator, year=year, structure_count__lt=min_structures())
    return set(few.values_list("level", "territory")) | masked_places([indicator], [year])[(indicator.pk, year)]


def _stamps(years):
    """{year: when its values were last written}: a refresh always rewrites the national values, and the
    SQL engine marks them when anything else changed (read through the national values' partial index)."""
    rows = (
        IndicatorValue.objects.filter(year__in=years, level=Level.NATIONAL, territory="")
        .values("year")
        .annotate(stamp=Max("computed_at"))
        .order_by()
    )
    found = {row["year"]: row["stamp"].timestamp() for row in rows}
    return {year: found.get(year, 0) for year in years}


def masked_places(indicators, years):
    """{(indicator id, year): frozenset of (level, code)}: the values of `indicators` in `years` withheld by
    secondary secrecy (they rest on enough structures, but would let another withheld value be deduced).
    Computed from all the values of an indicator and year at once, kept per process until they change."""
    years = sorted(set(years))
    stamps = _stamps(years)
    threshold = min_structures()
    found, missing = {}, {}
    for year in years:
        for indicator in indicators:
            key = (indicator.pk, year)
            hit = _masked_cache.get(key)
            if hit and hit[:2] == (stamps[year], threshold):
                found[key] = hit[2]
            elif indicator.kind in ADDITIVE:
                missing.setdefault(year, []).append(indicator)
            else:
                found[key] = frozenset()  # a median cannot be deduced by difference
    for year, todo in missing.items():
        for pk, places in _secondary(todo, year, threshold).items():
            found[(pk, year)] = places
            _masked_cache[(pk, year)] = (stamps[year], threshold, places)
    return found


def _secondary(indicators, year, threshold):
    """{indicator id: frozenset of places}: secondary secrecy of additive `indicators` in `year`, from their
    values (one query) and the geography of their communes (one query; régions from the reference cache).

    In every partition (a parent and its parts resting on at least one structure), no single value may be
    the only one withheld: if it is a part, the part with the fewest structures among the shown others is
    withheld too (the parent, when there is no other part); if it is the parent (withheld to protect another
    value, it would be the sum of its parts), its part with the fewest structures. Ties go to the code. Each
    value withheld this way is checked again in the partitions it belongs to, until none changes. A value
    resting on no structure hides nothing and protects nothing: it is left out of the partitions."""
    pks = [indicator.pk for indicator in indicators]
    rows = IndicatorValue.objects.filter(indicator__in=pks, year=year, structure_count__gt=0)
    counts = {pk: {} for pk in pks}
    for pk, level, code, count in rows.values_list("indicator_id", "level", "territory", "structure_count"):
        counts[pk][(level, code)] = count
    communes = Commune.objects.filter(code__in=rows.filter(level=Level.COMMUNE).values("territory"))
    above = {
        code: (department, epci) for code, department, epci in communes.values_list("code", "department_id", "epci_id")
    }
    parents = {}  # the same geography for every indicator
    for cells in counts.values():
        for place in cells.keys() - parents.keys():
            parents[place] = _parents(place, above)
    found, same = {}, {}  # indicators on the same structures (same counts everywhere) have the same answer
    for pk, cells in counts.items():
        key = frozenset(cells.items())
        if key not in same:
            same[key] = _mask(cells, parents, threshold)
        found[pk] = same[key]
    return found


PARENT_RANK = {Level.NATIONAL: 0, Level.REGION: 1, Level.DEPARTMENT: 2, Level.EPCI: 3}


def _parents(place, above):
    """The territories whose partition `place` is a part of. `above`: {commune: (département, EPCI)}."""
    level, code = place
    if level == Level.COMMUNE and code in above:
        department, epci = above[code]
        return ((Level.DEPARTMENT, department), (Level.EPCI, epci)) if epci else ((Level.DEPARTMENT, department),)
    if level == Level.DEPARTMENT:
        return ((Level.REGION, reference.department_region(code)),)
    if level == Level.REGION:
        return ((Level.NATIONAL, ""),)
    return ()


def _mask(cells, parents, threshold):
    """The secondary places of one indicator and year: `cells` {(level, code): structures (> 0)}, `parents`
    {place: the territories whose partition it is a part of}."""
    partitions = collections.defaultdict(list)  # {parent: [parts]}
    for place in cells:
        for parent in parents[place]:
            partitions[parent].append(place)
    hidden = {place for place, count in cells.items() if count < threshold}
    primary = frozenset(hidden)
    # The largest territories first; a value newly withheld puts its partitions back in the queue.
    queue = collections.deque(
        sorted((p for p in partitions if p in cells), key=lambda parent: (PARENT_RANK[parent[0]], parent[1]))
    )
    queued = set(queue)

    def fewest(places):
        return min(places, key=lambda place: (cells[place], place[1]))

    while queue:
        parent = queue.popleft()
        queued.discard(parent)
        children = partitions[parent]
        withheld_children = sum(child in hidden for child in children)
        if (parent in hidden) + withheld_children != 1:
            continue  # nothing withheld, or at least two unknowns: no single value to deduce
        if parent in hidden:
            extra = fewest(children)
        else:
            others = [child for child in children if child not in hidden]
            extra = fewest(others) if others else parent
        hidden.add(extra)
        for again in (extra, *parents[extra]):
            if again in partitions and again in cells and again not in queued:
                queue.append(again)
                queued.add(again)
    return frozenset(hidden - primary)


def structure_profile(structure, indicators, years):
    """What a structure gets back for filling the questionnaire: for each indicator and year, its own
    figure and the distribution (q1, median, q3, n) of the same figure among the structures of its
    département. {(indicator id, year): (own figure, spread or None)}, for the years it was observed.

    The distributions read every answer of the département: kept in the cache until that year's values
    change (values_stamp), which a validation or a reopening always does."""
    department = structure.commune.department_id
    stamp = values_stamp(years)
    pks = hashlib.sha256(repr(sorted(indicator.pk for indicator in indicators)).encode()).hexdigest()
    profile = {}
    for year in years:
        own = own_figures(structure.pk, year, indicators)
        if not own:
            continue
        spreads = until_values_change(
            "department-spreads",
            stamp,
            (department, year, pks),
            lambda year=year: department_spreads(year, department, indicators),
        )
        for indicator in indicators:
            profile[(indicator.pk, year)] = (own[indicator.pk], spreads[indicator.pk])
    return profile
