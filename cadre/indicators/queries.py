"""Reading indicator values for pages, reports, open data and the API: one place for the
territory names, the display of a figure, and the statistical-secrecy rule of public output."""

import dataclasses

from django.conf import settings
from django.db.models import Max

from cadre.core.charts import format_number
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
    values (read through the values' place index), a new version adds a definition."""
    latest = IndicatorValue.objects.filter(year__in=years, level=Level.NATIONAL, territory="").aggregate(
        stamp=Max("computed_at")
    )["stamp"]
    definitions = Indicator.objects.aggregate(created=Max("created_at"), replaced=Max("replaced_at"))
    return "-".join(str(v.timestamp()) if v else "0" for v in (latest, definitions["created"], definitions["replaced"]))


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


def display(indicator, value, *, public=False):
    """The figure as shown: French number with its unit, or why there is none."""
    if value is None:
        return "pas de donnée"
    if public and value.structure_count < min_structures():
        return f"secret statistique (moins de {min_structures()} structures)"
    if value.value is None:
        return NOT_COMPUTABLE
    return format_number(value.value, indicator.decimals, indicator.unit)


def shown(value, *, public=False):
    """The number itself, or None when it may not be shown (public and too few structures) or has none."""
    if value is None or value.value is None:
        return None
    if public and value.structure_count < min_structures():
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


def status(value, *, public=False):
    """The state of a stored value as `display` decides it: PUBLISHED, SUPPRESSED (public output, too few
    structures) or NOT_COMPUTED."""
    if public and value.structure_count < min_structures():
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
