"""Open data of the indicators, without login: the published indicators (current versions) by
territory and year, their method, a map of the départements and a CSV.

Statistical secrecy applies to every figure here, whoever looks: a value resting on fewer than
CADRE_OPEN_DATA_MIN_STRUCTURES structures is not shown, nor its number of structures (for a count
it would be the value), and neither is a value that would let such a value be deduced by difference
(secondary secrecy, `queries.secrecy`). Nothing on these pages is per structure.
"""

import dataclasses
import itertools
import unicodedata

from django import forms
from django.contrib.auth.decorators import login_not_required
from django.http import HttpResponseBadRequest
from django.shortcuts import get_object_or_404, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.safestring import mark_safe

from cadre.core.charts import NOT_COMPUTABLE, format_number, round_decimal
from cadre.core.exports import cached_file, csv_bytes, file_response
from cadre.core.forms import CadreForm
from cadre.indicators import queries
from cadre.indicators.models import (
    LEVELS,
    REGISTRY_FIELDS,
    STRUCTURES,
    AreaFilter,
    Indicator,
    IndicatorKind,
    IndicatorValue,
    Level,
    Operator,
    Theme,
    source_parts,
)
from cadre.indicators.report import default_year, incomplete_year
from cadre.observatory.models import Campaign, Question
from cadre.structures.models import ApprovalKind, Management, StructureKind
from cadre.territories.maps import departments_map, shapes, sort_key
from cadre.territories.models import Commune, Department

SECRET = "secret statistique"
SECONDARY_NOTE = "masquée pour qu'une autre valeur masquée ne puisse pas se déduire"
NATIONAL = "national"
EVERY_OF_LEVEL = {
    Level.REGION: "Toutes les régions",
    Level.DEPARTMENT: "Tous les départements",
    Level.EPCI: "Toutes les intercommunalités (EPCI)",
    Level.COMMUNE: "Toutes les communes",
}
LEVEL_GROUPS = {
    Level.REGION: "Régions",
    Level.DEPARTMENT: "Départements",
    Level.EPCI: "Intercommunalités (EPCI)",
    Level.COMMUNE: "Communes",
}
FILE_LEVELS = {
    Level.NATIONAL: "france",
    Level.REGION: "regions",
    Level.DEPARTMENT: "departements",
    Level.EPCI: "epci",
    Level.COMMUNE: "communes",
}
CSV_HEADERS = [
    "code indicateur",
    "intitulé",
    "version",
    "année",
    "échelon",
    "code territoire",
    "territoire",
    "valeur",
    "unité",
    "structures",
    "statut",
]
DEFAULT_MAP_INDICATOR = "structures_observees"


def published():
    """The indicators of the open data: published, current versions, in the order of the themes."""
    indicators = list(Indicator.objects.current().filter(is_public=True))
    themes = list(Theme.values)
    return sorted(indicators, key=lambda i: (themes.index(i.theme), i.position, i.code))


def value_years(indicators):
    """The campaign years with values of `indicators`, the latest first."""
    # Every year with values has its national ones (a refresh always writes them): read through their
    # small partial index rather than every value of every territory.
    years = IndicatorValue.objects.filter(
        indicator__in=indicators, level=Level.NATIONAL, year__in=Campaign.objects.values("year")
    ).values_list("year", flat=True)
    return sorted(set(years.distinct().order_by()), reverse=True)


def secret_text(secrecy=queries.PRIMARY):
    """How a withheld value is said in a table, a map or the CSV: why, in brackets."""
    if secrecy == queries.SECONDARY:
        return f"{SECRET} ({SECONDARY_NOTE})"
    return f"{SECRET} (moins de {queries.min_structures()} structures)"


def _collate(text):
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().casefold()


# -- territories ---------------------------------------------------------------------------------


def place_key(level, code):
    return NATIONAL if level == Level.NATIONAL else f"{level}:{code}"


def parse_place(key):
    """(level, code) of a territory choice ("national", "department:69"…)."""
    if key == NATIONAL:
        return Level.NATIONAL, ""
    level, _, code = key.partition(":")
    return Level(level), code


def place_labels(level, codes):
    """[(code, label)] of territories, in the order a reader looks for them."""
    if level == Level.DEPARTMENT:
        names = queries.territory_names(level, codes)
        return [(code, f"{code} — {names[code]}") for code in sorted(codes, key=sort_key)]
    if level == Level.COMMUNE:
        rows = Commune.objects.filter(code__in=codes).values_list("code", "name", "department_id")
        return sorted(
            ((code, f"{name} ({department})") for code, name, department in rows), key=lambda c: _collate(c[1])
        )
    names = queries.territory_names(level, codes)
    return sorted(names.items(), key=lambda item: _collate(item[1]))


def place_choices(indicators, year, masked):
    """France, the régions and départements with values in `year`; the EPCI and communes where at least
    one figure can be shown (elsewhere every figure would be secret). `masked`: `queries.masked_places`."""
    found = {}
    values = IndicatorValue.objects.filter(indicator__in=indicators, year=year)
    upper = values.filter(level__in=[Level.REGION, Level.DEPARTMENT]).values_list("level", "territory").distinct()
    local = values.filter(level__in=[Level.EPCI, Level.COMMUNE], structure_count__gte=queries.min_structures())
    for level, code in upper.order_by():
        found.setdefault(level, set()).add(code)
    for pk, level, code in local.values_list("indicator_id", "level", "territory"):
        if (level, code) not in masked[(pk, year)]:
            found.setdefault(level, set()).add(code)
    choices = [(NATIONAL, "France")]
    for level, group in LEVEL_GROUPS.items():
        if found.get(level):
            choices.append(
                (group, [(place_key(level, code), label) for code, label in place_labels(level, found[level])])
            )
    return choices


def cached_place_choices(indicators, year, masked, stamp):
    """`place_choices`, the same for every visitor: kept until the values, the definitions or the
    secrecy threshold change (a few thousand territories, read and named in six queries otherwise)."""
    return queries.until_values_change(
        "open-data-places",
        stamp,
        (year, queries.min_structures()),
        lambda: place_choices(indicators, year, masked),
    )


def cached_figures(indicators, year, level, code, mapped, masked, stamp):
    """The tables of a territory's values by theme and the map, rendered: the same for every visitor, kept
    until the values, the definitions or the secrecy threshold change."""
    body = queries.until_values_change(
        "open-data-figures",
        stamp,
        (year, level, code, mapped.pk, queries.min_structures()),
        lambda: render_to_string(
            "indicators/public/_figures.html",
            {
                "place": place_title(level, code),
                "year": year,
                "is_national": level == Level.NATIONAL,
                "themes": lines_by_theme(indicators, year, level, code, masked),
                "figure": map_figure(mapped, year, level, code, masked[(mapped.pk, year)]),
            },
        ),
    )
    return mark_safe(body)  # our own template rendered it (escaped)


def place_title(level, code):
    name = queries.territory_name(level, code)
    if level == Level.DEPARTMENT:
        return f"{name} ({code})"
    if level in (Level.REGION, Level.NATIONAL):
        return name
    return f"{name} ({Level(level).label})"


# -- the page ------------------------------------------------------------------------------------


class OpenDataForm(CadreForm):
    # Optional: a link may give only some of them, the others take their default.
    year = forms.TypedChoiceField(label="Année", coerce=int, empty_value=None, required=False)
    territory = forms.ChoiceField(label="Territoire", required=False)
    map = forms.ChoiceField(label="Indicateur de la carte", required=False)

    def __init__(self, *args, years, places, indicators, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["year"].choices = [(year, str(year)) for year in years]
        self.fields["territory"].choices = places
        by_theme = [
            (theme.label, [(i.code, i.title) for i in indicators if i.theme == theme])
            for theme in Theme
            if any(i.theme == theme for i in indicators)
        ]
        self.fields["map"].choices = by_theme


@dataclasses.dataclass
class Line:
    """One indicator of the table: its figure here, in France, and its number of structures."""

    indicator: Indicator
    text: str
    status: str | None
    structures: str
    note: str
    national: str


def structures_text(value, status, secrecy=None):
    if value is None:
        return "aucune"
    if status == queries.SUPPRESSED:
        return "non publié" if secrecy == queries.SECONDARY else f"moins de {queries.min_structures()}"
    return format_number(value.structure_count)


def note_text(indicator, value, status, secrecy=None):
    """Why there is no figure, or a median's quartiles; for a secret value, only why it is masked when it
    rests on enough structures (secondary secrecy)."""
    if secrecy == queries.SECONDARY:
        return f"Valeur {SECONDARY_NOTE}."
    if status == queries.NOT_COMPUTED:
        return value.reason
    if status == queries.PUBLISHED and indicator.kind == IndicatorKind.MEDIAN and value.first_quartile is not None:
        first = format_number(value.first_quartile, indicator.decimals, indicator.unit)
        third = format_number(value.third_quartile, indicator.decimals, indicator.unit)
        return f"1er quartile : {first} ; 3e quartile : {third}"
    return ""


def lines_by_theme(indicators, year, level, code, masked):
    here = (level, code)
    france = (Level.NATIONAL, "")
    found = queries.values_at(indicators, year, {here, france})
    themes = []
    for theme in Theme:
        lines = []
        for indicator in (i for i in indicators if i.theme == theme):
            value = found.get((indicator.pk, *here))
            hidden = masked[(indicator.pk, year)]
            status = secrecy = None
            if value is not None:
                status = queries.status(value, public=True, masked=hidden)
                secrecy = queries.secrecy(value, hidden)
            national = found.get((indicator.pk, *france))
            lines.append(
                Line(
                    indicator=indicator,
                    text=queries.display(indicator, value, public=True, masked=hidden),
                    status=status,
                    structures=structures_text(value, status, secrecy),
                    note=note_text(indicator, value, status, secrecy),
                    national=queries.display(indicator, national, public=True, masked=hidden),
                )
            )
        if lines:
            themes.append((theme.label, lines))
    return themes


def map_figure(indicator, year, level, code, hidden):
    """The départements map of `indicator`: all of France, or the région of the chosen territory.
    Secret values are drawn hatched like values that cannot be computed, and said so in the table.
    `hidden`: the places of `indicator` in `year` withheld by secondary secrecy (`queries.masked_places`)."""
    chain = dict(queries.parents(level, code)) if level != Level.NATIONAL else {}
    chain[level] = code
    region, department = chain.get(Level.REGION), chain.get(Level.DEPARTMENT)
    every = shapes()
    departments = None
    if region:
        departments = [
            c for c in Department.objects.filter(region_id=region).values_list("code", flat=True) if c in every
        ]
        departments = departments or None
    values = IndicatorValue.objects.filter(indicator=indicator, year=year, level=Level.DEPARTMENT)
    if departments:
        values = values.filter(territory__in=departments)
    numbers, secret = {}, {}  # secret: {département: PRIMARY or SECONDARY}
    for value in values:
        numbers[value.territory] = queries.shown(value, public=True, masked=hidden)
        if why := queries.secrecy(value, hidden):
            secret[value.territory] = why
    title = f"{indicator.title} par département, {year}"
    shown_count = sum(n is not None for n in numbers.values())
    other = len(numbers) - shown_count - len(secret)
    description = (
        f"Carte des départements : {title}. {shown_count} département{'s' if shown_count > 1 else ''} avec une valeur "
        f"publiée, {len(secret)} sous secret statistique, "
        f"{other} non calculable{'s' if other > 1 else ''}. Le tableau qui suit donne la valeur de chaque département."
    )
    figure = departments_map(
        numbers,
        title=title,
        unit=indicator.unit,
        decimals=indicator.decimals,
        description=description,
        departments=departments,
        highlight=department if level != Level.NATIONAL and department else None,
        highlight_label="territoire choisi",
        unknown={dep: (secret_text(why), SECRET) for dep, why in secret.items()},
        unknown_legend=f"{NOT_COMPUTABLE} ou secret",
    )
    hatched = any(n is None for n in numbers.values())
    note = f"Hachures : valeur non calculable ou secret statistique (moins de {queries.min_structures()} structures"
    note += f", ou valeur {SECONDARY_NOTE}). " if queries.SECONDARY in secret.values() else "). "
    return dataclasses.replace(figure, note=(note if hatched else "") + figure.note)


def csv_links(year, level, code):
    """Downloads offered beside the page: this territory, then every territory of each level."""
    url = reverse("open_data:values_csv")
    links = [
        (f"{place_title(level, code)}, {year}", f"{url}?{urlencode({'year': year, 'level': level, 'territory': code})}")
    ]
    for each in LEVELS[1:]:
        links.append((f"{EVERY_OF_LEVEL[each]}, {year}", f"{url}?{urlencode({'year': year, 'level': each})}"))
    links.append((f"Tous les territoires, à tous les échelons, {year}", f"{url}?{urlencode({'year': year})}"))
    return links


@login_not_required
def index(request):
    indicators = published()
    years = value_years(indicators)
    asked = request.GET.get("year", "")
    year = int(asked) if asked.isdigit() and int(asked) in years else default_year(years)
    masked = queries.masked_places(indicators, [year]) if year else {}
    stamp = queries.values_stamp([year]) if year else ""  # what the places and the figures kept are made of
    places = cached_place_choices(indicators, year, masked, stamp) if year else [(NATIONAL, "France")]
    codes = [i.code for i in indicators]
    default_map = DEFAULT_MAP_INDICATOR if DEFAULT_MAP_INDICATOR in codes else (codes[0] if codes else "")
    # A link may give only some of the choices: the others take their defaults, without an error.
    data = None
    if request.GET:
        data = {"year": year, "territory": NATIONAL, "map": default_map, **request.GET.dict()}
    form = OpenDataForm(
        data,
        years=years,
        places=places,
        indicators=indicators,
        initial={"year": year, "territory": NATIONAL, "map": default_map},
    )
    chosen = {}
    if form.is_bound:
        form.is_valid()
        chosen = form.cleaned_data
    context = {
        "form": form,
        "years": years,
        "indicators": indicators,
        "min_structures": queries.min_structures(),
        "title": "Données ouvertes des indicateurs",
        "breadcrumb": [("Données ouvertes", None)],
        "api_url": reverse("api-1.0.0:indicator_values"),
    }
    if year and indicators:
        level, code = parse_place(chosen.get("territory") or NATIONAL)
        mapped = next(i for i in indicators if i.code == (chosen.get("map") or default_map))
        context.update(
            year=year,
            place=place_title(level, code),
            incomplete=incomplete_year(level, code, year),
            is_national=level == Level.NATIONAL,
            figures=cached_figures(indicators, year, level, code, mapped, masked, stamp),
            downloads=csv_links(year, level, code),
        )
    return render(request, "indicators/public/index.html", context)


# -- the method of an indicator ------------------------------------------------------------------


def _labels(choices, codes):
    return ", ".join(str(choices(code).label) for code in codes)


def source_label(source):
    origin, name = source_parts(source)
    if origin == STRUCTURES:
        return "le nombre de structures", None
    if origin == "registry":
        label, _, choices = REGISTRY_FIELDS.get(name, (name, None, None))
        return label, ({c.value: c.label for c in choices} if choices else None)
    question = Question.objects.filter(code=name).order_by("-questionnaire__version").first()
    if question is None:
        return f"question « {name} » du questionnaire", None
    choices = {c["code"]: c["label"] for c in question.choices} if question.choices else None
    return f"« {question.label} » (question {name} du questionnaire)", choices


def method_facts(indicator):
    """(term, description) pairs of what the indicator reads and counts, in French."""
    facts = [
        ("Calcul", indicator.get_kind_display()),
        ("Unité", indicator.unit or "sans unité"),
        ("Structures prises en compte", population_text(indicator)),
    ]
    if indicator.source:
        label, choices = source_label(indicator.source)
        facts.append(("Donnée lue", label))
        if indicator.kind == IndicatorKind.SHARE and indicator.operator:
            condition = Operator(indicator.operator).label
            if indicator.operator == Operator.ANY_OF:
                named = [(choices or {}).get(code, code) for code in indicator.choice_codes]
                condition += " : " + ", ".join(f"« {n} »" for n in named)
            elif indicator.threshold is not None:
                condition += f" {format_number(indicator.threshold, 2 if indicator.threshold % 1 else 0)}"
            facts.append(("Condition", condition))
    if indicator.denominator:
        facts.append(("Dénominateur", source_label(indicator.denominator)[0]))
    facts.append(("Code et version", f"{indicator.code}, version {indicator.version}"))
    return facts


KIND_PLURALS = {StructureKind.CENTRE_SOCIAL: "les centres sociaux", StructureKind.EVS: "les espaces de vie sociale"}


def population_text(indicator):
    kinds = [k for k in StructureKind.values if k in indicator.structure_kinds] or StructureKind.values
    who = " et ".join(KIND_PLURALS[kind] for kind in kinds)
    text = f"{who[0].upper()}{who[1:]} dont le questionnaire de l'année est validé"
    if indicator.managements:
        text += f" ; mode de gestion : {_labels(Management, indicator.managements)}"
    if indicator.priority_area:
        text += f" ; {AreaFilter(indicator.priority_area).label}"
    if indicator.approval_kinds:
        text += f" ; agrément en cours : {_labels(ApprovalKind, indicator.approval_kinds)}"
    return text


@login_not_required
def indicator_detail(request, uuid):
    indicator = get_object_or_404(Indicator.objects.filter(is_public=True), uuid=uuid)
    current = None
    if not indicator.is_current:
        current = Indicator.objects.current().filter(code=indicator.code, is_public=True).first()
    values = list(IndicatorValue.objects.filter(indicator=indicator, level=Level.NATIONAL).order_by("-year"))
    masked = queries.masked_places([indicator], [value.year for value in values])
    national = []
    for value in values:
        hidden = masked[(indicator.pk, value.year)]
        status, secrecy = queries.status(value, public=True, masked=hidden), queries.secrecy(value, hidden)
        national.append(
            (
                value.year,
                queries.display(indicator, value, public=True, masked=hidden),
                structures_text(value, status, secrecy),
                note_text(indicator, value, status, secrecy),
            )
        )
    context = {
        "indicator": indicator,
        "current": current,
        "facts": method_facts(indicator),
        "national": national,
        "min_structures": queries.min_structures(),
        "api_url": reverse("api-1.0.0:indicator", args=[indicator.uuid]),
        "title": indicator.title,
        "breadcrumb": [("Données ouvertes", reverse("open_data:index")), (indicator.title, None)],
    }
    return render(request, "indicators/public/indicator.html", context)


# -- CSV -----------------------------------------------------------------------------------------


def csv_number(number, decimals):
    """A figure as French spreadsheets read it: decimal comma, no thousands separator."""
    rounded = round_decimal(number, decimals)
    return "" if rounded is None else f"{rounded:f}".replace(".", ",")


def csv_row(indicator, value, name, masked):
    secrecy = queries.secrecy(value, masked)
    status = queries.status(value, public=True, masked=masked)
    if status == queries.PUBLISHED:
        text, figure = "publiée", csv_number(value.value, indicator.decimals)
    elif status == queries.SUPPRESSED:
        text, figure = secret_text(secrecy), ""
    else:
        text, figure = f"{NOT_COMPUTABLE} : {value.reason}" if value.reason else NOT_COMPUTABLE, ""
    return [
        indicator.code,
        indicator.title,
        indicator.version,
        value.year,
        Level(value.level).label,
        value.territory,
        name,
        figure,
        indicator.unit,
        "" if status == queries.SUPPRESSED else value.structure_count,
        text,
    ]


def csv_rows(indicators, year, levels, code):
    """Territory by territory (each level in turn), the indicators in the order of the page."""
    rank = {indicator.pk: position for position, indicator in enumerate(indicators)}
    by_pk = {indicator.pk: indicator for indicator in indicators}
    masked = queries.masked_places(indicators, [year])
    for level in levels:
        values = IndicatorValue.objects.filter(indicator__in=indicators, year=year, level=level)
        if code is not None:
            values = values.filter(territory=code)
        names = queries.territory_names(level, values.values_list("territory", flat=True).distinct())
        ordered = values.order_by("territory").iterator(chunk_size=2000)
        for territory, group in itertools.groupby(ordered, key=lambda v: v.territory):
            for value in sorted(group, key=lambda v: rank[v.indicator_id]):
                yield csv_row(by_pk[value.indicator_id], value, names[territory], masked[(value.indicator_id, year)])


def bad_request(message):
    return HttpResponseBadRequest(message, content_type="text/plain; charset=utf-8")


@login_not_required
def values_csv(request):
    """?year= (default: the last closed campaign), ?level= (default: every level), ?territory= (a code;
    needs the level)."""
    indicators = published()
    years = value_years(indicators)
    asked_year, asked_level = request.GET.get("year", ""), request.GET.get("level", "")
    code = request.GET.get("territory")
    if asked_year:
        if not asked_year.isdigit() or int(asked_year) not in years:
            known = ", ".join(map(str, years)) or "aucune"
            return bad_request(f"Année sans données publiées : « {asked_year} ». Années disponibles : {known}.")
        year = int(asked_year)
    else:
        year = default_year(years)
    if asked_level and asked_level not in Level.values:
        return bad_request(f"Échelon inconnu : « {asked_level} ». Échelons : {', '.join(Level.values)}.")
    if code is not None and not asked_level:
        return bad_request("Indiquez l'échelon (level) du territoire demandé.")
    levels = [Level(asked_level)] if asked_level else LEVELS
    if code is not None:
        code = "" if levels == [Level.NATIONAL] else code.strip().upper()
    filename = f"indicateurs-{year or 'aucune-annee'}"
    if asked_level:
        filename += f"-{FILE_LEVELS[levels[0]]}"
    if code:
        filename += f"-{code}"
    # Kept until the values or the definitions change (their stamp), or the secrecy threshold does.
    key = ("open-data-csv", year, levels, code, queries.values_stamp([year]) if year else "", queries.min_structures())
    content = cached_file(key, lambda: csv_bytes(CSV_HEADERS, csv_rows(indicators, year, levels, code) if year else []))
    return file_response(content, filename, "csv")
