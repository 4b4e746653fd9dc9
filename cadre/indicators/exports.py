"""The observatory report as files: the XLSX workbook of every table, and the PDF (prepared by the worker)."""

import io
import logging
import time

from django.utils import timezone
from openpyxl import Workbook
from openpyxl.styles import Font

from cadre.core.pdf import PdfUnavailable, render_pdf
from cadre.indicators import tasks
from cadre.indicators.models import ExportStatus, ReportExport
from cadre.indicators.report import build_report, campaign_title

logger = logging.getLogger(__name__)
BOLD = Font(bold=True)


def _sheet_title(text, used):
    """Excel sheet names: 31 characters, none of []:*?/\\, unique."""
    clean = "".join(" " if c in "[]:*?/\\" else c for c in text)[:31].strip()
    name, number = clean, 2
    while name in used:
        suffix = f" {number}"
        name, number = clean[: 31 - len(suffix)] + suffix, number + 1
    used.add(name)
    return name


def _number(value):
    return None if value is None else float(value)


def report_xlsx(report):
    """Every table of the report, one sheet each: numbers stay numbers, with the figure as shown beside."""
    workbook = Workbook(write_only=True)
    used = set()
    sheet = workbook.create_sheet(_sheet_title("Présentation", used))
    for line in [
        [f"{campaign_title(report.year)} — {report.name}"],
        [f"Données de l'année {report.year}, questionnaires validés ; édité le {timezone.localtime():%d/%m/%Y}."],
        [
            "Taux de réponse",
            _number(report.response["rate"]),
            f"{report.response['validated']} questionnaires validés sur {report.response['concerned']}",
        ],
    ]:
        sheet.append(line)
    for section in report.sections:
        sheet = workbook.create_sheet(_sheet_title(section.theme.label, used))
        comparisons = [label for label, _ in section.rows[0].comparisons]
        sheet.append(
            [
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
        )
        for row in section.rows:
            value = row.value
            sheet.append(
                [
                    row.indicator.title,
                    row.indicator.code,
                    row.indicator.unit,
                    _number(value.value) if value else None,
                    row.text(value),
                    value.structure_count if value else 0,
                    _number(row.previous.value) if row.previous else None,
                    *[_number(v.value) if v else None for _, v in row.comparisons],
                    value.reason if value else "",
                    row.indicator.method,
                ]
            )
        for figure in section.figures:
            _figure_sheet(workbook, figure, used)
    if report.map is not None:
        _figure_sheet(workbook, report.map, used)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _figure_sheet(workbook, figure, used):
    sheet = workbook.create_sheet(_sheet_title(figure.table.caption, used))
    sheet.append([figure.table.caption])
    sheet.append(list(figure.table.headers))
    for row in figure.table.rows:
        sheet.append(list(row))


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
