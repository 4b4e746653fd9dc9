"""Observatory answers as spreadsheets: one row per structure, one column per question code.

`export_xlsx` / `export_csv` write a campaign's answers (what the user may see); `check_file`
reads a file in the same format and says, cell by cell, what cannot be written, without writing
anything; `cadre.exchanges.actions.apply_import` writes a checked file in one transaction.

Every database read here is one query for all rows (or a few, by chunks): the sheets have
thousands of rows and a hundred columns.
"""

import codecs
import csv
import dataclasses
import datetime
import decimal
import hashlib
import io
import json
import unicodedata
import uuid
import zipfile

from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import timezone
from openpyxl import load_workbook
from openpyxl.cell.read_only import ReadOnlyCell
from openpyxl.utils import get_column_letter
from openpyxl.utils.exceptions import InvalidFileException

from cadre.core.exports import EUROS_FORMAT, add_table_sheet, cached_file, new_workbook
from cadre.observatory import entry, expressions, permissions
from cadre.observatory.models import (
    NUMERIC_KINDS,
    TEXT_LIMITS,
    Answer,
    QuestionKind,
    RuleLevel,
    Submission,
    SubmissionStatus,
    asked_questions,
    check_answers,
    format_number,
)
from cadre.structures.models import StructureKind

ID_COLUMN = "identifiant"
# Informative columns (not read back) are named in words that cannot be question codes (those are
# lowercase without accents): the shipped questionnaire has questions coded `etat` and `departement`.
INFORMATIVE_COLUMNS = ["Structure", "Type", "Commune", "Département", "État de la saisie"]
FIXED_COLUMNS = [ID_COLUMN, *INFORMATIVE_COLUMNS]


def _plain(text):
    """Lowercase without accents: « État de la saisie » → « etat de la saisie »."""
    return unicodedata.normalize("NFKD", text.casefold()).encode("ascii", "ignore").decode()


# How the informative titles may come back, retyped: they are skipped unless they are a question's code.
INFORMATIVE = {_plain(title) for title in INFORMATIVE_COLUMNS} | {"type de structure", "departement", "etat"}
CODEBOOK_HEADERS = [
    "code",
    "rubrique",
    "libellé",
    "type",
    "unité",
    "bornes",
    "obligatoire",
    "posée si",
    "structures concernées",
    "choix",
]
ANSWERS_SHEET = "Réponses"
CODEBOOK_SHEET = "Codebook"
CHOICE_SEPARATOR = " ; "

MAX_FILE_SIZE = 20 * 1024 * 1024
MAX_ROWS = 20_000
MAX_COLUMNS = 1_000
# Errors, warnings and notes kept in the stored report (their counts are always exact); changes listed.
MAX_STORED_ERRORS = 1_000
MAX_STORED_CHANGES = 10_000
# Chunks of ids in one IN (…) list, well under SQLite's limit on query parameters.
CHUNK = 500

KIND_PLURALS = {StructureKind.CENTRE_SOCIAL: "centres sociaux", StructureKind.EVS: "espaces de vie sociale"}
# A text starting with one of these is run as a formula by spreadsheets opening a CSV: the export
# prefixes it with an apostrophe, and the import takes that apostrophe off again.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# Statuses in which a correspondant or an administrator must first return the submission.
LOCKED_FOR_REVIEWERS = {SubmissionStatus.SUBMITTED, SubmissionStatus.RESUBMITTED, SubmissionStatus.VALIDATED}


def _questions(campaign):
    return list(campaign.questionnaire.questions.select_related("section").order_by("position"))


def _asked_kinds(question):
    return [kind for kind in question.applies_to if question.section.applies(kind)]


# -- export --------------------------------------------------------------------------------------


def _excel_number(value):
    integral = value.to_integral_value()
    return int(integral) if value == integral else float(value)


def _french_number(value):
    return f"{value.normalize():f}".replace(".", ",")


def _csv_text(text):
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def _converter(question, fmt):
    """A function (number, text, codes) → the cell of an answer in `fmt` ("xlsx" or "csv")."""
    kind = question.kind
    if kind in NUMERIC_KINDS:
        number = _excel_number if fmt == "xlsx" else _french_number
        return lambda n, t, c: None if n is None else number(n)
    if kind == QuestionKind.BOOLEAN:
        return lambda n, t, c: None if n is None else ("oui" if n == 1 else "non")
    if kind == QuestionKind.MULTIPLE_CHOICE:
        return lambda n, t, c: CHOICE_SEPARATOR.join(c) if c else None
    if kind == QuestionKind.CHOICE:
        return lambda n, t, c: t or None
    if fmt == "csv":
        return lambda n, t, c: _csv_text(t) if t else None
    return lambda n, t, c: t or None


def answer_table(campaign, user, fmt, questions=None):
    """(headers, rows) of the answers of `campaign` that `user` may see, cells ready for `fmt`.

    Rows by département then structure name; answers read in one query.
    """
    questions = _questions(campaign) if questions is None else questions
    headers = FIXED_COLUMNS + [q.code for q in questions]
    submissions = Submission.objects.visible_to(user).filter(campaign=campaign)
    rows, row_of = [], {}
    width = len(FIXED_COLUMNS)
    kinds, statuses = dict(StructureKind.choices), dict(SubmissionStatus.choices)
    for pk, structure_uuid, name, kind, commune, department, status in submissions.order_by(
        "structure__commune__department_id", "structure__name", "pk"
    ).values_list(
        "pk",
        "structure__uuid",
        "structure__name",
        "structure__kind",
        "structure__commune__name",
        "structure__commune__department_id",
        "status",
    ):
        row_of[pk] = len(rows)
        rows.append([str(structure_uuid), name, kinds.get(kind, kind), commune, department, statuses[status]])
        rows[-1].extend([None] * len(questions))
    if not rows:
        return headers, rows
    column_of = {q.pk: width + index for index, q in enumerate(questions)}
    convert = {q.pk: _converter(q, fmt) for q in questions}
    answers = Answer.objects.filter(submission__in=submissions).values_list(
        "submission_id", "question_id", "number", "text", "codes"
    )
    for submission_id, question_id, number, text, codes in answers.iterator(chunk_size=5000):
        rows[row_of[submission_id]][column_of[question_id]] = convert[question_id](number, text, codes)
    return headers, rows


def codebook_rows(campaign, questions=None):
    """One row per column of the answers sheet: what it holds and how it is read back."""
    kinds = dict(StructureKind.choices)
    rows = [
        [
            ID_COLUMN,
            "Identification",
            "Identifiant de la structure dans Cadre : c'est lui que lit l'import, ne le modifiez pas.",
            "identifiant",
            "",
            "",
            "oui",
            "",
            "",
            "",
        ],
        *(
            [
                title,
                "Identification",
                f"{label} (pour information : non lu à l'import)",
                "texte",
                "",
                "",
                "",
                "",
                "",
                "",
            ]
            for title, label in zip(
                INFORMATIVE_COLUMNS,
                ["Nom de la structure", "Type de structure", "Commune", "Code du département", "État de la saisie"],
                strict=True,
            )
        ),
    ]
    for question in _questions(campaign) if questions is None else questions:
        bounds = question.bounds_label
        if not bounds and question.kind == QuestionKind.PERCENTAGE:
            bounds = "de 0 à 100"
        asked = _asked_kinds(question)
        rows.append(
            [
                question.code,
                question.section.title,
                question.label,
                question.get_kind_display(),
                question.display_unit,
                bounds,
                "oui" if question.required else "non",
                question.shown_if,
                "toutes" if len(asked) == len(kinds) else ", ".join(KIND_PLURALS.get(k, k) for k in asked),
                "\n".join(f"{c['code']} = {c['label']}" for c in question.choices),
            ]
        )
    return rows


def export_xlsx(campaign, user, stream=None):
    """The answers sheet and its codebook as an XLSX file: bytes, or written to `stream`."""
    questions = _questions(campaign)
    headers, rows = answer_table(campaign, user, "xlsx", questions)
    amounts = {len(FIXED_COLUMNS) + i: EUROS_FORMAT for i, q in enumerate(questions) if q.kind == QuestionKind.AMOUNT}
    workbook = new_workbook()
    add_table_sheet(workbook, ANSWERS_SHEET, headers, rows, formats=amounts, freeze="C2")
    add_table_sheet(
        workbook, CODEBOOK_SHEET, CODEBOOK_HEADERS, codebook_rows(campaign, questions), freeze="B2", wrap=True
    )
    target = stream if stream is not None else io.BytesIO()
    workbook.save(target)
    return None if stream is not None else target.getvalue()


def _csv_bytes(headers, rows):
    """Semicolon-separated UTF-8 with a BOM, as core.exports writes it for Excel."""
    buffer = io.StringIO()
    buffer.write("\ufeff")
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow(headers)
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")


def export_csv(campaign, user):
    """The answers sheet as CSV bytes (semicolons, decimal comma, UTF-8 with a BOM); no codebook."""
    return _csv_bytes(*answer_table(campaign, user, "csv"))


def cached_export(campaign, user, fmt):
    """`export_xlsx` or `export_csv` bytes, made again only when one of their rows changed: the key names
    each visible submission with its and its structure's last change (every answer written, by hand or
    by an import, moves its submission's `updated_at`), so a change of scope or of data makes a new file."""
    submissions = Submission.objects.visible_to(user).filter(campaign=campaign).order_by("pk")
    stamp = tuple(submissions.values_list("pk", "updated_at", "structure__updated_at"))
    make = export_xlsx if fmt == "xlsx" else export_csv
    return cached_file(("answers-export", campaign.pk, fmt, stamp), lambda: make(campaign, user))


_codebooks = {}


def export_codebook_csv(campaign):
    """The codebook as CSV bytes, made once per process and questionnaire version: it describes the questions
    only, and is kept under the key of `entry.definition` (a loaded version never changes in place)."""
    questionnaire = campaign.questionnaire
    key = entry.version_key(questionnaire)
    found = _codebooks.get(key)
    if found is None:
        if len(_codebooks) > 50:
            _codebooks.clear()
        _, questions, _ = entry.definition(questionnaire)
        found = _codebooks[key] = _csv_bytes(CODEBOOK_HEADERS, codebook_rows(campaign, questions))
    return found


# -- reading a file ------------------------------------------------------------------------------


class FileRefused(ValueError):
    """The file cannot be read as a spreadsheet; the message (French) is shown at the file field."""


@dataclasses.dataclass
class Table:
    rows: list  # (row number as the spreadsheet shows it, cells)
    description: str


NOT_A_SHEET = "Ce fichier n'est pas un tableur : envoyez un fichier Excel (.xlsx) ou CSV."


def _decode(content):
    if content.startswith(codecs.BOM_UTF8):
        encodings = [("utf-8-sig", "UTF-8")]
    elif content.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encodings = [("utf-16", "UTF-16")]
    elif b"\x00" in content[:8192]:
        raise FileRefused(NOT_A_SHEET)
    else:
        encodings = [("utf-8", "UTF-8"), ("cp1252", "Windows-1252")]
    for encoding, label in encodings:
        try:
            return content.decode(encoding), label
        except UnicodeDecodeError:
            continue
    raise FileRefused(
        "Les caractères de ce fichier ne sont lisibles ni en UTF-8 ni en Windows-1252 : enregistrez-le depuis "
        "votre tableur au format « CSV UTF-8 (délimité par des points-virgules) » ou au format Excel (.xlsx)."
    )


DELIMITERS = {";": "point-virgule", ",": "virgule", "\t": "tabulation"}


def _read_csv(content):
    text, encoding = _decode(content)
    if "\x00" in text:
        raise FileRefused(NOT_A_SHEET)
    first = next((line for line in text.splitlines() if line.strip()), "")
    # The header holds question codes, never quoted separators: counting is enough.
    delimiter = max(DELIMITERS, key=first.count) if any(d in first for d in DELIMITERS) else ";"
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        rows = [(number, row) for number, row in enumerate(reader, start=1)]
    except csv.Error as error:
        raise FileRefused(f"Ce fichier CSV est mal formé (ligne {reader.line_num}) : {error}.") from None
    return Table(rows, f"CSV en {encoding}, séparateur {DELIMITERS[delimiter]}")


class _Percent(float):
    """A number shown as a percentage in its workbook: « 45 % » typed in Excel is stored as 0.45."""


def _shows_percentages(workbook, sheet):
    """Whether a cell style of the workbook shows numbers as percentages: only then are cells read
    one by one (a third slower than bare values). True when openpyxl's styles cannot be listed."""
    try:
        count = len(workbook._cell_styles)
    except (AttributeError, TypeError):
        return True
    return any("%" in ReadOnlyCell(sheet, 1, 1, None, style_id=i).number_format for i in range(count))


def _cell_value(cell):
    value = cell.value
    if value.__class__ in (int, float) and cell.has_style and "%" in cell.number_format:
        return _Percent(value)
    return value


def _too_many_rows():
    return FileRefused(f"Ce fichier a plus de {format_number(MAX_ROWS)} lignes : découpez-le.")


def _read_xlsx(content):
    unreadable = FileRefused(
        "Ce classeur est illisible (fichier abîmé, ou qui n'est pas au format Excel .xlsx) : enregistrez-le à "
        "nouveau depuis votre tableur au format .xlsx, ou au format CSV."
    )
    try:
        workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, ValueError, OSError, SyntaxError):
        raise unreadable from None
    try:
        names = workbook.sheetnames
        name = ANSWERS_SHEET if ANSWERS_SHEET in names else next((n for n in names if n != CODEBOOK_SHEET), names[0])
        sheet = workbook[name]
        # Some tools write a wrong size in the file: read every row that is there.
        sheet.reset_dimensions()
        rows = []
        percentages = _shows_percentages(workbook, sheet)
        for number, cells in enumerate(sheet.iter_rows(values_only=not percentages), start=1):
            if number > MAX_ROWS + 1:
                raise _too_many_rows()
            if percentages:
                cells = [_cell_value(cell) for cell in cells]
            rows.append((number, cells))
    except FileRefused:
        raise
    except (zipfile.BadZipFile, KeyError, ValueError, OSError, SyntaxError):
        raise unreadable from None
    finally:
        workbook.close()
    return Table(rows, f"classeur Excel, feuille « {name} »")


def read_table(name, content):
    """The rows of an uploaded file (XLSX, or CSV in the encodings French spreadsheets write)."""
    if not content:
        raise FileRefused("Le fichier est vide.")
    if len(content) > MAX_FILE_SIZE:
        raise FileRefused(f"Le fichier pèse plus de {MAX_FILE_SIZE // (1024 * 1024)} Mo : découpez-le.")
    if content.startswith(b"PK\x03\x04"):
        if b"opendocument" in content[:200] or name.lower().endswith(".ods"):
            raise FileRefused(
                "Les classeurs OpenDocument (.ods) ne sont pas lus : enregistrez celui-ci au format Excel (.xlsx) "
                "ou CSV depuis votre tableur."
            )
        return _read_xlsx(content)
    if content.startswith(b"\xd0\xcf\x11\xe0"):
        raise FileRefused(
            "Ce fichier est au format Excel 97-2003 (.xls) ou protégé par un mot de passe : enregistrez-le au format "
            "Excel (.xlsx), sans mot de passe, ou au format CSV."
        )
    if content.startswith(b"%PDF"):
        raise FileRefused("Ce fichier est un PDF, pas un tableur : envoyez un fichier Excel (.xlsx) ou CSV.")
    return _read_csv(content)


# -- checking an import --------------------------------------------------------------------------


def _blank(value):
    return value is None or (isinstance(value, str) and not value.strip())


def _cell_input(kind, raw):
    """A cell as Question.parse reads it: the numbers of a workbook stay numbers, the rest becomes text."""
    if isinstance(raw, str):
        if kind in TEXT_LIMITS and raw[:1] == "'" and raw[1:2] and raw[1:2] in FORMULA_STARTS:
            return raw[1:]
        return raw
    if isinstance(raw, bool):
        return raw if kind in NUMERIC_KINDS or kind == QuestionKind.BOOLEAN else ("oui" if raw else "non")
    if raw.__class__ is _Percent:
        raw = float(raw) * 100 if kind == QuestionKind.PERCENTAGE else float(raw)
    if isinstance(raw, float):
        # A float read from a workbook carries binary noise (0.1 + 0.2): keep 15 significant digits, as Excel shows.
        raw = int(raw) if raw.is_integer() else decimal.Decimal(format(raw, ".15g"))
    if isinstance(raw, (int, decimal.Decimal)):
        if kind in NUMERIC_KINDS or kind == QuestionKind.BOOLEAN:
            return raw
        return str(raw).replace(".", ",")
    if isinstance(raw, datetime.datetime):
        return raw.strftime("%d/%m/%Y %H:%M" if raw.time() != datetime.time() else "%d/%m/%Y")
    if isinstance(raw, datetime.date):
        return raw.strftime("%d/%m/%Y")
    if isinstance(raw, datetime.time):
        return raw.strftime("%H:%M")
    return str(raw)


def _shown(raw):
    text = raw if isinstance(raw, str) else _cell_input(QuestionKind.TEXT, raw)
    text = text.strip()
    return text if len(text) <= 40 else text[:39] + "…"


@dataclasses.dataclass(slots=True)
class Write:
    """One answer to write; `version` is the stored answer's (0 when there is none)."""

    submission_id: int
    question: object
    value: object
    version: int
    before: object = None


@dataclasses.dataclass
class Report:
    """What a file would change, or why it cannot be applied; `errors` are dicts (stored as JSON)."""

    description: str = ""
    columns: list = dataclasses.field(default_factory=list)
    errors: list = dataclasses.field(default_factory=list)
    error_count: int = 0
    structures: int = 0
    answers: int = 0
    created: int = 0
    updated: int = 0
    cleared: int = 0
    unchanged: int = 0
    fingerprints: dict = dataclasses.field(default_factory=dict)
    warnings: list = dataclasses.field(default_factory=list)
    warning_count: int = 0
    notes: list = dataclasses.field(default_factory=list)
    skipped: int = 0
    changes: list = dataclasses.field(default_factory=list)
    # Not stored: what `apply_import` writes.
    writes: list = dataclasses.field(default_factory=list)
    submissions: dict = dataclasses.field(default_factory=dict)
    rows: dict = dataclasses.field(default_factory=dict)
    questions: list = dataclasses.field(default_factory=list)
    rule_questions: list = dataclasses.field(default_factory=list)  # read by the rules, not in the file

    @property
    def ok(self):
        return self.error_count == 0

    @property
    def changed(self):
        return self.created + self.updated + self.cleared

    def add(self, message, row=None, column=None, header="", structure=""):
        """Record an error at (row, column index); the sentence says where, then why."""
        self.error_count += 1
        if len(self.errors) < MAX_STORED_ERRORS:
            self.errors.append(_placed(message, row, column, header, structure))

    def warn(self, message, row=None, column=None, header="", structure=""):
        """Record a warning: shown with the report, it does not stop the import."""
        self.warning_count += 1
        if len(self.warnings) < MAX_STORED_ERRORS:
            self.warnings.append(_placed(message, row, column, header, structure))

    def skip(self, message, row, structure):
        """A row left out without being an error (a locked questionnaire the file does not change)."""
        self.skipped += 1
        if len(self.notes) < MAX_STORED_ERRORS:
            self.notes.append(_placed(message, row, None, "", structure))

    def change(self, row, structure, write):
        """A cell that applying the import changes, with its value before and after, as users read them."""
        if len(self.changes) < MAX_STORED_CHANGES:
            question = write.question
            self.changes.append(
                {
                    "row": row,
                    "structure": structure,
                    "code": question.code,
                    "label": question.label,
                    "before": _with_unit(question, write.before),
                    "after": _with_unit(question, write.value),
                }
            )

    def sort(self):
        """Errors and warnings in the order of the sheet: header first, then by row and column."""
        for found in (self.errors, self.warnings):
            found.sort(key=lambda e: (e["row"] or 0, len(e["column"]), e["column"]))

    def as_json(self):
        return {
            "description": self.description,
            "columns": self.columns,
            "errors": self.errors,
            "error_count": self.error_count,
            "structures": self.structures,
            "answers": self.answers,
            "created": self.created,
            "updated": self.updated,
            "cleared": self.cleared,
            "unchanged": self.unchanged,
            "changed": self.changed,
            "fingerprints": self.fingerprints,
            "warnings": self.warnings,
            "warning_count": self.warning_count,
            "notes": self.notes,
            "skipped": self.skipped,
            "changes": self.changes,
        }


def _with_unit(question, value):
    """A value as users read it, numbers with their unit: « 95 % », « 12 345,5 € », « 12 personnes »."""
    shown = question.display(value)
    unit = question.display_unit if question.kind in NUMERIC_KINDS and value is not None else ""
    return f"{shown}\u00a0{unit}" if unit else shown


def _placed(message, row, column, header, structure):
    """A message of the report as stored: its place (row, column letter) and the sentence that says it."""
    letter = get_column_letter(column + 1) if column is not None else ""
    place = []
    if row is not None:
        place.append(f"ligne {row}")
    if letter:
        place.append(f"colonne {letter}" + (f" ({header})" if header else ""))
    where = ", ".join(place)
    return {
        "row": row,
        "column": letter,
        "header": header,
        "structure": structure,
        "reason": message,
        "text": f"{where[:1].upper()}{where[1:]} : {message}" if where else message,
    }


def _locked_state(submission):
    """Why a row is not written, said briefly: for a row that changes nothing, a note, not an error."""
    name = submission.structure.name
    if submission.status == SubmissionStatus.VALIDATED:
        return f"La saisie de {name} est validée"
    if submission.status in LOCKED_FOR_REVIEWERS:
        return f"La saisie de {name} a été envoyée"
    return f"La saisie de {name} n'est pas modifiable par vous"


def _definition(campaign):
    """(questions with their section, rules) of the campaign's questionnaire, as the entry form reads them."""
    _, questions, rules = entry.definition(campaign.questionnaire)
    return questions, rules


def _rule_questions(questions, rules, file_questions):
    """The questions that the rules and the conditions read, other than the file's: read from the database."""
    codes = set()
    for rule in rules:
        codes |= expressions.parse(rule.condition)
    for question in questions:
        if question.shown_if:
            codes |= expressions.parse(question.shown_if)
    in_file = {q.pk for q in file_questions}
    return [q for q in questions if q.code in codes and q.pk not in in_file]


def _load_comments(submission_ids, rules, questions):
    """{submission id: {code: comment}} of the answers that justify a warning rule (settling it)."""
    codes = {code for rule in rules if rule.level == RuleLevel.WARNING for code in rule.question_codes}
    by_id = {q.pk: q.code for q in questions if q.code in codes}
    found = {}
    if not by_id or not submission_ids:
        return found
    ids = sorted(submission_ids)
    for start in range(0, len(ids), CHUNK):
        answers = Answer.objects.filter(submission_id__in=ids[start : start + CHUNK], question_id__in=list(by_id))
        for submission_id, question_id, comment in answers.exclude(comment="").values_list(
            "submission_id", "question_id", "comment"
        ):
            found.setdefault(submission_id, {})[by_id[question_id]] = comment
    return found


def _check_rules(report, definition, values, comments, changed_codes, place):
    """Apply the questionnaire's rules between questions to a row's answers once imported (`values`: the
    stored answers with the file's over them), as the entry form does. A failed blocking rule that reads a
    changed answer is an error at its question; a warning is reported; an answer given in the file to a
    question that its condition hides is reported. True when the row is stopped."""
    questions, rules, kind = definition
    number, structure_name, column_of_code = place
    blocked = False
    rule_codes = {rule.code: expressions.parse(rule.condition) for rule in rules}
    for issue in check_answers(questions, rules, kind, values, comments):
        if issue.is_missing or not (rule_codes.get(issue.rule_code, set()) & changed_codes):
            continue
        column = column_of_code.get(issue.question_code)
        where = {"row": number, "column": column, "structure": structure_name}
        where["header"] = issue.question_code if column is not None else ""
        if issue.is_error:
            blocked = True
            report.add(issue.message, **where)
        else:
            report.warn(issue.message, **where)
    asked = {q.code for q in asked_questions(questions, kind, values)}
    for question in questions:
        code = question.code
        if code in column_of_code and values.get(code) is not None and code not in asked and question.applies(kind):
            report.warn(
                f"cette question n'est posée que si « {question.shown_if} », ce qui n'est pas le cas de cette "
                "structure : sa réponse sera enregistrée mais restera masquée dans le questionnaire.",
                row=number,
                column=column_of_code[code],
                header=code,
                structure=structure_name,
            )
    return blocked


def _write_refusal(user, submission, reviewable, today):
    """Why `user` may not write the answers of `submission` now, in French ("" when they may)."""
    name = submission.structure.name
    status = submission.status
    if user.is_administrator or submission.pk in reviewable:
        if status == SubmissionStatus.VALIDATED:
            how = "rouvrez-la" if user.is_administrator else "demandez sa réouverture à l'administrateur"
            return f"La saisie de {name} est validée : {how} avant d'importer."
        if status in LOCKED_FOR_REVIEWERS:
            return (
                f"La saisie de {name} a été envoyée et attend sa relecture : renvoyez-la à la structure avant "
                "d'importer."
            )
        return ""
    if not permissions.can_fill(user, submission):
        return f"Vous ne pouvez pas modifier les réponses de {name} (il faut en être contributeur ou correspondant)."
    if submission.is_open_to_structure(today):
        return ""
    campaign = submission.campaign
    if status == SubmissionStatus.VALIDATED:
        return f"La saisie de {name} est validée : demandez sa réouverture à votre correspondant avant d'importer."
    if status in LOCKED_FOR_REVIEWERS:
        return (
            f"La saisie de {name} a été envoyée : elle est en relecture, et ne peut changer que si le correspondant "
            "vous la renvoie."
        )
    if today < campaign.opens_on:
        return f"La saisie de {name} n'ouvre que le {campaign.opens_on:%d/%m/%Y}."
    return f"La campagne est close depuis le {campaign.closes_on:%d/%m/%Y} : la saisie de {name} n'est plus possible."


def _header_code(raw):
    return "" if raw is None else str(raw).strip()


def _read_header(report, header, questions, row):
    """(index of the identifiant column or None, [(index, question)]); header faults go to `report`."""
    by_code = {q.code: q for q in questions}
    id_index, columns, seen = None, [], {}
    for index, raw in enumerate(header):
        code = _header_code(raw)
        if not code:
            continue
        # A question's code as written, else an informative title however it is spelt, else a code in capitals.
        if code not in by_code:
            code = ID_COLUMN if _plain(code) == ID_COLUMN else code
            if _plain(code) in INFORMATIVE:
                continue
            code = code.lower() if code.lower() in by_code else code
        if code in seen:
            report.add(
                f"« {code} » figure déjà en colonne {get_column_letter(seen[code] + 1)} : un code n'a qu'une "
                "colonne (celle-ci n'est pas lue).",
                row=row,
                column=index,
                header=code,
            )
            continue
        seen[code] = index
        if code == ID_COLUMN:
            id_index = index
        elif code in by_code:
            columns.append((index, by_code[code]))
        else:
            report.add(
                f"« {_shown(raw)} » n'est le code d'aucune question de ce questionnaire (les codes sont dans la "
                "feuille « Codebook » de l'export).",
                row=row,
                column=index,
                header=code,
            )
    return id_index, columns


def _load_answers(submission_ids, questions):
    """{(submission id, question id): (typed value, version)} of the stored answers to `questions`.

    One query per kind of column (number, text, codes) and chunk of submissions: each row then
    converts only the column it needs.
    """
    groups = {}
    for question in questions:
        if question.kind in NUMERIC_KINDS or question.kind == QuestionKind.BOOLEAN:
            column = "number"
        elif question.kind == QuestionKind.MULTIPLE_CHOICE:
            column = "codes"
        else:
            column = "text"
        groups.setdefault(column, {})[question.pk] = question.kind
    found = {}
    ids = sorted(submission_ids)
    for column, kinds in groups.items():
        for start in range(0, len(ids), CHUNK):
            answers = Answer.objects.filter(submission_id__in=ids[start : start + CHUNK], question_id__in=list(kinds))
            for submission_id, question_id, stored, version in answers.values_list(
                "submission_id", "question_id", column, "version"
            ):
                kind = kinds[question_id]
                if kind == QuestionKind.BOOLEAN:
                    value = None if stored is None else stored == 1
                elif kind == QuestionKind.MULTIPLE_CHOICE:
                    value = sorted(stored) if stored else None
                elif column == "text":
                    value = stored or None
                else:
                    value = stored
                found[(submission_id, question_id)] = (value, version)
    return found


class _Refused:
    """A cell's parse error, remembered like a value."""

    __slots__ = ("message",)

    def __init__(self, message):
        self.message = message


def _parser(question):
    """Question.parse on cells, remembering the results of repeated entries (0, oui, a choice…):
    parsing is most of the time of a check. Texts are parsed each time (they seldom repeat)."""
    kind, parse = question.kind, question.parse
    memo = None if kind in TEXT_LIMITS else {}

    def parsed(raw):
        key = (raw.__class__, raw)
        if memo is not None and key in memo:
            return memo[key]
        try:
            value = parse(_cell_input(kind, raw))
        except ValidationError as error:
            value = _Refused(" ".join(error.messages))
        if memo is not None:
            memo[key] = value
        return value

    return parsed


def _fingerprint(versions):
    return hashlib.sha256(repr(sorted(versions)).encode()).hexdigest()[:16]


def _submissions(campaign, ids=None):
    """The campaign's submissions (all, or those of `ids`) with what the checks need of their structure."""
    submissions = (
        Submission.objects.filter(campaign=campaign)
        .select_related("structure")
        .only(
            "pk",
            "status",
            "version",
            "campaign_id",
            "structure_id",
            "structure__uuid",
            "structure__name",
            "structure__kind",
        )
    )
    if ids is None:
        found = list(submissions)
    else:
        ids = sorted(ids)
        found = [
            s for start in range(0, len(ids), CHUNK) for s in submissions.filter(pk__in=ids[start : start + CHUNK])
        ]
    for submission in found:
        submission.campaign = campaign
    return found


def _scope(user, campaign, submissions):
    """(ids the user sees, ids the user reviews) among the campaign's submissions."""
    if user.is_administrator:
        ids = {s.pk for s in submissions}
        return ids, ids
    visible = set(Submission.objects.visible_to(user).filter(campaign=campaign).values_list("pk", flat=True))
    reviewable = set(Submission.objects.reviewable_by(user).filter(campaign=campaign).values_list("pk", flat=True))
    return visible, reviewable


def _lock_states(by_pk):
    """Lock the submissions of `by_pk` ({pk: Submission}), then read their state again: it may have
    changed since they were read (every answer save locks its submission the same way)."""
    ids = sorted(by_pk)
    for start in range(0, len(ids), CHUNK):
        for pk, status, version in (
            Submission.objects.select_for_update()
            .filter(pk__in=ids[start : start + CHUNK])
            .values_list("pk", "status", "version")
        ):
            by_pk[pk].status, by_pk[pk].version = status, version


def _stored_versions(submission_ids, question_ids):
    """{submission id: [(question id, version)]} of the stored answers to `question_ids`."""
    found = {}
    ids = sorted(submission_ids)
    for start in range(0, len(ids), CHUNK):
        answers = Answer.objects.filter(submission_id__in=ids[start : start + CHUNK], question_id__in=question_ids)
        for submission_id, question_id, version in answers.values_list("submission_id", "question_id", "version"):
            found.setdefault(submission_id, []).append((question_id, version))
    return found


def answer_rows(writes):
    """The database values of `writes`: [submission id, question id, number, text, codes as JSON, new
    version], numbers as the decimal text the column stores. Kept with the import as it is checked."""
    number_field = Answer._meta.get_field("number")
    rows = []
    for write in writes:
        kind, value = write.question.kind, write.value
        number, text, codes = None, "", None
        if value is None:
            pass
        elif kind in NUMERIC_KINDS:
            number = str(number_field.get_db_prep_save(value, connection))
        elif kind == QuestionKind.BOOLEAN:
            number = "1" if value else "0"
        elif kind == QuestionKind.MULTIPLE_CHOICE:
            codes = json.dumps(list(value))
        else:
            text = value
        rows.append([write.submission_id, write.question.pk, number, text, codes, write.version + 1])
    return rows


def recheck(campaign, user, pending, fingerprints, *, today=None):
    """Check again, under lock, what a dry run decided to write (`pending`: rows of the file, question
    ids, answer rows): the submissions' states, the user's rights, and that no answer of the file's
    columns changed since (its fingerprint). Returns a Report: errors, and `submissions` locked."""
    today = today or timezone.localdate()
    report = Report()
    rows = {int(pk): line for pk, line in pending["rows"].items()}
    found = {s.pk: s for s in _submissions(campaign, sorted(rows))}
    _lock_states(found)
    visible, reviewable = _scope(user, campaign, found.values())
    versions = _stored_versions(found, pending["columns"])
    for pk in sorted(rows, key=rows.get):
        submission = found.get(pk)
        if submission is None or pk not in visible:
            report.add(
                "aucune structure de cette campagne, dans votre périmètre, ne porte cet identifiant.", row=rows[pk]
            )
            continue
        name = submission.structure.name
        refusal = _write_refusal(user, submission, reviewable, today)
        if refusal:
            report.add(refusal, row=rows[pk], structure=name)
        elif _fingerprint(versions.get(pk, [])) != fingerprints.get(str(pk)):
            # Typed in the form, or another import: applying would overwrite it unseen.
            report.add(
                f"les réponses de {name} ont changé depuis la vérification du fichier : déposez-le à nouveau pour "
                "voir ce qu'il modifierait maintenant.",
                row=rows[pk],
                structure=name,
            )
        report.submissions[pk] = submission
    return report


def check_file(campaign, user, name, content, *, today=None, progress=None):
    """Read `content` (an uploaded file) as answers to `campaign` and check every cell; writes nothing.

    Returns a Report: its errors (row, column, French reason) or, when there are none, what
    applying it changes. FileRefused when the file cannot be read at all.
    `progress(percent)`, when given, is told how far the check is (reading the file: the first 40 %).
    """
    today = today or timezone.localdate()
    table = read_table(name, content)
    if progress:
        progress(40)
    report = Report(description=table.description)
    rows = [(number, cells) for number, cells in table.rows if any(not _blank(c) for c in cells)]
    if not rows:
        raise FileRefused("Le fichier ne contient aucune ligne : l'en-tête et une ligne par structure sont attendus.")
    header_number, header = rows[0]
    if len(header) > MAX_COLUMNS:
        raise FileRefused(f"Ce fichier a plus de {MAX_COLUMNS} colonnes : ce ne sont pas des réponses exportées.")
    questions = _questions(campaign)
    id_index, columns = _read_header(report, header, questions, header_number)
    report.columns = [q.code for _, q in columns]
    report.questions = [q for _, q in columns]
    if id_index is None and not columns:
        raise FileRefused(
            "Ce fichier ne ressemble pas à un fichier de réponses : sa première ligne ne contient ni la colonne "
            "« identifiant » ni aucun code de question. Partez du fichier exporté depuis cette page."
        )
    if id_index is None:
        report.add(
            "la colonne « identifiant » manque : c'est elle qui désigne la structure de chaque ligne (reprenez "
            "l'en-tête du fichier exporté).",
            row=header_number,
        )
        return report
    data = rows[1:]
    if len(data) > MAX_ROWS:
        raise _too_many_rows()
    # Values under an empty header cell would be lost without a word.
    width = max(len(cells) for _, cells in data) if data else 0
    for index in range(width):
        if index < len(header) and _header_code(header[index]):
            continue
        if any(index < len(cells) and not _blank(cells[index]) for _, cells in data):
            report.add(
                "des valeurs sont saisies sous un en-tête vide : donnez à la colonne le code de sa question.",
                row=header_number,
                column=index,
            )

    by_uuid = {s.structure.uuid: s for s in _submissions(campaign)}
    visible, reviewable = _scope(user, campaign, by_uuid.values())

    # First the rows: which submission each one writes.
    targets, line_of = [], {}
    for number, cells in data:
        raw = cells[id_index] if id_index < len(cells) else None
        if _blank(raw):
            report.add("l'identifiant de la structure manque.", row=number, column=id_index, header=ID_COLUMN)
            continue
        try:
            structure_uuid = uuid.UUID(str(raw).strip())
        except ValueError:
            report.add(
                f"« {_shown(raw)} » n'est pas un identifiant de structure : reprenez celui du fichier exporté.",
                row=number,
                column=id_index,
                header=ID_COLUMN,
            )
            continue
        submission = by_uuid.get(structure_uuid)
        if submission is None or submission.pk not in visible:
            # The same words whether it exists or is out of the user's sight.
            report.add(
                "aucune structure de cette campagne, dans votre périmètre, ne porte cet identifiant.",
                row=number,
                column=id_index,
                header=ID_COLUMN,
            )
            continue
        structure_name = submission.structure.name
        if submission.pk in line_of:
            report.add(
                f"{structure_name} figure déjà en ligne {line_of[submission.pk]} : une structure n'a qu'une ligne.",
                row=number,
                structure=structure_name,
            )
            continue
        line_of[submission.pk] = number
        targets.append((number, cells, submission))
    report.structures = len(data)

    # Then the cells, against the stored answers. A row the user may not write (sent, validated, closed…)
    # is refused only if it changes something: unchanged, it is skipped with a note (re-importing an export).
    refusals = {s.pk: _write_refusal(user, s, reviewable, today) for _, _, s in targets}
    writable_ids = [s.pk for _, _, s in targets if not refusals[s.pk]]
    file_questions = [q for _, q in columns]
    all_questions, rules = _definition(campaign)
    # The rules and conditions read answers that may not be in the file: those are read from the database.
    needed = _rule_questions(all_questions, rules, file_questions)
    stored = _load_answers([s.pk for _, _, s in targets], file_questions)
    context = _load_answers(writable_ids, needed) if needed else {}
    report.rule_questions = needed
    comments = _load_comments(writable_ids, rules, all_questions)
    column_of_code = {q.code: index for index, q in columns}
    specs = [(index, q, q.pk, set(_asked_kinds(q)), _parser(q)) for index, q in columns]
    writes, get_stored = report.writes, stored.get
    answers = created = updated = cleared = unchanged = 0
    step = max(len(targets) // 12, 200)
    for done, (number, cells, submission) in enumerate(targets):
        if progress and done and done % step == 0:
            progress(40 + 60 * done // len(targets))
        structure_name, kind, submission_id = submission.structure.name, submission.structure.kind, submission.pk
        versions, row_errors, row_writes, row_answers = [], [], [], 0
        row_created = row_updated = row_cleared = row_unchanged = 0
        values = {}
        size = len(cells)
        for index, question, question_id, asked, parsed in specs:
            raw = cells[index] if index < size else None
            current = get_stored((submission_id, question_id))
            if current is not None:
                versions.append((question_id, current[1]))
            if raw is None or (raw.__class__ is str and not raw.strip()):
                value = None
            elif kind not in asked:
                row_errors.append(
                    (
                        f"cette question n'est pas posée aux {KIND_PLURALS.get(kind, kind)} : laissez la case vide.",
                        index,
                        question.code,
                    )
                )
                continue
            else:
                row_answers += 1
                value = parsed(raw)
                if value.__class__ is _Refused:
                    row_errors.append((value.message, index, question.code))
                    continue
            values[question.code] = value
            if current is None:
                if value is not None:
                    row_created += 1
                    row_writes.append(Write(submission_id, question, value, 0, None))
            elif value == current[0]:
                if value is not None:
                    row_unchanged += 1
            else:
                if value is None:
                    row_cleared += 1
                else:
                    row_updated += 1
                row_writes.append(Write(submission_id, question, value, current[1], current[0]))
        answers += row_answers
        refusal = refusals[submission_id]
        if refusal:
            if row_writes or row_errors:
                report.add(refusal, row=number, structure=structure_name)
            else:
                unchanged += row_unchanged
                report.skip(
                    f"{_locked_state(submission)}, et la ligne ne change aucune réponse : elle est ignorée.",
                    row=number,
                    structure=structure_name,
                )
            continue
        for message, index, code in row_errors:
            report.add(message, row=number, column=index, header=code, structure=structure_name)
        if row_writes and not row_errors:
            merged = {q.code: context[(submission_id, q.pk)][0] for q in needed if (submission_id, q.pk) in context}
            merged.update(values)
            blocked = _check_rules(
                report,
                (all_questions, rules, kind),
                merged,
                comments.get(submission_id, {}),
                {write.question.code for write in row_writes},
                (number, structure_name, column_of_code),
            )
            if blocked:
                continue
        created, updated, cleared = created + row_created, updated + row_updated, cleared + row_cleared
        unchanged += row_unchanged
        for write in row_writes:
            writes.append(write)
            report.change(number, structure_name, write)
        # The answers the rules read beyond the file count too: one typed meanwhile could change their outcome.
        versions.extend((q.pk, context[(submission_id, q.pk)][1]) for q in needed if (submission_id, q.pk) in context)
        report.fingerprints[str(submission_id)] = _fingerprint(versions)
        report.submissions[submission_id] = submission
        report.rows[submission_id] = number
    report.answers, report.created, report.updated = answers, created, updated
    report.cleared, report.unchanged = cleared, unchanged
    report.sort()
    return report


def pending_writes(report):
    """What `apply_import` needs of a correct dry run, without the file: see `recheck`."""
    return {
        "rows": {str(pk): line for pk, line in report.rows.items()},
        "columns": sorted({q.pk for q in report.questions} | {q.pk for q in report.rule_questions}),
        "writes": answer_rows(report.writes),
    }
