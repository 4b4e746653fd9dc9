"""The one XLSX helper of every export (core.exports): read back with openpyxl as Excel would open it."""

import datetime
import decimal
import io

from openpyxl import load_workbook

from cadre.core import exports
from cadre.core.exports import DATE_FORMAT, EUROS_FORMAT, sheet_title, xlsx_response


def read(response):
    return load_workbook(io.BytesIO(response.content)).active


def test_a_workbook_looks_finished_header_frozen_filtered_widths_fitted_french_formats():
    headers = ["Structure", "Date de la décision", "Voté (€)", "Actif", "Note"]
    rows = [
        [
            "Centre social des Buers — Villeurbanne",
            datetime.date(2025, 3, 14),
            decimal.Decimal("12345.5"),
            True,
            "=1+1",
        ],
        ["EVS", datetime.date(2024, 12, 1), 800, False, None],
    ]
    sheet = read(xlsx_response("essai", headers, rows, "Financements", formats={2: EUROS_FORMAT}))
    assert sheet.title == "Financements"
    assert sheet.freeze_panes == "A2" and sheet.auto_filter.ref == "A1:E3"
    assert [c.font.b for c in sheet[1]] == [True] * 5
    widths = {letter: sheet.column_dimensions[letter].width for letter in "ABCDE"}
    # Fitted to the longest content (the name), the header (the date's), and never narrower than a few letters.
    assert widths["A"] == len(rows[0][0]) + 2 and widths["B"] == len("Date de la décision") + 2
    assert widths["D"] >= 6 and widths["A"] > widths["C"] > widths["D"]
    date, amount, active, formula = sheet["B2"], sheet["C2"], sheet["D2"], sheet["E2"]
    assert date.is_date and date.value == datetime.datetime(2025, 3, 14) and date.number_format == DATE_FORMAT
    assert amount.data_type == "n" and amount.value == 12345.5 and amount.number_format == '#,##0.00 "€"'
    assert sheet["C3"].value == 800 and sheet["C3"].number_format == EUROS_FORMAT
    assert active.value == "oui" and sheet["D3"].value == "non"
    # A text that looks like a formula stays a text (no formula injection).
    assert formula.data_type == "s" and formula.value == "=1+1"


def test_long_columns_are_capped_and_aware_datetimes_are_local():
    moment = datetime.datetime(2025, 6, 1, 10, 30, tzinfo=datetime.UTC)
    sheet = read(xlsx_response("essai", ["Texte", "Moment"], [["x" * 300, moment]]))
    assert sheet.column_dimensions["A"].width == 60
    assert (
        sheet["B2"].value == datetime.datetime(2025, 6, 1, 12, 30) and sheet["B2"].number_format == "DD/MM/YYYY HH:MM"
    )


def test_sheet_names_are_shortened_by_whole_words_and_unique():
    used = set()
    long = "Part des structures où un partenaire tient une permanence"
    # Cut after whole words, without a dangling « où un »: not « Part des structures où un parte ».
    assert sheet_title(long, used) == "Part des structures"
    assert sheet_title(long, used) == "Part des structures (2)"
    assert sheet_title("part des structures", used) == "part des structures (3)"
    assert sheet_title("Ressources humaines : salariés / bénévoles [2025]", set()) == "Ressources humaines salariés"
    assert sheet_title("Budget de la structure et subventions", set()) == "Budget de la structure"
    assert sheet_title("Présentation", used) == "Présentation"


def test_a_kept_file_is_made_again_after_a_deploy_changes_the_code(monkeypatch, settings):
    settings.CACHES = {**settings.CACHES, "documents": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    made = []

    def build():
        made.append(1)
        return b"fichier"

    assert exports.cached_file(["rapport", 2025], build) == b"fichier"
    exports.cached_file(["rapport", 2025], build)
    assert len(made) == 1  # the same data and code: kept
    monkeypatch.setattr(exports, "code_stamp", lambda: "une autre version du code")
    exports.cached_file(["rapport", 2025], build)
    assert len(made) == 2
