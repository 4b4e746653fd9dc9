"""The registry from a spreadsheet: structures (with an approval and a contact a row) and partners
(with their territory).

`check_structures` / `check_partners` read a file and say, cell by cell, what cannot be written,
without writing anything; what they would write is kept (`Report.pending`, JSON) so that
`cadre.exchanges.actions.apply_registry_import` writes it later in one transaction, after checking
that nobody changed those records meanwhile. Files are read by the readers of the observatory
imports (XLSX, CSV in UTF-8, UTF-8 with BOM or Windows-1252, « ; », « , » or tab).

Every database read is one query for all rows (or a few, by chunks): 2,000 rows check in seconds.
"""

import dataclasses
import datetime
import re

from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator, URLValidator

from cadre.accounts.models import WRITE_ROLES
from cadre.core.exports import add_table_sheet, new_workbook, workbook_bytes
from cadre.exchanges.observatory import CHUNK, MAX_STORED_CHANGES, MAX_STORED_ERRORS, _placed, _plain, read_table
from cadre.partners.models import Partner, PartnerKind, validate_siret
from cadre.structures.models import (
    APPROVAL_KINDS_BY_STRUCTURE,
    EDITING_PARTNER_KINDS,
    Approval,
    ApprovalKind,
    Management,
    PriorityAreaStatus,
    Structure,
    StructureContact,
    StructureKind,
    normalise_rna,
    scope_parts,
    validate_rna,
)
from cadre.territories.models import Commune, Department, PriorityArea

STRUCTURES, PARTNERS = "structures", "partners"
TEMPLATE_SHEET = {STRUCTURES: "Structures", PARTNERS: "Partenaires"}
VALUES_SHEET = "Valeurs autorisées"


@dataclasses.dataclass(frozen=True)
class Column:
    key: str
    header: str
    help: str
    required: bool = False


STRUCTURE_COLUMNS = [
    Column(
        "siret", "SIRET", "14 chiffres : identifie la structure (une ligne dont le SIRET existe la met à jour)", True
    ),
    Column("name", "Nom", "nom de la structure (200 caractères au plus)", True),
    Column("kind", "Type de structure", "voir la feuille « Valeurs autorisées »", True),
    Column("management", "Mode de gestion", "voir la feuille « Valeurs autorisées »", True),
    Column("manager_name", "Gestionnaire", "association, collectivité ou organisme qui gère"),
    Column("rna", "Numéro RNA", "associations : W suivi de 9 chiffres"),
    Column("federation", "Fédération d'adhésion", "nom, sigle ou SIRET d'une fédération partenaire"),
    Column("address", "Adresse", ""),
    Column("address_complement", "Complément d'adresse", ""),
    Column("postal_code", "Code postal", "5 chiffres ; départage les communes de même nom"),
    Column(
        "commune", "Commune", "code INSEE (69266) ou nom (avec le code postal si plusieurs communes le portent)", True
    ),
    Column("priority_area_status", "Situation QPV", "voir la feuille « Valeurs autorisées »"),
    Column("priority_areas", "Codes QPV", "codes des QPV séparés par des virgules (QN06901M)"),
    Column("first_approval_date", "Date du premier agrément", "jj/mm/aaaa"),
    Column("email", "Courriel", ""),
    Column("phone", "Téléphone", ""),
    Column("website", "Site internet", "adresse complète, https://…"),
    Column("approval_kind", "Agrément : type", "par défaut : projet social (centre social) ou EVS"),
    Column("approval_starts", "Agrément : début", "jj/mm/aaaa"),
    Column("approval_ends", "Agrément : fin", "jj/mm/aaaa (1 à 4 ans après le début)"),
    Column("approval_board", "Agrément : décision du CA de la Caf", "jj/mm/aaaa"),
    Column("family_starts", "Agrément familles : début", "centres sociaux : projet familles, jj/mm/aaaa"),
    Column("family_ends", "Agrément familles : fin", "jj/mm/aaaa"),
    Column("contact_name", "Contact : nom", "prénom et nom ; un contact de même nom est mis à jour"),
    Column("contact_position", "Contact : fonction", "par exemple : directrice"),
    Column("contact_email", "Contact : courriel", ""),
    Column("contact_phone", "Contact : téléphone", ""),
]
PARTNER_COLUMNS = [
    Column("siret", "SIRET", "14 chiffres ; à défaut, le partenaire est reconnu à son nom et son type"),
    Column("name", "Nom", "200 caractères au plus", True),
    Column("short_name", "Sigle", ""),
    Column("kind", "Type de partenaire", "voir la feuille « Valeurs autorisées »", True),
    Column("departments", "Départements couverts", "codes séparés par des virgules (69, 2A…)"),
    Column("communes", "Communes couvertes", "codes INSEE séparés par des virgules, en plus des départements"),
    Column("address", "Adresse", ""),
    Column("email", "Courriel", ""),
    Column("phone", "Téléphone", ""),
    Column("website", "Site internet", "adresse complète, https://…"),
]
COLUMNS = {STRUCTURES: STRUCTURE_COLUMNS, PARTNERS: PARTNER_COLUMNS}

STRUCTURE_FIELDS = [
    "name",
    "kind",
    "management",
    "manager_name",
    "rna",
    "federation",
    "address",
    "address_complement",
    "postal_code",
    "commune",
    "priority_area_status",
    "first_approval_date",
    "email",
    "phone",
    "website",
]
PARTNER_FIELDS = ["name", "short_name", "kind", "siret", "address", "email", "phone", "website"]
CONTACT_FIELDS = ["position", "email", "phone"]
FOREIGN_KEYS = {"commune", "federation"}
DATE_FIELDS = {
    "first_approval_date",
    "approval_starts",
    "approval_ends",
    "approval_board",
    "family_starts",
    "family_ends",
}
EMAIL_FIELDS = {"email", "contact_email"}
CHOICES = {
    "kind": StructureKind,
    "management": Management,
    "priority_area_status": PriorityAreaStatus,
    "approval_kind": ApprovalKind,
}
# Codes a spreadsheet may have turned into numbers, with their width.
CODE_WIDTHS = {"siret": 14, "postal_code": 5, "commune": 5, "departments": 2}
LIST_SPLIT = re.compile(r"[\s,;]+")
INSEE_CODE = re.compile(r"(?:\d{5}|2[AB]\d{3})", re.IGNORECASE)
LABELLED_CODE = re.compile(r"\((\d{5}|2[AB]\d{3})\)\s*$", re.IGNORECASE)
_email, _url = EmailValidator(), URLValidator()


def _model_field(model, name):
    return model._meta.get_field(name)


def _max_length(model, name):
    return _model_field(model, name).max_length


# -- template ------------------------------------------------------------------------------------


def allowed_values(target):
    """(headers, rows) of the sheet of allowed values: each column with a closed list, value and meaning."""
    rows = []
    if target == STRUCTURES:
        lists = [("Type de structure", StructureKind), ("Mode de gestion", Management)]
        lists += [("Situation QPV", PriorityAreaStatus), ("Agrément : type", ApprovalKind)]
    else:
        lists = [("Type de partenaire", PartnerKind)]
    for header, choices in lists:
        rows += [[header, label, code] for code, label in choices.choices]
    return ["Colonne", "Valeur (libellé)", "ou code"], rows


def _help_line(column):
    return f"{column.help}{' (obligatoire)' if column.required else ''}".strip()


def template_xlsx(target):
    """An empty file to fill: the columns with a line saying what each holds, and the allowed values."""
    columns = COLUMNS[target]
    workbook = new_workbook()
    example = [_help_line(c) for c in columns]
    add_table_sheet(workbook, TEMPLATE_SHEET[target], [c.header for c in columns], [example], wrap=True)
    headers, rows = allowed_values(target)
    add_table_sheet(workbook, VALUES_SHEET, headers, rows)
    notes = [
        [
            "Une ligne par "
            + ("structure" if target == STRUCTURES else "partenaire")
            + " ; la ligne d'aide, si vous la gardez, est ignorée."
        ],
        ["Une case vide laisse inchangée la valeur déjà enregistrée."],
        ["Les listes fermées acceptent le libellé ou le code de la feuille « Valeurs autorisées »."],
    ]
    add_table_sheet(workbook, "Mode d'emploi", ["Règles"], notes, wrap=True)
    return workbook_bytes(workbook)


# -- reading cells -------------------------------------------------------------------------------


class CellError(ValueError):
    """A cell that cannot be read; the message (French) says why."""


def _text(raw):
    if raw is None:
        return ""
    if isinstance(raw, float) and raw.is_integer():
        raw = int(raw)
    if isinstance(raw, datetime.datetime):
        raw = raw.date()
    if isinstance(raw, datetime.date):
        return raw.strftime("%d/%m/%Y")
    return " ".join(str(raw).split())


def _date(raw):
    if isinstance(raw, datetime.datetime):
        return raw.date()
    if isinstance(raw, datetime.date):
        return raw
    text = _text(raw)
    for pattern in ("%d/%m/%Y", "%Y-%m-%d", "%d-%m-%Y", "%d.%m.%Y"):
        try:
            return datetime.datetime.strptime(text, pattern).date()
        except ValueError:
            continue
    raise CellError(f"date illisible « {text[:40]} » : écrivez-la jj/mm/aaaa (par exemple 01/09/2025).")


def _choice(choices, text):
    """A closed-list value, by its code or its label (accents and case ignored)."""
    wanted = _plain(text)
    for code, label in choices.choices:
        if wanted in (_plain(code), _plain(label)):
            return code
    allowed = ", ".join(f"« {label} »" for _, label in choices.choices)
    raise CellError(f"valeur inconnue « {text[:40]} » : les valeurs possibles sont {allowed}.")


def _siret(text):
    siret = "".join(text.split())
    try:
        validate_siret(siret)
    except ValidationError:
        raise CellError(
            f"SIRET invalide « {text[:40]} » : il faut 14 chiffres dont le dernier est une clé de contrôle."
        ) from None
    return siret


def _limited(model, name, text):
    limit = _max_length(model, name)
    if limit and len(text) > limit:
        raise CellError(f"{len(text)} caractères : {limit} au plus.")
    return text


def _checked_email(text):
    try:
        _email(text)
    except ValidationError:
        raise CellError(f"adresse électronique invalide « {text[:40]} ».") from None
    return text


def _checked_url(text):
    try:
        _url(text)
    except ValidationError:
        raise CellError(f"adresse de site invalide « {text[:40]} » : écrivez-la en entier (https://…).") from None
    return text


# -- the report ----------------------------------------------------------------------------------


@dataclasses.dataclass
class Report:
    """What a file would change, or why it cannot be applied (stored as JSON with the import)."""

    target: str = STRUCTURES
    description: str = ""
    rows: int = 0
    errors: list = dataclasses.field(default_factory=list)
    error_count: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    approvals: int = 0
    contacts: int = 0
    changes: list = dataclasses.field(default_factory=list)
    change_count: int = 0
    # Not stored with the report: what applying writes (kept compressed apart).
    pending: dict = dataclasses.field(default_factory=lambda: {"creates": [], "updates": []})

    @property
    def ok(self):
        return self.error_count == 0

    @property
    def changed(self):
        return self.created + self.updated

    def add(self, message, row=None, column=None, header="", name=""):
        self.error_count += 1
        if len(self.errors) < MAX_STORED_ERRORS:
            self.errors.append(_placed(message, row, column, header, name))

    def change(self, row, name, label, before, after):
        self.change_count += 1
        if len(self.changes) < MAX_STORED_CHANGES:
            self.changes.append({"row": row, "structure": name, "label": label, "before": before, "after": after})

    def sort(self):
        self.errors.sort(key=lambda e: (e["row"] or 0, len(e["column"]), e["column"]))

    def as_json(self):
        data = dataclasses.asdict(self)
        del data["pending"]
        data["changed"] = self.changed
        return data


class Sheet:
    """The rows of a file with its columns found by their header (accents, case and spaces ignored)."""

    def __init__(self, table, columns, report):
        self.report = report
        header_row = next(((n, cells) for n, cells in table.rows if any(_text(c) for c in cells)), None)
        self.index, self.rows = {}, []
        if header_row is None:
            report.add("le fichier ne contient aucune ligne.")
            return
        number, cells = header_row
        by_title = {_plain(c.header): c for c in columns}
        for position, cell in enumerate(cells):
            title = _plain(_text(cell))
            if not title:
                continue
            column = by_title.get(title)
            if column is None:
                report.add(f"colonne inconnue « {_text(cell)[:40]} » : voir le modèle.", number, position, _text(cell))
            elif column.key in self.index:
                report.add("cette colonne figure deux fois.", number, position, column.header)
            else:
                self.index[column.key] = position
        for column in columns:
            if column.required and column.key not in self.index:
                report.add(f"la colonne « {column.header} » manque (voir le modèle).", number)
        self.headers = {c.key: c.header for c in columns}
        self.help = {c.key: _plain(_help_line(c)) for c in columns}
        self.rows = [
            (n, cells)
            for n, cells in table.rows
            if n > number and any(_text(c) for c in cells) and not self._is_help(cells)
        ]

    def _is_help(self, cells):
        """The template's line saying what each column holds, left in the file: not a row to import."""
        filled = {key: _plain(_text(self.raw(cells, key))) for key in self.index}
        filled = {key: text for key, text in filled.items() if text}
        return bool(filled) and all(text == self.help[key] for key, text in filled.items())

    def raw(self, cells, key):
        position = self.index.get(key)
        raw = cells[position] if position is not None and position < len(cells) else None
        if key in CODE_WIDTHS and isinstance(raw, (int, float)) and not isinstance(raw, bool) and raw == int(raw):
            # A code typed in a spreadsheet cell becomes a number and loses its leading zeros (01053 → 1053).
            return str(int(raw)).zfill(CODE_WIDTHS[key])
        return raw

    def error(self, message, number, key, name=""):
        self.report.add(message, number, self.index.get(key), self.headers.get(key, ""), name)


class Row:
    """One row being read: each `get` records its cell's error and returns None for it."""

    def __init__(self, sheet, number, cells):
        self.sheet, self.number, self.cells, self.failed, self.name = sheet, number, cells, False, ""

    def text(self, key):
        return _text(self.sheet.raw(self.cells, key))

    def get(self, key, convert=None):
        raw = self.sheet.raw(self.cells, key)
        if _text(raw) == "":
            return None
        try:
            return convert(raw) if convert else _text(raw)
        except CellError as error:
            self.fail(str(error), key)
            return None

    def fail(self, message, key=None):
        self.failed = True
        if key is None:
            self.sheet.report.add(message, self.number, None, "", self.name)
        else:
            self.sheet.error(message, self.number, key, self.name)


# -- look-ups, one query for the whole file ------------------------------------------------------


def _chunked(values):
    values = sorted(values)
    for start in range(0, len(values), CHUNK):
        yield values[start : start + CHUNK]


class Communes:
    """Communes named in a file, by INSEE code or by name (and postal code)."""

    def __init__(self, cells):
        codes, names = set(), set()
        for text in cells:
            found = LABELLED_CODE.search(text)
            if found or INSEE_CODE.fullmatch(text):
                codes.add((found.group(1) if found else text).upper())
            else:
                names.add(Commune.normalise(text))
        self.by_code, self.by_name = {}, {}
        for chunk in _chunked(codes):
            self.by_code.update({c.code: c for c in Commune.objects.filter(code__in=chunk)})
        for chunk in _chunked(names):
            for commune in Commune.objects.filter(search_name__in=chunk).order_by("code"):
                self.by_name.setdefault(commune.search_name, []).append(commune)

    def find(self, text, postal_code):
        found = LABELLED_CODE.search(text)
        if found or INSEE_CODE.fullmatch(text):
            code = (found.group(1) if found else text).upper()
            if code not in self.by_code:
                raise CellError(f"aucune commune n'a le code INSEE {code}.")
            return self.by_code[code]
        candidates = self.by_name.get(Commune.normalise(text), [])
        if not candidates:
            raise CellError(f"commune inconnue « {text[:40]} » : vérifiez l'orthographe ou indiquez son code INSEE.")
        if postal_code:
            candidates = [c for c in candidates if postal_code in c.postal_code_list] or candidates
        if len(candidates) > 1:
            examples = ", ".join(f"{c.code} ({c.department_id})" for c in candidates[:5])
            hint = "indiquez le code INSEE" if postal_code else "indiquez le code postal ou le code INSEE"
            raise CellError(
                f"{len(candidates)} communes s'appellent « {text[:40]} » : {hint} (codes INSEE {examples})."
            )
        return candidates[0]


class Federations:
    """The federations a file may name, by SIRET, name or acronym (accents and case ignored)."""

    def __init__(self):
        self.by_key = {}
        for federation in Partner.objects.federations():
            for key in {federation.siret, _plain(federation.name), _plain(federation.short_name)} - {""}:
                self.by_key.setdefault(key, []).append(federation)

    def find(self, raw):
        text = _text(raw)
        digits = "".join(text.split())
        found = self.by_key.get(digits if digits.isdigit() else _plain(text), [])
        if not found:
            raise CellError(f"aucune fédération partenaire ne s'appelle « {text[:40]} » (nom, sigle ou SIRET).")
        if len(found) > 1:
            raise CellError(f"plusieurs fédérations répondent à « {text[:40]} » : indiquez leur SIRET.")
        return found[0]


def _areas(codes):
    found = {}
    for chunk in _chunked(codes):
        found.update({a.code: a for a in PriorityArea.objects.filter(code__in=chunk).prefetch_related("communes")})
    return found


def _structures_by_siret(sirets):
    found = {}
    for chunk in _chunked(sirets):
        for structure in Structure.objects.filter(siret__in=chunk).select_related("commune", "federation"):
            found.setdefault(structure.siret, structure)
    return found


def _shown(model, name, value, labels=None):
    """A value as a person reads it in the report."""
    if value in (None, ""):
        return ""
    field = _model_field(model, name)
    if field.choices:
        return dict(field.flatchoices).get(value, value)
    if isinstance(value, datetime.date):
        return value.strftime("%d/%m/%Y")
    if labels is not None:
        return labels.get(value, str(value))
    return str(value)


def _json(value):
    return value.isoformat() if isinstance(value, datetime.date) else value


# -- structures ----------------------------------------------------------------------------------


class Rights:
    """What the importer may write, read once: administrators everything; Caf and federation editors
    the structures of their scope (approvals: Caf editors of the territory)."""

    def __init__(self, user):
        self.admin = user.is_administrator
        if self.admin:
            return
        structure_ids, self.federations, departments, communes = scope_parts(
            user, roles=WRITE_ROLES, partner_kinds=EDITING_PARTNER_KINDS
        )
        self.structure_ids, self.departments, self.communes = structure_ids, departments, communes
        caf_ids = [p for p, kind in user.partner_kinds(WRITE_ROLES).items() if kind == PartnerKind.CAF]
        self.caf_departments, self.caf_communes = user.partner_territory(caf_ids) if caf_ids else ((), ())

    @staticmethod
    def _in(commune, departments, communes):
        return commune.department_id in departments or commune.code in communes or commune.parent_id in communes

    def may_edit(self, commune, federation_id=None, structure_id=None):
        """Whether a structure with this commune and federation (and id, when stored) is in reach."""
        if self.admin or structure_id in self.structure_ids or federation_id in self.federations:
            return True
        return self._in(commune, self.departments, self.communes)

    def may_approve(self, commune):
        return self.admin or self._in(commune, self.caf_departments, self.caf_communes)


def _existing_children(structure_ids):
    approvals, contacts = {}, {}
    for chunk in _chunked(structure_ids):
        for approval in Approval.objects.filter(structure_id__in=chunk):
            approvals.setdefault(approval.structure_id, []).append(approval)
        for contact in StructureContact.objects.filter(structure_id__in=chunk):
            contacts.setdefault(contact.structure_id, []).append(contact)
    return approvals, contacts


def _existing_areas(structure_ids):
    codes = {}
    through = Structure.priority_areas.through.objects
    for chunk in _chunked(structure_ids):
        for structure_id, code in through.filter(structure_id__in=chunk).values_list("structure_id", "priorityarea_id"):
            codes.setdefault(structure_id, set()).add(code)
    return codes


def _approval_errors(kind, starts, ends, board):
    """The rules of Approval.clean on dates, without a database query."""
    probe = Approval(kind=kind, starts=starts, ends=ends, board_decision_date=board)
    try:
        probe.clean()
    except ValidationError as error:
        return [message for messages in error.message_dict.values() for message in messages]
    return []


def check_structures(user, name, content, progress=None):
    """The dry run of a file of structures: a Report (errors, or what applying will write)."""
    table = read_table(name, content)
    report = Report(target=STRUCTURES, description=table.description)
    sheet = Sheet(table, STRUCTURE_COLUMNS, report)
    if not report.ok:
        return report
    rows = [Row(sheet, number, cells) for number, cells in sheet.rows]
    report.rows = len(rows)
    sirets, seen_sirets, seen_rna = {}, {}, {}
    for row in rows:
        row.name = row.text("name")
        text = row.text("siret")
        if not text:
            row.fail("le SIRET est obligatoire : c'est lui qui désigne la structure.", "siret")
            continue
        siret = row.get("siret", lambda raw: _siret(_text(raw)))
        if siret is None:
            continue
        if siret in seen_sirets:
            row.fail(f"ce SIRET figure déjà ligne {seen_sirets[siret]} : une ligne par structure.", "siret")
            continue
        seen_sirets[siret] = row.number
        sirets[row.number] = siret
    existing = _structures_by_siret(set(sirets.values()))
    communes = Communes({row.text("commune") for row in rows if row.text("commune")})
    area_codes = {code.upper() for row in rows for code in LIST_SPLIT.split(row.text("priority_areas")) if code.strip()}
    known_ids = [s.pk for s in existing.values()]
    approvals, contacts = _existing_children(known_ids)
    linked_areas = _existing_areas(known_ids)
    # The stored QPV too: a new status or commune is checked against them.
    areas = _areas(area_codes | {code for codes in linked_areas.values() for code in codes})
    rnas = {normalise_rna(row.text("rna")) for row in rows if row.text("rna")}
    rna_owners = {}
    for chunk in _chunked(rnas):
        rna_owners.update(dict(Structure.objects.filter(rna__in=chunk).values_list("rna", "siret")))
    rights = Rights(user)
    federations = Federations()
    for position, row in enumerate(rows):
        if progress and position % 200 == 0:
            progress(int(90 * position / max(len(rows), 1)))
        siret = sirets.get(row.number)
        structure = existing.get(siret)
        values = {}
        for key in ("name", "manager_name", "address", "address_complement", "phone"):
            values[key] = row.get(key, lambda raw, key=key: _limited(Structure, key, _text(raw)))
        for key, choices in CHOICES.items():
            values[key] = row.get(key, lambda raw, choices=choices: _choice(choices, _text(raw)))
        for key in DATE_FIELDS:
            values[key] = row.get(key, _date)
        values["email"] = row.get("email", lambda raw: _checked_email(_text(raw)))
        values["website"] = row.get("website", lambda raw: _checked_url(_text(raw)))
        postal_code = row.get("postal_code")
        if postal_code is not None and not re.fullmatch(r"\d{5}", postal_code):
            row.fail(f"code postal invalide « {postal_code[:40]} » : 5 chiffres.", "postal_code")
            postal_code = None
        values["postal_code"] = postal_code
        rna = row.get("rna", lambda raw: normalise_rna(_text(raw)))
        if rna is not None:
            try:
                validate_rna(rna)
            except ValidationError as error:
                row.fail(error.messages[0][:1].lower() + error.messages[0][1:], "rna")
                rna = None
            else:
                if rna in seen_rna:
                    row.fail(f"ce numéro RNA figure déjà ligne {seen_rna[rna]}.", "rna")
                elif rna_owners.get(rna, siret) != siret:
                    row.fail("ce numéro RNA est déjà celui d'une autre structure du répertoire.", "rna")
                seen_rna[rna] = row.number
        values["rna"] = rna
        commune = None
        if row.text("commune"):
            try:
                commune = communes.find(row.text("commune"), postal_code)
            except CellError as error:
                row.fail(str(error), "commune")
        if structure is None:
            for key in ("name", "kind", "management", "commune"):
                if not row.text(key):
                    row.fail(f"« {sheet.headers[key]} » est obligatoire pour une nouvelle structure.", key)
        values["commune"] = commune
        values["federation"] = row.get("federation", federations.find)
        if siret is None:
            continue
        # The structure as it will be: the file's values over the stored ones.
        final = {key: getattr(structure, key) if structure else None for key in STRUCTURE_FIELDS}
        final.update({k: v for k, v in values.items() if k in STRUCTURE_FIELDS and v is not None})
        if final["commune"] is not None and final["postal_code"]:
            if final["postal_code"] not in final["commune"].postal_code_list and commune is not None:
                known = ", ".join(final["commune"].postal_code_list) or "aucun"
                row.fail(
                    f"le code postal {final['postal_code']} n'appartient pas à {final['commune'].name} "
                    f"(codes connus : {known}).",
                    "postal_code",
                )
        # QPV: codes known to the reference, and consistent with the status (Structure.check_priority_areas).
        chosen = None
        if row.text("priority_areas"):
            codes = [c.upper() for c in LIST_SPLIT.split(row.text("priority_areas")) if c.strip()]
            unknown = [c for c in codes if c not in areas]
            if unknown:
                row.fail(
                    f"QPV inconnu{'s' if len(unknown) > 1 else ''} : {', '.join(unknown)} (codes du type QN06901M, "
                    "liste officielle 2024).",
                    "priority_areas",
                )
            else:
                chosen = sorted(set(codes))
        current_areas = sorted(linked_areas.get(structure.pk, ())) if structure else []
        final_areas = chosen if chosen is not None else current_areas
        if final["priority_area_status"] is None:
            final["priority_area_status"] = PriorityAreaStatus.NONE
        if final["commune"] is not None and not row.failed:
            probe = Structure(priority_area_status=final["priority_area_status"], commune=final["commune"])
            problem = probe.check_priority_areas([areas[c] for c in final_areas])
            if problem:
                row.fail(problem, "priority_areas" if row.text("priority_areas") else "priority_area_status")
        # As the form: the importer must reach the structure as it is, and as it will be.
        if structure is not None and not rights.may_edit(structure.commune, structure.federation_id, structure.pk):
            row.fail("cette structure n'est pas dans votre périmètre : vous ne pouvez pas la modifier.", "siret")
        elif final["commune"] is not None and not rights.may_edit(
            final["commune"], final["federation"].pk if final["federation"] else None, structure and structure.pk
        ):
            row.fail(
                "cette structure serait hors de votre périmètre : choisissez une commune de votre territoire (ou "
                "votre fédération d'adhésion).",
                "federation" if row.text("federation") else "commune",
            )
        new_approvals, approval_updates = _check_approvals(row, values, final, structure, approvals, rights)
        contact = _check_contact(row, structure, contacts)
        if row.failed:
            continue
        _record_structure(report, row, siret, values, final, structure, chosen, current_areas)
        _record_children(report, row, structure, new_approvals, approval_updates, contact)
    report.sort()
    if progress:
        progress(100)
    return report


def _check_approvals(row, values, final, structure, approvals, rights):
    """New approvals and changes of stored ones (same kind, same start) of a row."""
    wanted = []
    if any(row.text(k) for k in ("approval_kind", "approval_starts", "approval_ends", "approval_board")):
        kind = values["approval_kind"] or (
            ApprovalKind.EVS if final["kind"] == StructureKind.EVS else ApprovalKind.SOCIAL_PROJECT
        )
        wanted.append(("approval", kind, values["approval_starts"], values["approval_ends"], values["approval_board"]))
    if row.text("family_starts") or row.text("family_ends"):
        wanted.append(("family", ApprovalKind.FAMILY_PROJECT, values["family_starts"], values["family_ends"], None))
    new, updates = [], []
    stored = approvals.get(structure.pk, []) if structure else []
    for prefix, kind, starts, ends, board in wanted:
        key = f"{prefix}_starts"
        if starts is None or ends is None:
            if not row.failed:
                row.fail(
                    "un agrément a une date de début et une date de fin.", key if starts is None else f"{prefix}_ends"
                )
            continue
        if final["kind"] and kind not in APPROVAL_KINDS_BY_STRUCTURE[final["kind"]]:
            label = dict(StructureKind.choices)[final["kind"]].lower()
            row.fail(f"ce type d'agrément ne convient pas à un {label}.", "approval_kind")
            continue
        for message in _approval_errors(kind, starts, ends, board):
            row.fail(message[:1].lower() + message[1:], f"{prefix}_ends")
        if final["commune"] is not None and not rights.may_approve(final["commune"]):
            row.fail("seuls la Caf du territoire et les administrateurs enregistrent les agréments.", key)
            continue
        same = next((a for a in stored if a.kind == kind and a.starts == starts), None)
        if same is None and any(a.kind == kind and a.starts <= ends and a.ends >= starts for a in stored):
            row.fail("cette période chevauche un autre agrément du même type pour cette structure.", key)
            continue
        if same is None:
            new.append({"kind": kind, "starts": starts, "ends": ends, "board": board})
        elif same.ends != ends or (board is not None and same.board_decision_date != board):
            updates.append((same, {"ends": ends, "board_decision_date": board or same.board_decision_date}))
    return new, updates


def _check_contact(row, structure, contacts):
    keys = ("contact_name", "contact_position", "contact_email", "contact_phone")
    if not any(row.text(k) for k in keys):
        return None
    name = row.get("contact_name", lambda raw: _limited(StructureContact, "name", _text(raw)))
    if not row.text("contact_name"):
        row.fail("un contact a un nom.", "contact_name")
    values = {
        "position": row.get("contact_position", lambda raw: _limited(StructureContact, "position", _text(raw))),
        "email": row.get("contact_email", lambda raw: _checked_email(_text(raw))),
        "phone": row.get("contact_phone", lambda raw: _limited(StructureContact, "phone", _text(raw))),
    }
    if name is None:
        return None
    stored = contacts.get(structure.pk, []) if structure else []
    same = next((c for c in stored if _plain(c.name) == _plain(name)), None)
    return {"name": name, "values": values, "same": same}


def _record_structure(report, row, siret, values, final, structure, chosen, current_areas):
    fields = {
        k: _json(v.pk if k in FOREIGN_KEYS else v) for k, v in values.items() if k in STRUCTURE_FIELDS and v is not None
    }
    if structure is None:
        report.created += 1
        fields.setdefault("priority_area_status", PriorityAreaStatus.NONE)
        report.pending["creates"].append(
            {
                "row": row.number,
                "siret": siret,
                "fields": fields,
                "areas": chosen or [],
                "approvals": [],
                "contacts": [],
            }
        )
        report.change(row.number, row.name, "Nouvelle structure", "", f"{final['name']} ({final['commune'].name})")
        return
    changed = {}
    for key, value in values.items():
        if key not in STRUCTURE_FIELDS or value is None:
            continue
        before = getattr(structure, key)
        if key in FOREIGN_KEYS:
            if value.pk != getattr(structure, f"{key}_id"):
                changed[key] = value.pk
                label = str(_model_field(Structure, key).verbose_name)
                report.change(row.number, structure.name, label, before.name if before else "", value.name)
        elif before != value:
            changed[key] = _json(value)
            report.change(
                row.number,
                structure.name,
                str(_model_field(Structure, key).verbose_name),
                _shown(Structure, key, before),
                _shown(Structure, key, value),
            )
    areas = None
    if chosen is not None and chosen != current_areas:
        areas = chosen
        report.change(row.number, structure.name, "QPV", ", ".join(current_areas), ", ".join(chosen))
    entry = {
        "row": row.number,
        "pk": structure.pk,
        "version": structure.version,
        "name": structure.name,
        "fields": changed,
        "areas": areas,
        "approvals": [],
        "approval_updates": [],
        "contacts": [],
        "contact_updates": [],
    }
    report.pending["updates"].append(entry)


def _record_children(report, row, structure, new_approvals, approval_updates, contact):
    entry = report.pending["creates" if structure is None else "updates"][-1]
    name = row.name or (structure.name if structure else "")
    kinds = dict(ApprovalKind.choices)
    for approval in new_approvals:
        entry["approvals"].append({k: _json(v) for k, v in approval.items()})
        report.approvals += 1
        if structure is not None:
            report.change(
                row.number,
                name,
                "Nouvel agrément",
                "",
                f"{kinds[approval['kind']]} du {approval['starts']:%d/%m/%Y} au {approval['ends']:%d/%m/%Y}",
            )
    for approval, fields in approval_updates:
        entry["approval_updates"].append(
            {"pk": approval.pk, "version": approval.version, "fields": {k: _json(v) for k, v in fields.items()}}
        )
        report.approvals += 1
        for key, value in fields.items():
            before = getattr(approval, key)
            if before != value:
                report.change(
                    row.number,
                    name,
                    f"{kinds[approval.kind]} du {approval.starts:%d/%m/%Y} : "
                    f"{_model_field(Approval, key).verbose_name}",
                    _shown(Approval, key, before),
                    _shown(Approval, key, value),
                )
    if contact is None:
        return
    same, values = contact["same"], {k: v for k, v in contact["values"].items() if v is not None}
    if same is None:
        entry["contacts"].append({"name": contact["name"], **values})
        report.contacts += 1
        if structure is not None:
            report.change(row.number, name, "Nouveau contact", "", contact["name"])
        return
    changed = {k: v for k, v in values.items() if getattr(same, k) != v}
    if changed:
        report.contacts += 1
        entry["contact_updates"].append({"pk": same.pk, "version": same.version, "fields": changed})
        for key, value in changed.items():
            report.change(
                row.number,
                name,
                f"Contact {same.name} : {_model_field(StructureContact, key).verbose_name}",
                getattr(same, key),
                value,
            )


def finish_structures(report):
    """Updates that change nothing are counted unchanged and dropped from what applying writes."""
    kept = []
    for entry in report.pending["updates"]:
        if (
            entry["fields"]
            or entry["areas"] is not None
            or any(entry[k] for k in ("approvals", "approval_updates", "contacts", "contact_updates"))
        ):
            kept.append(entry)
        else:
            report.unchanged += 1
    report.updated = len(kept)
    report.pending["updates"] = kept
    return report


# -- partners ------------------------------------------------------------------------------------


def check_partners(user, name, content, progress=None):
    """The dry run of a file of partners with their territory (départements, communes)."""
    table = read_table(name, content)
    report = Report(target=PARTNERS, description=table.description)
    sheet = Sheet(table, PARTNER_COLUMNS, report)
    if not report.ok:
        return report
    rows = [Row(sheet, number, cells) for number, cells in sheet.rows]
    report.rows = len(rows)
    departments = set(Department.objects.values_list("code", flat=True))
    commune_codes = {c.upper() for row in rows for c in LIST_SPLIT.split(row.text("communes")) if c.strip()}
    communes = {}
    for chunk in _chunked(commune_codes):
        communes.update({c.code: c for c in Commune.objects.filter(code__in=chunk)})
    partners = list(Partner.objects.all())
    by_siret = {p.siret: p for p in partners if p.siret}
    by_name = {(_plain(p.name), p.kind): p for p in partners}
    territory = _partner_territory([p.pk for p in partners])
    seen = {}
    for position, row in enumerate(rows):
        if progress and position % 200 == 0:
            progress(int(90 * position / max(len(rows), 1)))
        row.name = row.text("name")
        values = {}
        for key in ("name", "short_name", "address", "phone"):
            values[key] = row.get(key, lambda raw, key=key: _limited(Partner, key, _text(raw)))
        values["kind"] = row.get("kind", lambda raw: _choice(PartnerKind, _text(raw)))
        values["siret"] = row.get("siret", lambda raw: _siret(_text(raw)))
        values["email"] = row.get("email", lambda raw: _checked_email(_text(raw)))
        values["website"] = row.get("website", lambda raw: _checked_url(_text(raw)))
        chosen_departments = chosen_communes = None
        if row.text("departments"):
            codes = [c.upper().zfill(2) for c in LIST_SPLIT.split(row.text("departments")) if c.strip()]
            unknown = [c for c in codes if c not in departments]
            if unknown:
                row.fail(f"département inconnu : {', '.join(unknown)}.", "departments")
            chosen_departments = sorted(set(codes))
        if row.text("communes"):
            codes = [c.upper() for c in LIST_SPLIT.split(row.text("communes")) if c.strip()]
            unknown = [c for c in codes if c not in communes]
            if unknown:
                row.fail(f"aucune commune n'a le code INSEE {', '.join(unknown)}.", "communes")
            chosen_communes = sorted(set(codes))
        partner = by_siret.get(values["siret"]) if values["siret"] else None
        if partner is None and values["name"] and values["kind"]:
            partner = by_name.get((_plain(values["name"]), values["kind"]))
        if partner is None:
            for key in ("name", "kind"):
                if not row.text(key):
                    row.fail(f"« {sheet.headers[key]} » est obligatoire pour un nouveau partenaire.", key)
        key = values["siret"] or (_plain(values["name"] or ""), values["kind"])
        if key in seen:
            row.fail(f"ce partenaire figure déjà ligne {seen[key]}.", "siret" if values["siret"] else "name")
        seen[key] = row.number
        if row.failed:
            continue
        fields = {k: v for k, v in values.items() if v is not None}
        if partner is None:
            report.created += 1
            report.pending["creates"].append(
                {
                    "row": row.number,
                    "fields": fields,
                    "departments": chosen_departments or [],
                    "communes": chosen_communes or [],
                }
            )
            report.change(row.number, values["name"], "Nouveau partenaire", "", values["name"])
            continue
        changed = {k: v for k, v in fields.items() if getattr(partner, k) != v}
        for k, v in changed.items():
            report.change(
                row.number,
                partner.name,
                str(_model_field(Partner, k).verbose_name),
                _shown(Partner, k, getattr(partner, k)),
                _shown(Partner, k, v),
            )
        stored_departments, stored_communes = territory.get(partner.pk, ([], []))
        if chosen_departments is not None and chosen_departments != stored_departments:
            report.change(
                row.number,
                partner.name,
                "départements couverts",
                ", ".join(stored_departments),
                ", ".join(chosen_departments),
            )
        else:
            chosen_departments = None
        if chosen_communes is not None and chosen_communes != stored_communes:
            report.change(
                row.number, partner.name, "communes couvertes", ", ".join(stored_communes), ", ".join(chosen_communes)
            )
        else:
            chosen_communes = None
        if changed or chosen_departments is not None or chosen_communes is not None:
            report.pending["updates"].append(
                {
                    "row": row.number,
                    "pk": partner.pk,
                    "version": partner.version,
                    "name": partner.name,
                    "fields": changed,
                    "departments": chosen_departments,
                    "communes": chosen_communes,
                }
            )
            report.updated += 1
        else:
            report.unchanged += 1
    report.sort()
    if progress:
        progress(100)
    return report


def _partner_territory(partner_ids):
    territory = {pk: ([], []) for pk in partner_ids}
    for partner_id, code in Partner.departments.through.objects.order_by("department_id").values_list(
        "partner_id", "department_id"
    ):
        territory[partner_id][0].append(code)
    for partner_id, code in Partner.communes.through.objects.order_by("commune_id").values_list(
        "partner_id", "commune_id"
    ):
        territory[partner_id][1].append(code)
    return territory


def check_file(target, user, name, content, progress=None):
    if target == PARTNERS:
        return check_partners(user, name, content, progress)
    return finish_structures(check_structures(user, name, content, progress))
