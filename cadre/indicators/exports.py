"""The observatory report as files: the XLSX workbook of every table, and the PDF (prepared by the worker)."""

import decimal
import logging
import re
import time

from django.utils import timezone

from cadre.core.exports import EUROS_FORMAT, Styled, add_table_sheet, new_workbook, sheet_title, workbook_bytes
from cadre.core.pdf import PdfUnavailable, render_pdf
from cadre.indicators import tasks
from cadre.indicators.models import ExportStatus, ReportExport
from cadre.indicators.report import build_report, campaign_title

logger = logging.getLogger(__name__)


# A figure of a chart's table as charts.format_number writes it: « 1 234,5 % », « -3 », « 12 450 € ».
FRENCH_NUMBER = re.compile(
    r"^(?P<whole>-?\d{1,3}(?:[\u202f\u00a0 ]\d{3})+|-?\d+)(?:,(?P<fraction>\d+))?(?:[\u00a0 ](?P<unit>\S.*))?$"
)


def _number(value):
    return None if value is None else float(value)


def _number_format(unit, decimals):
    """The number format of figures in `unit` with `decimals`: the unit written after the number."""
    if unit == "€":
        return EUROS_FORMAT if decimals else '#,##0 "€"'
    pattern = "#,##0" + ("." + "0" * decimals if decimals else "")
    unit = unit.replace('"', "")
    return f'{pattern} "{unit}"' if unit else pattern


def _figure_value(text):
    """A cell of a figure's table (written in French) as a number with its format; other texts stay text."""
    match = FRENCH_NUMBER.match(text.strip()) if isinstance(text, str) else None
    if match is None:
        return text
    whole = "".join(c for c in match.group("whole") if c not in " \u202f\u00a0")
    fraction = match.group("fraction") or ""
    value = float(decimal.Decimal(f"{whole}.{fraction}")) if fraction else int(whole)
    return Styled(value, _number_format(match.group("unit") or "", len(fraction)))


def report_xlsx(report):
    """Every table of the report, one finished sheet each (see core.exports.add_table_sheet): sheet names
    shortened by whole words, numbers kept as numbers in their unit, with the figure as shown beside."""
    workbook = new_workbook()
    used = set()
    response = report.response
    add_table_sheet(
        workbook,
        sheet_title("Présentation", used),
        ["Élément", "Valeur", "Précision"],
        [
            ["Données de l'année", report.year, "questionnaires validés"],
            ["Édité le", timezone.localdate(), ""],
            [
                "Taux de réponse",
                Styled(_number(response["rate"]), '0.0 "%"') if response["rate"] is not None else None,
                f"{response['validated']} questionnaire{'s' if response['validated'] > 1 else ''} "
                f"validé{'s' if response['validated'] > 1 else ''} sur {response['concerned']}",
            ],
        ],
        caption=f"{campaign_title(report.year)} — {report.name}",
    )
    for section in report.sections:
        comparisons = [label for label, _ in section.rows[0].comparisons]
        headers = [
            "Indicateur",
            "Code",
            "Unité",
            f"{report.name} {report.year}",
            "Affiché",
            "Structures",
            f"{report.year - 1}",
            *comparisons,
            "Non calculable parce que",
            "Méthode",
        ]
        rows = []
        for row in section.rows:
            value, indicator = row.value, row.indicator
            number_format = _number_format(indicator.unit, indicator.decimals)

            def styled(found, number_format=number_format):
                return Styled(_number(found.value), number_format) if found and found.value is not None else None

            rows.append(
                [
                    indicator.title,
                    indicator.code,
                    indicator.unit,
                    styled(value),
                    row.text(value),
                    value.structure_count if value else 0,
                    styled(row.previous),
                    *[styled(v) for _, v in row.comparisons],
                    value.reason if value else "",
                    indicator.method,
                ]
            )
        add_table_sheet(workbook, sheet_title(section.theme.label, used), headers, rows, freeze="B2")
        for figure in section.figures:
            _figure_sheet(workbook, figure, used)
    if report.map is not None:
        _figure_sheet(workbook, report.map, used)
    return workbook_bytes(workbook)


def _figure_sheet(workbook, figure, used):
    """A chart's table: its whole caption above the header (the sheet's name may be shortened)."""
    table = figure.table
    rows = [[row[0], *(_figure_value(cell) for cell in row[1:])] for row in table.rows]
    add_table_sheet(workbook, sheet_title(table.caption, used), list(table.headers), rows, caption=table.caption)


def start_report_pdf(level, territory, year, user):
    export = ReportExport.objects.create(level=level, territory=territory, year=year, requested_by=user)
    tasks.render_report.enqueue(export.pk)
    return export


def _step(export, progress, step):
    ReportExport.objects.filter(pk=export.pk).update(status=ExportStatus.RUNNING, progress=progress, step=step)


def render_report_pdf(export_pk):
    """The worker's part: gather the figures, draw the charts, lay the PDF out. Failures are said on the page."""
    export = ReportExport.objects.select_related("requested_by").get(pk=export_pk)
    if export.status != ExportStatus.QUEUED:
        return
    started = time.monotonic()
    try:
        _step(export, 10, "Calcul des tableaux et des graphiques")
        report = build_report(export.level, export.territory, export.year, export.requested_by)
        _step(export, 50, "Mise en page du PDF")
        content = render_pdf(
            "indicators/report_pdf.html", {"report": report, "campaign_title": campaign_title(export.year)}
        )
    except PdfUnavailable:
        fields = {
            "status": ExportStatus.FAILED,
            "message": "Le PDF ne peut pas être produit sur ce serveur (bibliothèques Pango absentes) : imprimez la "
            "page du rapport avec « Enregistrer au format PDF » de votre navigateur.",
        }
    except Exception:
        logger.exception("Rapport PDF %s", export.uuid)
        fields = {
            "status": ExportStatus.FAILED,
            "message": "La préparation du PDF a échoué sur une erreur inattendue : demandez-le à nouveau ; si l'erreur "
            "se répète, prévenez l'administrateur.",
        }
    else:
        fields = {"status": ExportStatus.DONE, "content": content, "progress": 100, "step": ""}
    ReportExport.objects.filter(pk=export.pk).update(
        finished_at=timezone.now(), seconds=time.monotonic() - started, **fields
    )
