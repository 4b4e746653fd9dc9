"""The observatory report (« plaquette ») of a territory and a year: the same content for the web
page, the PDF and the XLSX workbook — sections of indicators with their comparisons, charts and
maps (each with its table), the response rate and the notes on method."""

import dataclasses
from decimal import Decimal

from django.db.models import Count, Q
from django.utils import timezone

from cadre.core.charts import bar_chart, comparison_bars, format_number, stacked_bars
from cadre.indicators.models import Indicator, IndicatorValue, Level, Theme
from cadre.indicators.queries import count_indicator, dashboard_rows, display, parents, territory_name
from cadre.observatory.models import Campaign, Submission, SubmissionStatus
from cadre.territories.maps import department_communes_map, departments_map
from cadre.territories.models import Commune, Department

# Indicators the charts read, by code (the shipped set); a chart whose indicators are missing is left out.
AGE_CLASSES = [
    ("touchees_0_10", "0 à 10 ans"),
    ("touchees_11_25", "11 à 25 ans"),
    ("touchees_26_59", "26 à 59 ans"),
    ("touchees_60_plus", "60 ans et plus"),
]
FUNDERS = [
    ("part_budget_caf_prestation_service", "Caf (prestations de service)"),
    ("part_budget_commune_intercommunalite", "Communes et intercommunalités"),
    ("part_budget_etat", "État"),
    ("part_budget_departement", "Département"),
    ("part_budget_participation_usagers", "Usagers"),
]
STRUCTURE_FILTERS = {
    Level.REGION: "structure__commune__department__region_id",
    Level.DEPARTMENT: "structure__commune__department_id",
    Level.EPCI: "structure__commune__epci_id",
    Level.COMMUNE: "structure__commune_id",
}


@dataclasses.dataclass
class Section:
    theme: Theme
    rows: list
    figures: list


@dataclasses.dataclass
class Report:
    year: int
    level: str
    code: str
    name: str
    comparisons: list
    response: dict
    sections: list
    map: object
    methods: list
    generated_at: object

    @property
    def key_figures(self):
        return self.sections[0] if self.sections and self.sections[0].theme == Theme.KEY_FIGURES else None

    @property
    def filename(self):
        return f"observatoire-{self.year}-{self.level}-{self.code or 'france'}"


def response_rate(level, code, year):
    """Questionnaires of the campaign in the territory, validated ones, and the rate."""
    submissions = Submission.objects.filter(campaign__year=year)
    if level in STRUCTURE_FILTERS:
        submissions = submissions.filter(**{STRUCTURE_FILTERS[level]: code})
    counts = submissions.aggregate(
        concerned=Count("pk"), validated=Count("pk", filter=Q(status=SubmissionStatus.VALIDATED))
    )
    concerned, validated = counts["concerned"], counts["validated"]
    rate = Decimal(100) * validated / concerned if concerned else None
    return {"concerned": concerned, "validated": validated, "rate": rate, "text": format_number(rate, 1, "%")}


def default_year(years):
    """The year a page opens on, among `years` (the latest first): the latest whose campaign is closed,
    so that a year still being answered is never compared with a full one; the latest when none is."""
    if not years:
        return None
    closed = set(
        Campaign.objects.filter(year__in=years, closes_on__lt=timezone.localdate()).values_list("year", flat=True)
    )
    return next((year for year in years if year in closed), years[0])


def incomplete_year(level, code, year):
    """What a page says of a year whose campaign is still open: its numbers are incomplete, with the
    response rate in the territory so far; None for a closed campaign."""
    campaign = Campaign.objects.filter(year=year).first()
    if campaign is None or campaign.is_closed(timezone.localdate()):
        return None
    rate = response_rate(level, code, year)
    return {"year": year, "closes_on": campaign.closes_on, **rate}


def _value(row):
    return row.value.value if row.value else None


def comparison_figure(theme, rows, name, year):
    """The shares (%) of a theme: the territory beside its région and France."""
    shares = [r for r in rows if r.indicator.unit == "%"]
    if not shares:
        return None
    series = {name: [_value(r) for r in shares]}
    for index, (label, _) in enumerate(shares[0].comparisons):
        series[label] = [r.comparisons[index][1].value if r.comparisons[index][1] else None for r in shares]
    return comparison_bars(
        [r.indicator.title for r in shares],
        series,
        title=f"{theme.label} : {name} comparé, {year}",
        unit="%",
        decimals=1,
        label_header="Indicateur",
    )


def _ages_figure(by_code, name, year):
    rows = [(label, by_code.get(code)) for code, label in AGE_CLASSES]
    if not all(row for _, row in rows):
        return None
    return bar_chart(
        [label for label, _ in rows],
        [_value(row) for _, row in rows],
        title=f"Personnes touchées par classe d'âge, {name}, {year}",
        unit="personnes",
        label_header="Classe d'âge",
        value_header="Personnes touchées",
    )


def _funders_figure(by_code, name, year):
    rows = [(label, by_code.get(code)) for code, label in FUNDERS]
    if not all(row for _, row in rows):
        return None
    places = [name, *[label for label, _ in rows[0][1].comparisons]]
    parts = {}
    for label, row in rows:
        parts[label] = [_value(row), *[value.value if value else None for _, value in row.comparisons]]
    # What the five funders do not cover: the other funders and the structures' own resources.
    others = []
    for index in range(len(places)):
        known = [values[index] for values in parts.values()]
        others.append(None if None in known else max(Decimal(0), Decimal(100) - sum(known)))
    parts["Autres produits"] = others
    return stacked_bars(
        places,
        parts,
        title=f"Part de chaque financeur dans les budgets, {year}",
        unit="%",
        decimals=1,
        label_header="Territoire",
    )


def _map(level, code, year):
    """Where the observed structures are: communes of a département, else départements."""
    count = count_indicator()
    if count is None:
        return None
    if level == Level.DEPARTMENT:
        values = dict(
            IndicatorValue.objects.filter(
                indicator=count,
                year=year,
                level=Level.COMMUNE,
                territory__in=Commune.objects.filter(department_id=code),
            ).values_list("territory", "value")
        )
        points = [
            (c, n, lat, lon, values[c])
            for c, n, lat, lon in Commune.objects.filter(code__in=values).values_list(
                "code", "name", "latitude", "longitude"
            )
        ]
        return department_communes_map(
            code,
            sorted(points, key=lambda p: p[1]),
            title=f"Structures observées par commune, {territory_name(level, code)}, {year}",
            unit="structures",
            value_header="Structures observées",
        )
    values = dict(
        IndicatorValue.objects.filter(indicator=count, year=year, level=Level.DEPARTMENT).values_list(
            "territory", "value"
        )
    )
    departments = None
    if level == Level.REGION:
        departments = list(Department.objects.filter(region_id=code).values_list("code", flat=True))
        values = {c: v for c, v in values.items() if c in departments}
    return departments_map(
        values,
        title=f"Structures observées par département, {territory_name(level, code)}, {year}",
        unit="structures",
        departments=departments,
        value_header="Structures observées",
    )


def build_report(level, code, year, user=None):
    indicators = list(Indicator.objects.current())
    if user is not None:
        indicators = list(Indicator.objects.current().visible_to(user))
    name = territory_name(level, code)
    rows = dashboard_rows(indicators, year, level, code)
    by_code = {r.indicator.code: r for r in rows}
    sections = []
    for theme in Theme:
        theme_rows = [r for r in rows if r.indicator.theme == theme]
        if not theme_rows:
            continue
        figures = []
        if theme == Theme.PUBLICS:
            figures.append(_ages_figure(by_code, name, year))
        if theme == Theme.FINANCES:
            figures.append(_funders_figure(by_code, name, year))
        figures.append(comparison_figure(theme, theme_rows, name, year))
        sections.append(Section(theme=theme, rows=theme_rows, figures=[f for f in figures if f]))
    comparisons = [territory_name(*p) for p in parents(level, code) if p[0] in (Level.REGION, Level.NATIONAL)]
    return Report(
        year=year,
        level=level,
        code=code,
        name=name,
        comparisons=comparisons,
        response=response_rate(level, code, year),
        sections=sections,
        map=_map(level, code, year),
        methods=[(r.indicator, display(r.indicator, r.value)) for r in rows],
        generated_at=timezone.now(),
    )


def campaign_title(year):
    return Campaign.objects.filter(year=year).values_list("title", flat=True).first() or f"Observatoire {year}"
