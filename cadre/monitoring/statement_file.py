"""Annual accounts from a spreadsheet: one row per structure and fiscal year, one column per line of the accounts.

`check_file` reads a file and says, cell by cell, what cannot be written, without writing anything: the cells are
read as the entry form reads them (French amounts), and each statement is checked by FinancialStatement.clean(),
its messages placed at the row and the column of the field at fault. What applying writes is kept
(`Report.pending`, JSON) so that `cadre.monitoring.actions.apply_statement_import` writes it in one transaction,
after checking that nobody changed those statements meanwhile. Files are read by the readers of the other imports
(XLSX, CSV in UTF-8 or Windows-1252, « ; », « , » or tab), and their rows by the registry's Sheet and Row.

Every database read is one query for all rows (or a few, by chunks): 2,000 rows check in seconds.
"""

import datetime
import functools
import re
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError

from cadre.accounts.models import WRITE_ROLES
from cadre.core.exports import add_table_sheet, new_workbook, workbook_bytes
from cadre.exchanges.observatory import read_table
from cadre.exchanges.registry import VALUES_SHEET, CellError, Column, Report, Row, Sheet, _chunked, _date, _text
from cadre.funding.models import format_euros
from cadre.monitoring.enums import StatementStatus
from cadre.monitoring.forms import FIELDSETS
from cadre.monitoring.models import EDITABLE_STATUSES, SIGNED_FIELDS, ZERO, FinancialStatement
from cadre.structures.models import Structure

STATEMENTS = "statements"
TEMPLATE_SHEET = "Comptes annuels"
COLUMNS_SHEET = "Colonnes"
REASON = "Import de comptes annuels"

# Every amount of the accounts, in the order of the entry form.
AMOUNTS = [name for _, names in FIELDSETS[1:-1] for name in names]
_field = FinancialStatement._meta.get_field


def _label(name):
    """A field's label as the entry form shows it: its verbose name with a capital."""
    label = str(_field(name).verbose_name)
    return label[:1].upper() + label[1:]


def _amount_help(name):
    field = _field(name)
    parts = ["euros et centimes (12 400,50)"]
    if field.help_text:
        parts.append(str(field.help_text).rstrip(".").lower())
    if name in SIGNED_FIELDS:
        parts.append("négatif pour une perte")
    return " ; ".join(parts)


IDENTITY_COLUMNS = [
    Column("identifier", "SIRET ou SIREN", "14 chiffres, ou les 9 du SIREN quand il ne désigne qu'une structure"),
    Column("uuid", "Identifiant Cadre", "à défaut du SIRET : l'identifiant de la structure dans Cadre"),
    Column("name", "Structure", "nom, pour vous repérer : il n'est pas lu"),
    Column("starts_on", _label("starts_on"), "jj/mm/aaaa"),
    Column("ends_on", _label("ends_on"), "jj/mm/aaaa : l'année de clôture est l'exercice"),
    Column(
        "year", "Exercice", "à défaut des dates : l'année seule, pour un exercice civil (1er janvier au 31 décembre)"
    ),
]
COLUMNS = [*IDENTITY_COLUMNS, *(Column(name, _label(name), _amount_help(name)) for name in AMOUNTS)]
SPACES = re.compile(r"[\s\u00a0\u202f']")
AMOUNT_TEXT = re.compile(r"\d+(?:\.\d+)?")
# Statements of this many euros or more do not fit the model's 12 digits with cents.
AMOUNT_LIMIT = Decimal(10) ** (_field("cash").max_digits - _field("cash").decimal_places)


# -- template ------------------------------------------------------------------------------------


@functools.cache
def template_xlsx():
    """An empty file to fill: the columns (the form's labels) with a line saying what each holds, a sheet
    describing every column, and the rules. Made of constants only: built once per process."""
    workbook = new_workbook()
    help_line = [_help_line(c) for c in COLUMNS]
    add_table_sheet(workbook, TEMPLATE_SHEET, [c.header for c in COLUMNS], [help_line], wrap=True)
    add_table_sheet(
        workbook,
        COLUMNS_SHEET,
        ["Colonne", "Contenu", "Groupe du formulaire"],
        [[c.header, c.help, _group(c.key)] for c in COLUMNS],
        wrap=True,
    )
    statuses = [
        [label, "mis à jour" if code in EDITABLE_STATUSES else "refusé"] for code, label in StatementStatus.choices
    ]
    add_table_sheet(workbook, VALUES_SHEET, ["Comptes déjà enregistrés dans l'état", "L'import les"], statuses)
    notes = [
        ["Une ligne par structure et par exercice ; la ligne d'aide, si vous la gardez, est ignorée."],
        ["La structure par son SIRET (ou son SIREN, ou son identifiant Cadre) ; l'exercice par ses dates, ou l'année."],
        ["Montants en euros : 12 400,50 ou 12400.50, espaces et symbole € acceptés ; un signe moins pour une perte."],
        ["Pour de nouveaux comptes, une case vide vaut 0 ; pour des comptes déjà saisis, elle laisse le montant."],
        ["Les comptes doivent s'équilibrer, comme dans le formulaire : résultats, bilan, subventions à recevoir."],
        ["Les comptes envoyés ou acceptés ne changent pas : demandez d'abord leur renvoi à la structure."],
    ]
    add_table_sheet(workbook, "Mode d'emploi", ["Règles"], notes, wrap=True)
    return workbook_bytes(workbook)


def _help_line(column):
    return column.help


def _group(key):
    for legend, names in FIELDSETS:
        if key in names:
            return legend
    return "Structure et exercice"


# -- reading cells -------------------------------------------------------------------------------


def read_amount(raw):
    """The Decimal of an amount cell: a workbook's number, or French text (« 12 400,50 € », « -5 000 »)."""
    if isinstance(raw, bool):
        raise CellError("montant attendu, pas vrai ou faux.")
    if isinstance(raw, int):
        value = Decimal(raw)
    elif isinstance(raw, float):
        # A float read from a workbook carries binary noise: 15 significant digits, as the spreadsheet shows.
        value = Decimal(format(raw, ".15g"))
    elif isinstance(raw, Decimal):
        value = raw
    else:
        text = _text(raw)
        plain = SPACES.sub("", text).replace("€", "").replace("EUR", "").replace("\u2212", "-")
        negative = plain.startswith("-") or (plain.startswith("(") and plain.endswith(")"))
        plain = plain.strip("-()+")
        if "," in plain and "." in plain:  # « 12.400,50 » or « 12,400.50 »: the last one is the decimal mark
            thousands = "." if plain.rfind(",") > plain.rfind(".") else ","
            plain = plain.replace(thousands, "")
        plain = plain.replace(",", ".")
        if not AMOUNT_TEXT.fullmatch(plain):
            raise CellError(f"montant illisible « {text[:40]} » : écrivez-le en euros, par exemple 12 400,50.")
        value = Decimal(plain) * (-1 if negative else 1)
    try:
        cents = value.quantize(Decimal("0.01"))
    except InvalidOperation:
        cents = None
    if cents is None or abs(value) >= AMOUNT_LIMIT:
        raise CellError(f"montant trop grand « {_text(raw)[:40]} » : moins de 10 milliards d'euros.")
    if cents != value:
        raise CellError(f"« {_text(raw)[:40]} » : au plus deux décimales (les centimes).")
    return cents


def read_year(raw):
    text = _text(raw)
    if not re.fullmatch(r"\d{4}", text) or not 1990 <= int(text) <= 2100:
        raise CellError(f"exercice illisible « {text[:40]} » : l'année sur 4 chiffres, par exemple 2025.")
    return int(text)


def _identifier(raw):
    """SIRET or SIREN as text: a spreadsheet may have turned it into a number and lost its leading zeros."""
    if isinstance(raw, (int, float)) and not isinstance(raw, bool) and raw == int(raw):
        digits = str(int(raw))
        return digits.zfill(9 if len(digits) <= 9 else 14)
    return "".join(_text(raw).split())


def _shown(name, value):
    if value is None:
        return ""
    if isinstance(value, datetime.date):
        return value.strftime("%d/%m/%Y")
    return format_euros(value)


# -- the structures the importer may name --------------------------------------------------------


class Structures:
    """The structures the importer sees, by SIRET, SIREN and identifier, read in one query, with the ones whose
    accounts they may enter (permissions.can_enter: their own structure's writers, administrators)."""

    def __init__(self, user):
        self.admin = user.is_administrator
        self.writable = set() if self.admin else user.structure_ids(WRITE_ROLES)
        rows = Structure.objects.visible_to(user).values_list("pk", "uuid", "siret", "name")
        self.by_siret, self.by_siren, self.by_uuid, self.names = {}, {}, {}, {}
        for pk, uuid, siret, name in rows:
            self.names[pk] = name
            self.by_uuid[str(uuid)] = pk
            if siret:
                self.by_siret[siret] = pk
                self.by_siren.setdefault(siret[:9], []).append(pk)

    def may_enter(self, pk):
        return self.admin or pk in self.writable

    def find(self, row):
        """The structure of a row, or None with the error recorded at its cell."""
        text = row.text("uuid")
        if text:
            pk = self.by_uuid.get(text.lower())
            if pk is None:
                row.fail(f"aucune structure de votre périmètre n'a l'identifiant « {text[:40]} ».", "uuid")
            return pk
        raw = row.sheet.raw(row.cells, "identifier")
        digits = _identifier(raw) if _text(raw) else ""
        if not digits:
            row.fail("indiquez le SIRET de la structure (ou son identifiant Cadre).", "identifier")
            return None
        if re.fullmatch(r"\d{14}", digits):
            pk = self.by_siret.get(digits)
            if pk is None:
                row.fail(f"aucune structure de votre périmètre n'a le SIRET {digits}.", "identifier")
            return pk
        if re.fullmatch(r"\d{9}", digits):
            found = self.by_siren.get(digits, [])
            if not found:
                row.fail(f"aucune structure de votre périmètre n'a le SIREN {digits}.", "identifier")
                return None
            if len(found) > 1:
                row.fail(
                    f"{len(found)} structures ont le SIREN {digits} : indiquez le SIRET (14 chiffres) de celle-ci.",
                    "identifier",
                )
                return None
            return found[0]
        row.fail(
            f"« {_text(raw)[:40]} » n'est ni un SIRET (14 chiffres) ni un SIREN (9 chiffres).",
            "identifier",
        )
        return None


def _existing(keys):
    """{(structure id, year): FinancialStatement} of the statements the file names, a query per chunk."""
    found = {}
    structure_ids = {structure_id for structure_id, _ in keys}
    for chunk in _chunked(structure_ids):
        for statement in FinancialStatement.objects.filter(structure_id__in=chunk):
            if (statement.structure_id, statement.year) in keys:
                found[(statement.structure_id, statement.year)] = statement
    return found


# -- the dry run ---------------------------------------------------------------------------------


def _fiscal_year(row):
    """(starts_on, ends_on) of a row: its dates, or the calendar year of its « Exercice »."""
    starts_on, ends_on = row.get("starts_on", _date), row.get("ends_on", _date)
    year = row.get("year", read_year)
    if row.failed:
        return None
    if starts_on is None and ends_on is None:
        if year is None:
            row.fail("indiquez l'exercice : ses dates de début et de clôture, ou l'année seule.", "year")
            return None
        return datetime.date(year, 1, 1), datetime.date(year, 12, 31)
    if starts_on is None or ends_on is None:
        row.fail(
            "indiquez le début et la clôture de l'exercice, ou l'année seule pour un exercice civil.",
            "starts_on" if starts_on is None else "ends_on",
        )
        return None
    if year is not None and year != ends_on.year:
        row.fail(f"l'exercice est l'année de clôture : {ends_on.year}, pas {year}.", "year")
        return None
    return starts_on, ends_on


def _place(sheet, name):
    """The column where a message of FinancialStatement.clean() about `name` goes: the dates' ones at the year
    when the file gives the year alone."""
    if name in ("starts_on", "ends_on") and name not in sheet.index and "year" in sheet.index:
        return "year"
    return name


def check_file(user, name, content, progress=None):
    """The dry run of a file of annual accounts: a Report (errors, or what applying will write)."""
    table = read_table(name, content)
    report = Report(target=STATEMENTS, description=table.description)
    sheet = Sheet(table, COLUMNS, report)
    if not report.ok:
        return report
    if "identifier" not in sheet.index and "uuid" not in sheet.index:
        report.add("la colonne « SIRET ou SIREN » (ou « Identifiant Cadre ») manque : voir le modèle.")
    if "year" not in sheet.index and "ends_on" not in sheet.index:
        report.add(f"la colonne « {_label('ends_on')} » (ou « Exercice ») manque : voir le modèle.")
    if not report.ok:
        return report
    rows = [Row(sheet, number, cells) for number, cells in sheet.rows]
    report.rows = len(rows)
    structures = Structures(user)
    found = []
    for row in rows:
        structure_id = structures.find(row)
        if structure_id is not None:
            row.name = structures.names[structure_id]
            if not structures.may_enter(structure_id):
                row.fail(
                    "vous ne pouvez pas saisir les comptes de cette structure : seuls ses membres habilités à écrire "
                    "et les administrateurs le peuvent.",
                    "uuid" if row.text("uuid") else "identifier",
                )
        dates = _fiscal_year(row)
        found.append((row, structure_id, dates))
    existing = _existing({(s, d[1].year) for _, s, d in found if s is not None and d is not None})
    seen = {}
    for position, (row, structure_id, dates) in enumerate(found):
        if progress and position % 200 == 0:
            progress(int(90 * position / max(len(rows), 1)))
        values = {key: row.get(key, read_amount) for key in AMOUNTS if key in sheet.index}
        if structure_id is None or dates is None:
            continue
        year = dates[1].year
        key = (structure_id, year)
        if key in seen:
            row.fail(
                f"les comptes {year} de cette structure figurent déjà ligne {seen[key]}.", _place(sheet, "ends_on")
            )
            continue
        seen[key] = row.number
        statement = existing.get(key)
        if statement is not None and statement.status not in EDITABLE_STATUSES:
            row.fail(
                f"les comptes {year} de cette structure sont « {statement.get_status_display()} » : ils ne changent "
                "plus (un partenaire qui la finance doit d'abord les renvoyer à la structure).",
                _place(sheet, "ends_on"),
            )
            continue
        if row.failed:
            continue
        _check_statement(report, sheet, row, structure_id, dates, values, statement)
    report.sort()
    if progress:
        progress(100)
    return report


def _check_statement(report, sheet, row, structure_id, dates, values, statement):
    """The statement as it will be (the file's amounts over the stored ones), checked by its model's clean()."""
    starts_on, ends_on = dates
    if statement is None:
        probe = FinancialStatement(structure_id=structure_id, starts_on=starts_on, ends_on=ends_on)
        for key in AMOUNTS:
            setattr(probe, key, ZERO if values.get(key) is None else values[key])
    else:
        probe = FinancialStatement(
            **{f.attname: getattr(statement, f.attname) for f in FinancialStatement._meta.concrete_fields}
        )
        probe.starts_on, probe.ends_on = starts_on, ends_on
        for key, value in values.items():
            if value is not None:
                setattr(probe, key, value)
    try:
        probe.clean()
    except ValidationError as error:
        for name, messages in error.message_dict.items():
            for message in messages:
                row.fail(message[:1].lower() + message[1:], _place(sheet, name))
        return
    fields = {"starts_on": starts_on.isoformat(), "ends_on": ends_on.isoformat()}
    fields.update({key: str(getattr(probe, key)) for key in AMOUNTS})
    if statement is None:
        report.created += 1
        report.pending["creates"].append(
            {"row": row.number, "structure": structure_id, "name": row.name, "fields": fields}
        )
        report.change(
            row.number,
            row.name,
            f"Nouveaux comptes {ends_on.year}",
            "",
            f"du {starts_on:%d/%m/%Y} au {ends_on:%d/%m/%Y}, produits {format_euros(probe.income)}, "
            f"résultat net {format_euros(probe.net_result)}",
        )
        return
    changed = {}
    for name in ["starts_on", "ends_on", *AMOUNTS]:
        before, after = getattr(statement, name), getattr(probe, name)
        if before != after:
            changed[name] = fields[name]
            report.change(
                row.number,
                row.name,
                f"{ends_on.year} : {_field(name).verbose_name}",
                _shown(name, before),
                _shown(name, after),
            )
    if not changed:
        report.unchanged += 1
        return
    report.updated += 1
    report.pending["updates"].append(
        {"row": row.number, "pk": statement.pk, "version": statement.version, "name": row.name, "fields": changed}
    )


def values_of(fields):
    """The model values of a pending entry's fields (dates and amounts as JSON text)."""
    return {
        name: datetime.date.fromisoformat(value) if name in ("starts_on", "ends_on") else Decimal(value)
        for name, value in fields.items()
    }
