"""Tabular downloads as French spreadsheet users expect them."""

import csv
import datetime
import io

from django.http import HttpResponse, StreamingHttpResponse
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font

CSV_TYPE = "text/csv; charset=utf-8"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class _Echo:
    def write(self, value):
        return value


def csv_response(filename, headers, rows):
    """Semicolon-separated UTF-8 with a BOM, so that Excel opens accents and columns right."""
    writer = csv.writer(_Echo(), delimiter=";", lineterminator="\r\n")

    def lines():
        yield "\ufeff" + writer.writerow(headers)
        for row in rows:
            yield writer.writerow(["" if v is None else _csv_value(v) for v in row])

    response = StreamingHttpResponse(lines(), content_type=CSV_TYPE)
    response["Content-Disposition"] = f'attachment; filename="{filename}.csv"'
    return response


def _csv_value(value):
    if isinstance(value, bool):
        return "oui" if value else "non"
    if isinstance(value, datetime.date):
        return value.strftime("%d/%m/%Y")
    return value


EUROS_FORMAT = '#,##0.00 "€"'


def xlsx_response(filename, headers, rows, sheet_title="Données", formats=None):
    """`formats`: {column index: number format}, e.g. EUROS_FORMAT for amounts."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(sheet_title[:31])
    bold = Font(bold=True)
    formats = formats or {}

    def shown(index, value):
        if isinstance(value, bool):
            return "oui" if value else "non"
        if index in formats and value is not None:
            formatted = WriteOnlyCell(sheet, value=value)
            formatted.number_format = formats[index]
            return formatted
        return value

    header_cells = []
    for title in headers:
        cell = WriteOnlyCell(sheet, value=title)
        cell.font = bold
        header_cells.append(cell)
    sheet.append(header_cells)
    for row in rows:
        sheet.append([shown(i, v) for i, v in enumerate(row)])
    buffer = io.BytesIO()
    workbook.save(buffer)
    response = HttpResponse(buffer.getvalue(), content_type=XLSX_TYPE)
    response["Content-Disposition"] = f'attachment; filename="{filename}.xlsx"'
    return response


def tabular_response(fmt, filename, headers, rows, sheet_title="Données"):
    if fmt == "xlsx":
        return xlsx_response(filename, headers, rows, sheet_title)
    return csv_response(filename, headers, rows)
