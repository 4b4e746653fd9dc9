"""The indicators dashboard (a territory and a year, drill-down) and a structure's own figures."""

from django.db.models import Exists, OuterRef
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_POST

from cadre.core.charts import format_number, line_chart
from cadre.core.exports import cached_file, file_response
from cadre.indicators.exports import report_xlsx as report_xlsx_bytes
from cadre.indicators.exports import start_report_pdf
from cadre.indicators.models import (
    STRUCTURES,
    ExportStatus,
    Indicator,
    IndicatorKind,
    IndicatorValue,
    Level,
    Operator,
    ReportExport,
    Theme,
    source_parts,
)
from cadre.indicators.queries import (
    count_indicator,
    dashboard_rows,
    display,
    parents,
    structure_profile,
    territory_name,
    until_values_change,
    values_stamp,
)
from cadre.indicators.report import build_report, campaign_title, comparison_figure, default_year, incomplete_year
from cadre.observatory.models import Campaign, Question, Submission, SubmissionStatus
from cadre.structures.models import Structure
from cadre.territories import reference
from cadre.territories.models import Commune, Department, Epci, Region

PROFILE_YEARS = 4


def _years():
    """Campaign years with values (every computed year has national ones): a semi-join on their index."""
    with_values = Campaign.objects.filter(
        Exists(IndicatorValue.objects.filter(year=OuterRef("year"), level=Level.NATIONAL))
    )
    return list(with_values.order_by("-year").values_list("year", flat=True))


def _asked_year(request, years):
    """?annee= when it has values, else the last closed campaign's year."""
    asked = request.GET.get("annee", "")
    return int(asked) if asked.isdigit() and int(asked) in years else default_year(years)


def _parse_territory(raw):
    """(level, code) from « département:69 »-like parameters; France when absent or unknown."""
    level, _, code = (raw or "").partition(":")
    models = {Level.REGION: Region, Level.DEPARTMENT: Department, Level.EPCI: Epci, Level.COMMUNE: Commune}
    if level in models and models[level].objects.filter(pk=code).exists():
        return level, code
    return Level.NATIONAL, ""


def _default_territory(user):
    """The user's own territory: their structure's or partner's département when there is one."""
    structures = user.structure_ids()
    if structures:
        department = Structure.objects.filter(pk__in=structures).values_list("commune__department_id", flat=True)
        if department:
            return Level.DEPARTMENT, department[0]
    departments, _ = user.partner_territory(user.partner_ids())
    if len(departments) == 1:
        return Level.DEPARTMENT, next(iter(departments))
    return Level.NATIONAL, ""


def _territory_choices(current):
    choices = [("Pays", [("national:", "France")])]
    choices.append(("Régions", [(f"region:{c}", n) for c, n in reference.region_names().items()]))
    choices.append(
        ("Départements", [(f"department:{c}", f"{c} — {n}") for c, n in reference.department_names().items()])
    )
    if current[0] in (Level.EPCI, Level.COMMUNE):
        choices.append(("Territoire choisi", [(f"{current[0]}:{current[1]}", territory_name(*current))]))
    return choices


def _children(level, code, year):
    """The territories one can drill down to, with values that year: [(label, [(param, name, count)])]."""
    count = count_indicator()
    groups = []
    if level == Level.NATIONAL:
        items = Region.objects.order_by("name").values_list("code", "name")
        groups.append(("Régions", Level.REGION, items))
    elif level == Level.REGION:
        items = Department.objects.filter(region_id=code).order_by("code").values_list("code", "name")
        groups.append(("Départements", Level.DEPARTMENT, items))
    elif level == Level.DEPARTMENT:
        epcis = (
            Epci.objects.filter(communes__department_id=code).distinct().order_by("name").values_list("siren", "name")
        )
        communes = Commune.objects.filter(department_id=code).order_by("name").values_list("code", "name")
        groups += [("Intercommunalités", Level.EPCI, epcis), ("Communes", Level.COMMUNE, communes)]
    elif level == Level.EPCI:
        communes = Commune.objects.filter(epci_id=code).order_by("name").values_list("code", "name")
        groups.append(("Communes", Level.COMMUNE, communes))
    found = []
    for label, child_level, items in groups:
        items = list(items)
        counts = dict(
            IndicatorValue.objects.filter(
                indicator=count, year=year, level=child_level, territory__in=[c for c, _ in items]
            ).values_list("territory", "value")
        )
        rows = [(f"{child_level}:{c}", n, counts[c]) for c, n in items if c in counts]
        if rows:
            found.append((label, rows))
    return found


def _cached_body(key, years, render_body):
    """A rendered page body, kept until the values it shows change. Every signed-in user sees the same
    figures."""
    return mark_safe(until_values_change("body", values_stamp(years), key, render_body))  # our own template


def _dashboard_themes(user, year, place, name):
    indicators = list(Indicator.objects.current().visible_to(user))
    rows = dashboard_rows(indicators, year, *place)
    themes = []
    for theme in Theme:
        theme_rows = [r for r in rows if r.indicator.theme == theme]
        if theme_rows:
            themes.append((theme, theme_rows, comparison_figure(theme, theme_rows, name, year)))
    return themes


def dashboard(request):
    years = _years()
    if not years:
        return render(request, "indicators/dashboard.html", {"title": "Indicateurs", "years": []})
    year = _asked_year(request, years)
    place = (
        _parse_territory(request.GET["territoire"]) if "territoire" in request.GET else _default_territory(request.user)
    )
    name = territory_name(*place)
    body = _cached_body(
        ("dashboard", year, *place),
        [year, year - 1],
        lambda: render_to_string(
            "indicators/_dashboard_body.html",
            {
                "themes": _dashboard_themes(request.user, year, place, name),
                "children": _children(*place, year),
                "year": year,
                "place_name": name,
            },
        ),
    )
    breadcrumb = [("Indicateurs", reverse("indicators:dashboard"))]
    for level, code in reversed(parents(*place)):
        breadcrumb.append(
            (territory_name(level, code), f"{reverse('indicators:dashboard')}?annee={year}&territoire={level}:{code}")
        )
    breadcrumb.append((name, None))
    return render(
        request,
        "indicators/dashboard.html",
        {
            "title": f"Indicateurs — {name}, {year}",
            "breadcrumb": breadcrumb,
            "years": years,
            "year": year,
            "place": place,
            "place_param": f"{place[0]}:{place[1]}",
            "place_name": name,
            "level_label": Level(place[0]).label,
            "territory_choices": _territory_choices(place),
            "incomplete": incomplete_year(*place, year),
            "body": body,
            "own_structures": Structure.objects.filter(pk__in=request.user.structure_ids()).order_by("name"),
        },
    )


def _profile_structure(request, uuid):
    """A structure's figures come from its answers: only for those who may read its questionnaires."""
    structure = get_object_or_404(
        Structure.objects.visible_to(request.user).select_related("commune__department"), uuid=uuid
    )
    if not Submission.objects.visible_to(request.user).filter(structure=structure).exists():
        raise Http404
    return structure


def _own_text(indicator, figure):
    if figure is None:
        return "—"
    if isinstance(figure, bool):
        return "oui" if figure else "non"
    return format_number(figure, indicator.decimals, indicator.unit)


def _yes_question(indicator):
    """The code of the question a share counts the « oui » of, or None."""
    if indicator.kind != IndicatorKind.SHARE or indicator.operator != Operator.YES:
        return None
    origin, name = source_parts(indicator.source)
    return name if origin == "question" else None


def _question_labels(indicators):
    """{code: label in the latest questionnaire} of the questions the shares among `indicators` count."""
    codes = {code for indicator in indicators if (code := _yes_question(indicator))}
    rows = Question.objects.filter(code__in=codes).order_by("questionnaire__version").values_list("code", "label")
    return dict(rows)  # the latest version's label last, so kept


def _own_label(indicator, labels):
    """The row heading of a structure's own figure: a share's condition as said of one structure (the
    question it answered when the share counts « oui »), not « part des structures… »."""
    if indicator.kind == IndicatorKind.SHARE:
        label = labels.get(_yes_question(indicator))
        if label is not None:
            return label
        condition = f"{indicator._source_phrase(indicator.source)} {indicator._condition_phrase()}"
        return f"{condition[:1].upper()}{condition[1:]}"
    return indicator.title


DEPARTMENT_FIGURE = {
    IndicatorKind.SUM: "total du département",
    IndicatorKind.MEAN: "moyenne du département",
    IndicatorKind.MEDIAN: "médiane du département",
}


def _department_text(indicator, value):
    """The département's figure with what it is: a total, an average, a median, a share of structures."""
    shown = display(indicator, value)
    if value is None or value.value is None:
        return shown
    if indicator.kind == IndicatorKind.SHARE:
        return f"{shown} des structures du département"
    if indicator.kind == IndicatorKind.RATIO:
        what = "moyenne par structure" if indicator.denominator == STRUCTURES else "rapport des sommes"
        return f"{shown} ({what})"
    return f"{shown} ({DEPARTMENT_FIGURE[indicator.kind]})" if indicator.kind in DEPARTMENT_FIGURE else shown


def _own_chart(indicator, structure, own, years):
    """A structure's past years of a number beside its département's median; None under two years."""
    numbers = {year: entry for year, entry in own if entry and entry[0] is not None and not isinstance(entry[0], bool)}
    if len(numbers) < 2:
        return None
    shown = sorted(years)
    series = {
        structure.name: [numbers[year][0] if year in numbers else None for year in shown],
        "Médiane du département": [
            numbers[year][1][1] if year in numbers and numbers[year][1] else None for year in shown
        ],
    }
    return line_chart(
        shown,
        series,
        title=f"{indicator.title} : {structure.name} et la médiane de son département, {shown[0]}–{shown[-1]}",
        unit=indicator.unit,
        decimals=indicator.decimals,
    )


def _structure_themes(structure, years):
    """[(theme, rows)] of a structure's figures: its own over `years`, its département's spread and value."""
    indicators = [i for i in Indicator.objects.current() if i.kind != IndicatorKind.COUNT]
    labels = _question_labels(indicators)
    profile = structure_profile(structure, indicators, years) if years else {}
    department = structure.commune.department
    department_values = {}
    if years:
        for value in IndicatorValue.objects.filter(
            indicator__in=indicators, year=years[0], level=Level.DEPARTMENT, territory=department.code
        ):
            department_values[value.indicator_id] = value
    themes = []
    for theme in Theme:
        items = []
        for indicator in indicators:
            if indicator.theme != theme:
                continue
            own = [(year, profile.get((indicator.pk, year))) for year in years]
            if not any(entry for _, entry in own):
                continue
            latest = profile.get((indicator.pk, years[0])) if years else None
            spread = latest[1] if latest else None
            items.append(
                {
                    "indicator": indicator,
                    "label": _own_label(indicator, labels),
                    "chart": _own_chart(indicator, structure, own, years),
                    "years": [(year, _own_text(indicator, entry[0] if entry else None)) for year, entry in own],
                    "spread": spread
                    and {
                        "q1": format_number(spread[0], indicator.decimals, indicator.unit),
                        "median": format_number(spread[1], indicator.decimals, indicator.unit),
                        "q3": format_number(spread[2], indicator.decimals, indicator.unit),
                        "count": spread[3],
                    },
                    "department": _department_text(indicator, department_values.get(indicator.pk)),
                }
            )
        if items:
            themes.append((theme, items))
    return themes


def structure_figures(request, uuid):
    """The return a structure gets for its questionnaire: its own figures, its past years, and where
    it stands among the structures of its département (median and quartiles)."""
    structure = _profile_structure(request, uuid)
    validated = Submission.objects.filter(structure=structure, status=SubmissionStatus.VALIDATED)
    years = sorted(validated.values_list("campaign__year", flat=True), reverse=True)[:PROFILE_YEARS]
    department = structure.commune.department
    body = _cached_body(
        ("structure", structure.pk, structure.version, *years),
        years,
        lambda: render_to_string(
            "indicators/_structure_figures_body.html",
            {
                "structure": structure,
                "department": department,
                "years": years,
                "themes": _structure_themes(structure, years),
            },
        ),
    )
    return render(
        request,
        "indicators/structure_figures.html",
        {
            "title": f"Les indicateurs de {structure.name}",
            "breadcrumb": [
                ("Indicateurs", reverse("indicators:dashboard")),
                (structure.name, reverse("structures:detail", args=[structure.uuid])),
                ("Ses indicateurs", None),
            ],
            "structure": structure,
            "body": body,
        },
    )


def _report_params(request):
    years = _years()
    if not years:
        raise Http404
    year = _asked_year(request, years)
    place = (
        _parse_territory(request.GET["territoire"]) if "territoire" in request.GET else _default_territory(request.user)
    )
    return years, year, place


def report(request):
    """The observatory report of a territory and a year, as a page; its workbook and PDF from here."""
    years, year, place = _report_params(request)
    name = territory_name(*place)
    body = _cached_body(
        ("report", year, *place),
        [year, year - 1],
        lambda: render_to_string("indicators/_report_body.html", {"report": build_report(*place, year, request.user)}),
    )
    query = f"annee={year}&territoire={place[0]}:{place[1]}"
    return render(
        request,
        "indicators/report.html",
        {
            "title": f"Rapport de l'observatoire — {name}, {year}",
            "breadcrumb": [("Indicateurs", reverse("indicators:dashboard")), (f"Rapport {name} {year}", None)],
            "name": name,
            "body": body,
            "campaign_title": campaign_title(year),
            "incomplete": incomplete_year(*place, year),
            "years": years,
            "year": year,
            "place_param": f"{place[0]}:{place[1]}",
            "territory_choices": _territory_choices(place),
            "query": query,
            "exports": ReportExport.objects.visible_to(request.user)
            .filter(requested_by=request.user)
            .defer("content")[:5],
        },
    )


def report_xlsx(request):
    _, year, place = _report_params(request)
    # Kept like the report page's body: until the values of the year or the year before, or a definition, change.
    key = ("report-xlsx", year, *place, values_stamp([year, year - 1]))
    content = cached_file(key, lambda: report_xlsx_bytes(build_report(*place, year, request.user)))
    return file_response(content, f"observatoire-{year}-{place[0]}-{place[1] or 'france'}", "xlsx")


@require_POST
def report_pdf_start(request):
    _, year, place = _report_params(request)
    export = start_report_pdf(*place, year, request.user)
    return redirect("indicators:report_export", uuid=export.uuid)


def report_export(request, uuid):
    """A PDF being prepared: htmx asks again for the state (same URL) until it is ready."""
    export = get_object_or_404(ReportExport.objects.visible_to(request.user).defer("content"), uuid=uuid)
    name = territory_name(export.level, export.territory)
    template = "indicators/_export_state.html" if request.htmx else "indicators/report_export.html"
    return render(
        request,
        template,
        {
            "export": export,
            "name": name,
            "title": f"Rapport PDF — {name}, {export.year}",
            "breadcrumb": [
                ("Indicateurs", reverse("indicators:dashboard")),
                (
                    f"Rapport {name} {export.year}",
                    f"{reverse('indicators:report')}?annee={export.year}&territoire={export.level}:{export.territory}",
                ),
                ("PDF", None),
            ],
        },
    )


def report_export_download(request, uuid):
    export = get_object_or_404(ReportExport.objects.visible_to(request.user), uuid=uuid, status=ExportStatus.DONE)
    response = HttpResponse(bytes(export.content), content_type="application/pdf")
    name = f"observatoire-{export.year}-{export.level}-{export.territory or 'france'}.pdf"
    response["Content-Disposition"] = f'inline; filename="{name}"'
    return response
