"""Tabular downloads as French spreadsheet users expect them."""

import csv
import datetime
import decimal
import functools
import hashlib
import io
from pathlib import Path

from django.core.cache import caches
from django.http import HttpResponse, StreamingHttpResponse
from django.utils import timezone
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ERROR_CODES, ILLEGAL_CHARACTERS_RE, Cell
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter

CSV_TYPE = "text/csv; charset=utf-8"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class _Echo:
    def write(self, value):
        return value


@functools.cache
def code_stamp():
    """The code that makes the files, as deployed: every module and template, by size and time of change. A
    deploy (a new checkout) makes new keys, so a file made by the previous code is never served again."""
    digest = hashlib.sha256()
    root = Path(__file__).resolve().parents[1]  # cadre/
    for path in sorted(root.rglob("*")):
        if path.suffix in (".py", ".html", ".txt") and path.is_file():
            stat = path.stat()
            digest.update(f"{path.relative_to(root)}:{stat.st_size}:{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def cached_file(key_parts, build):
    """The bytes `build()` makes, kept in the « documents » cache under `key_parts`, which must name
    everything they are made of (a stamp of the data's last change, the choices asked for): a change to
    any of them, or to the code, makes a new file, and an old one is never served."""
    key = "file:" + hashlib.sha256(repr((code_stamp(), *key_parts)).encode()).hexdigest()
    documents = caches["documents"]
    content = documents.get(key)
    if content is None:
        content = build()
        documents.set(key, content)
    return content


def csv_bytes(headers, rows):
    """The whole CSV file of `csv_response`, for a file kept by `cached_file`."""
    writer = csv.writer(_Echo(), delimiter=";", lineterminator="\r\n")
    lines = ["\ufeff" + writer.writerow(headers)]
    lines += (writer.writerow(["" if v is None else _csv_value(v) for v in row]) for row in rows)
    return "".join(lines).encode()


def file_response(content, filename, fmt):
    """A download of bytes already made: `fmt` "csv" or "xlsx" (a CSV streams, as from `csv_response`)."""
    if fmt == "xlsx":
        response = HttpResponse(content, content_type=XLSX_TYPE)
    else:
        response = StreamingHttpResponse([content], content_type=CSV_TYPE)
    response["Content-Disposition"] = f'attachment; filename="{filename}.{fmt}"'
    return response


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


EUROS_FORMAT = '#,##0.00 "€"'  # shown « 12 345,50 € » by a French Excel or LibreOffice
DATE_FORMAT = "DD/MM/YYYY"
DATETIME_FORMAT = "DD/MM/YYYY HH:MM"
INTEGER_FORMAT = "#,##0"
DECIMAL_FORMAT = "#,##0.##"
SHEET_TITLE_LIMIT = 31  # Excel refuses longer sheet names
MIN_WIDTH, MAX_WIDTH = 6, 60
# Rows read to fit the column widths: enough to see the content, bounded for national exports.
WIDTH_SAMPLE = 2_000
_SMALL_WORDS = {
    "de",
    "des",
    "du",
    "d",
    "la",
    "le",
    "les",
    "l",
    "et",
    "à",
    "au",
    "aux",
    "en",
    "par",
    "pour",
    "sur",
    "un",
    "une",
    "où",
    "dont",
    "qui",
}


class Styled:
    """A value with its own number format, for a column whose rows have different units."""

    __slots__ = ("value", "number_format")

    def __init__(self, value, number_format):
        self.value, self.number_format = value, number_format


def sheet_title(text, used):
    """A sheet name Excel accepts (31 characters, none of []:*?/\\), unique among `used` (which it joins),
    shortened by whole words — never cut in the middle of one — and without a dangling « de » or « et »."""
    clean = " ".join("".join(" " if c in "[]:*?/\\" else c for c in str(text)).split()) or "Feuille"

    def fitted(limit):
        if len(clean) <= limit:
            return clean
        words, kept = clean.split(" "), []
        for word in words:
            if len(" ".join([*kept, word])) > limit:
                break
            kept.append(word)
        while len(kept) > 1 and (kept[-1].casefold().strip("'’,;.-") in _SMALL_WORDS or not kept[-1].strip("'’,;.-")):
            kept.pop()
        # A first word longer than the limit (rare): only then is a word cut.
        return " ".join(kept).rstrip(" ,;:-–—") if kept else clean[:limit]

    name, number = fitted(SHEET_TITLE_LIMIT), 2
    while name.casefold() in {u.casefold() for u in used}:
        suffix = f" ({number})"
        name, number = fitted(SHEET_TITLE_LIMIT - len(suffix)) + suffix, number + 1
    used.add(name)
    return name


def _shown_width(value, number_format):
    """About how many characters a cell takes once displayed."""
    if value is None:
        return 0
    if isinstance(value, datetime.datetime):
        return 16
    if isinstance(value, datetime.date):
        return 10
    if isinstance(value, bool):
        return 3
    if isinstance(value, (int, float, decimal.Decimal)):
        digits = len(f"{abs(value):,.2f}" if number_format and "0.00" in number_format else f"{abs(value):,}")
        unit = 2 if number_format and '"' in number_format else 0
        return digits + unit + (1 if value < 0 else 0)
    text = str(value)
    return max((len(line) for line in text.splitlines()), default=0)


def _safe_text(sheet, value):
    """A text that openpyxl would take for a formula or an error code is written as text."""
    if value[:1] == "=" or value in ERROR_CODES or ILLEGAL_CHARACTERS_RE.search(value):
        cell = WriteOnlyCell(sheet, value=ILLEGAL_CHARACTERS_RE.sub("", value))
        cell.data_type = "s"
        return cell
    return value


def add_table_sheet(workbook, title, headers, rows, *, formats=None, freeze="A2", caption=None, wrap=False):
    """One finished table in a write-only `workbook`, the same for every export of Cadre: the header row
    bold, frozen and auto-filtered, column widths fitted to the content, dates written dd/mm/yyyy,
    amounts « # ##0,00 € », numbers kept as numbers.

    `formats`: {column index: number format} (EUROS_FORMAT for amounts…); `caption`: a title line above
    the header; `freeze`: the first cell that scrolls (the panes frozen above and left of it); `wrap`:
    long texts wrap within their column (a codebook).
    """
    formats = formats or {}
    rows = rows if isinstance(rows, list) else list(rows)
    sheet = workbook.create_sheet(title)
    header_line = 2 if caption else 1
    widths = [len(str(h)) for h in headers]
    for row in rows[:WIDTH_SAMPLE]:
        for index, value in enumerate(row):
            if isinstance(value, (Cell, Styled)):
                shown = _shown_width(value.value, getattr(value, "number_format", None))
            else:
                shown = _shown_width(value, formats.get(index))
            if index >= len(widths):
                widths.append(shown)
            elif shown > widths[index]:
                widths[index] = shown
    for index, width in enumerate(widths):
        sheet.column_dimensions[get_column_letter(index + 1)].width = min(max(width + 2, MIN_WIDTH), MAX_WIDTH)
    if freeze:
        column = "".join(c for c in freeze if c.isalpha())
        sheet.freeze_panes = f"{column}{header_line + 1}" if caption else freeze
    if headers:
        last = get_column_letter(max(len(headers), 1))
        sheet.auto_filter.ref = f"A{header_line}:{last}{header_line + len(rows)}"
    bold = Font(bold=True)
    alignment = Alignment(wrap_text=True, vertical="top") if wrap else None
    if caption:
        cell = WriteOnlyCell(sheet, value=caption)
        cell.font = bold
        sheet.append([cell])
    header_cells = []
    for text in headers:
        cell = WriteOnlyCell(sheet, value=text)
        cell.font = bold
        header_cells.append(cell)
    sheet.append(header_cells)
    for row in rows:
        sheet.append([_xlsx_value(sheet, index, value, formats, alignment) for index, value in enumerate(row)])
    return sheet


def _xlsx_value(sheet, index, value, formats, alignment):
    if value is None or isinstance(value, Cell):
        return value
    if isinstance(value, Styled):
        if value.value is None:
            return None
        cell = WriteOnlyCell(sheet, value=value.value)
        cell.number_format = value.number_format
        return cell
    if isinstance(value, bool):
        value = "oui" if value else "non"
    if isinstance(value, str):
        value = _safe_text(sheet, value)
        if alignment is None or not isinstance(value, str):
            return value
    number_format = formats.get(index)
    if isinstance(value, datetime.datetime):
        number_format = number_format or DATETIME_FORMAT
        if value.tzinfo is not None:
            value = timezone.localtime(value).replace(tzinfo=None)
    elif isinstance(value, datetime.date):
        number_format = number_format or DATE_FORMAT
    if number_format is None and alignment is None:
        return value
    cell = WriteOnlyCell(sheet, value=value)
    if number_format:
        cell.number_format = number_format
    if alignment is not None:
        cell.alignment = alignment
    return cell


def new_workbook():
    return Workbook(write_only=True)


def workbook_bytes(workbook):
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def xlsx_bytes(headers, rows, sheet_title_text="Données", formats=None):
    workbook = new_workbook()
    add_table_sheet(workbook, sheet_title(sheet_title_text, set()), headers, rows, formats=formats)
    return workbook_bytes(workbook)


def xlsx_response(filename, headers, rows, sheet_title="Données", formats=None):
    """`formats`: {column index: number format}, e.g. EUROS_FORMAT for amounts; dates are formatted alone."""
    response = HttpResponse(xlsx_bytes(headers, rows, sheet_title, formats), content_type=XLSX_TYPE)
    response["Content-Disposition"] = f'attachment; filename="{filename}.xlsx"'
    return response


def table_bytes(fmt, headers, rows, sheet_title="Données"):
    """The file of `tabular_response` as bytes, for `cached_file`."""
    return xlsx_bytes(headers, rows, sheet_title) if fmt == "xlsx" else csv_bytes(headers, rows)


def tabular_response(fmt, filename, headers, rows, sheet_title="Données"):
    if fmt == "xlsx":
        return xlsx_response(filename, headers, rows, sheet_title)
    return csv_response(filename, headers, rows)
