"""The national open-data format for subsidies, SCDL « subventions » (schema.data.gouv.fr, version
2.1): a partner publishes its subsidies as a CSV file in it, and reads back a past file of its own.

Reading matches each beneficiary to a structure by SIRET first, then by SIREN when it designates one
structure only, then by name (names in such files are spelled many ways: case, accents, articles,
« centre social » or « CS »…): a name match is uncertain and shown for review. Nothing is written
until the user confirms; then every row is written, or none.
"""

import calendar
import csv
import dataclasses
import datetime
import io
import re
import unicodedata
from decimal import Decimal, InvalidOperation

from cadre.funding.scdl_export import COLUMNS

# -- Reading ---------------------------------------------------------------------------------------
#
# Files as funders publish them: every version of the schema (1.x without rnaBeneficiaire nor
# dispositifAide, older ones with montantPret or detailAvantagesNature), headers in any case,
# « ; » or « , », UTF-8 or Windows-1252, dates as a year or a French date, SIRET or SIREN, amounts
# with a French comma. Each row is read into a ParsedRow; nothing is matched or written here.

MAX_FILE_SIZE = 25 * 1024 * 1024
# Columns of every published version, and columns of older files that are read but not used.
KNOWN_COLUMNS = [*COLUMNS, "montantPret", "detailAvantagesNature", "montantAvance", "codePostalBeneficiaire"]
READ_REQUIRED = ["nomBeneficiaire", "dateConvention", "montant"]
_CANONICAL = {re.sub(r"[^a-z]", "", c.lower()): c for c in KNOWN_COLUMNS}
MONTHS = [
    "janvier", "février", "mars", "avril", "mai", "juin",
    "juillet", "août", "septembre", "octobre", "novembre", "décembre",
]  # fmt: skip


def _canonical(header):
    key = re.sub(r"[^a-z]", "", unicodedata.normalize("NFKD", header).encode("ascii", "ignore").decode().lower())
    return _CANONICAL.get(key)


def schema_version(columns):
    if "dispositifAide" in columns:
        return "2.1 ou plus récente (avec dispositifAide)"
    if "rnaBeneficiaire" in columns:
        return "2.0 (avec rnaBeneficiaire, sans dispositifAide)"
    return "1.x (sans rnaBeneficiaire ni dispositifAide)"


@dataclasses.dataclass
class ParsedRow:
    number: int  # line of the file (the header is line 1)
    name: str = ""
    identifier: str = ""  # digits: a SIRET (14) or a SIREN (9), else empty
    rna: str = ""
    signed: datetime.date | None = None
    year: int | None = None
    amount: Decimal | None = None
    reference: str = ""
    purpose: str = ""
    funder_id: str = ""
    errors: list = dataclasses.field(default_factory=list)
    warnings: list = dataclasses.field(default_factory=list)

    @property
    def siren(self):
        return self.identifier[:9] if len(self.identifier) in (9, 14) else ""


@dataclasses.dataclass
class ParsedFile:
    rows: list
    errors: list  # the file cannot be read: nothing else is said
    version: str = ""
    notes: list = dataclasses.field(default_factory=list)


class FileRefused(Exception):
    pass


def decode(content):
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return content.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise FileRefused("Le fichier n'est pas un texte lisible : enregistrez-le en CSV (UTF-8 ou Windows-1252).")


def parse_date(text):
    """(date or None, year or None, error or None) of `dateConvention`: 2019-03-14, 14/03/2019,
    2019-03-14T00:00:00 or a year alone (2014)."""
    text = text.strip()
    if re.fullmatch(r"\d{4}", text):
        year = int(text)
        return None, year, None
    found = re.fullmatch(r"(\d{4})-(\d{1,2})-(\d{1,2})(?:[T ][\d:.+Z-]*)?", text)
    if found:
        year, month, day = (int(x) for x in found.groups())
    else:
        found = re.fullmatch(r"(\d{1,2})/(\d{1,2})/(\d{4})", text)
        if not found:
            return (
                None,
                None,
                (f"dateConvention « {text} » : une date AAAA-MM-JJ (ou JJ/MM/AAAA, ou l'année seule) est attendue."),
            )
        day, month, year = (int(x) for x in found.groups())
    try:
        return datetime.date(year, month, day), year, None
    except ValueError:
        if 1 <= month <= 12:
            last = calendar.monthrange(year, month)[1]
            return (
                None,
                None,
                (
                    f"dateConvention « {text} » : cette date n'existe pas ({MONTHS[month - 1]} {year} "
                    f"n'a que {last} jours)."
                ),
            )
        return None, None, f"dateConvention « {text} » : cette date n'existe pas (il n'y a pas de mois {month})."


def parse_amount(text):
    """Decimal of « 12500.50 », « 12 500,50 », « 12.500,50 », « 12 500 € »; ValueError otherwise."""
    cleaned = re.sub(r"[\s\u00a0\u202f€]", "", text)
    if "," in cleaned and "." in cleaned:  # the last of the two separates the cents
        thousands = "." if cleaned.rfind(",") > cleaned.rfind(".") else ","
        cleaned = cleaned.replace(thousands, "")
    cleaned = cleaned.replace(",", ".")
    try:
        amount = Decimal(cleaned)
    except InvalidOperation:
        raise ValueError from None
    if not amount.is_finite() or amount != amount.quantize(Decimal("0.01")):
        raise ValueError
    return amount


def _read_identifier(row, text):
    from stdnum.fr import siren, siret

    if not text:
        return
    if re.search(r"\d[.,]\d+E\+?\d+", text, re.IGNORECASE):
        row.warnings.append(
            f"idBeneficiaire « {text} » : abîmé par le tableur (écriture scientifique), ignoré ; "
            "rapprochement par le nom."
        )
        return
    digits = re.sub(r"\D", "", text)
    if (len(digits) == 14 and siret.is_valid(digits)) or (len(digits) == 9 and siren.is_valid(digits)):
        row.identifier = digits
    elif len(digits) in (9, 14):
        row.warnings.append(
            f"idBeneficiaire « {text} » : la clé de contrôle de ce {'SIRET' if len(digits) == 14 else 'SIREN'} "
            "est fausse, il est ignoré ; rapprochement par le nom."
        )
    else:
        row.warnings.append(
            f"idBeneficiaire « {text} » : ni un SIRET (14 chiffres) ni un SIREN (9 chiffres), ignoré ; "
            "rapprochement par le nom."
        )


def parse(content):
    """ParsedFile of an SCDL CSV file (bytes)."""
    try:
        text = decode(content)
    except FileRefused as refused:
        return ParsedFile([], [str(refused)])
    first = text.split("\n", 1)[0]
    delimiter = max(";,\t", key=first.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        return ParsedFile([], ["Le fichier est vide."])
    columns = [_canonical(h) for h in header]
    missing = [c for c in READ_REQUIRED if c not in columns]
    if missing:
        return ParsedFile(
            [],
            [
                f"Colonnes manquantes pour le format SCDL « subventions » : {', '.join(missing)} "
                f"(colonnes lues : {', '.join(h.strip() for h in header if h.strip()) or 'aucune'})."
            ],
        )
    notes = []
    unknown = [h.strip() for h, c in zip(header, columns, strict=True) if c is None and h.strip()]
    if unknown:
        notes.append(f"Colonnes ignorées, inconnues du schéma : {', '.join(unknown)}.")
    index = {c: i for i, c in enumerate(columns) if c}
    rows = []
    try:
        for values in reader:
            number = reader.line_num
            if not any(v.strip() for v in values):
                continue
            rows.append(_parse_row(number, values, index, len(header)))
    except csv.Error as error:
        return ParsedFile([], [f"Ligne {reader.line_num} : le fichier n'est pas un CSV lisible ({error})."])
    if not rows:
        return ParsedFile([], ["Le fichier ne contient aucune ligne de subvention."])
    return ParsedFile(rows, [], schema_version(index), notes)


def _parse_row(number, values, index, width):
    row = ParsedRow(number)
    if len(values) != width:
        row.errors.append(
            f"{len(values)} colonnes au lieu des {width} de l'en-tête : un séparateur en trop ou manquant "
            "(mettez entre guillemets les textes qui contiennent « ; » ou « , »)."
        )
        return row

    def value(column):
        return values[index[column]].strip() if column in index else ""

    row.name = value("nomBeneficiaire")[:300]
    row.reference = value("referenceDecision")[:100]
    row.purpose = value("objet")[:300]
    row.funder_id = re.sub(r"\D", "", value("idAttribuant"))
    _read_identifier(row, value("idBeneficiaire"))
    rna = re.sub(r"\s", "", value("rnaBeneficiaire")).upper()
    if rna and re.fullmatch(r"W\d{9}", rna):
        row.rna = rna
    elif rna:
        row.warnings.append(f"rnaBeneficiaire « {rna} » : un numéro RNA est W suivi de 9 chiffres ; ignoré.")
    if not row.name and not row.identifier and not row.rna:
        row.errors.append("Sans bénéficiaire : ni nomBeneficiaire, ni idBeneficiaire.")
    amount = value("montant")
    if not amount:
        row.errors.append(
            "Sans montant." + (" Un prêt (montantPret) n'est pas une subvention." if value("montantPret") else "")
        )
    else:
        try:
            row.amount = parse_amount(amount)
        except ValueError:
            row.errors.append(f"montant « {amount} » : un montant en euros est attendu (12500.50 ou 12 500,50).")
        else:
            if row.amount == 0:
                row.errors.append("Montant nul : rien à importer.")
                row.amount = None
            elif row.amount < 0:
                row.errors.append(f"montant « {amount} » : un montant négatif n'est pas une subvention.")
                row.amount = None
    row.signed, row.year, error = parse_date(value("dateConvention"))
    if error:
        row.errors.append(error)
    elif row.year < 2000 or row.year > 2100:
        row.errors.append(f"dateConvention « {value('dateConvention')} » : une année entre 2000 et 2100 est attendue.")
    else:
        # A multi-year convention repeats its signing date on every year's row: the year a subsidy
        # belongs to is then told by the start of its payments.
        paid = first_payment_year(value("datesPeriodeVersement"))
        if paid and row.year < paid <= 2100:
            row.warnings.append(f"Subvention de {paid}, l'année de son premier versement (convention de {row.year}).")
            row.year = paid
    return row


def first_payment_year(text):
    """Year of the first date of `datesPeriodeVersement` (« 2025-03-15/2025-09-20 », « 15/03/2025 »,
    the « _ » of older files), or None when it holds no date."""
    found = re.match(r"\s*(?:(\d{4})-\d{1,2}-\d{1,2}|\d{1,2}/\d{1,2}/(\d{4}))", text)
    return int(found.group(1) or found.group(2)) if found else None


# -- Matching --------------------------------------------------------------------------------------
#
# By SIRET, then SIREN when it designates one structure, then RNA (certain); otherwise by name,
# with rapidfuzz over the distinctive words of normalised names (« Centre social des Buers » and
# « CTRE SOC LES BUERS » both come down to « buers »): only a proposal, never chosen for the user.
# A structure whose SIRET or SIREN contradicts the row's identifier is never proposed.

WORDS_LEFT_OUT = {"de", "du", "des", "la", "le", "les", "l", "d", "et", "a", "au", "aux", "en", "sur", "sous"}
ABBREVIATIONS = {
    "cs": "centre social",
    "csc": "centre social culturel",
    "osc": "office socioculturel",
    "ctre": "centre",
    "centr": "centre",
    "cent": "centre",
    "soc": "social",
    "sociale": "social",
    "cult": "culturel",
    "culturelle": "culturel",
    "mq": "maison quartier",
    "mjc": "maison jeunes culture",
    "assoc": "association",
    "asso": "association",
    "ass": "association",
    "evs": "espace vie social",
    "st": "saint",
    "ste": "sainte",
}
# Words every beneficiary's name may hold: they say what it is, not which one.
GENERIC = {
    "centre", "social", "culturel", "socioculturel", "association", "maison", "quartier", "espace",
    "vie", "office", "jeunes", "culture", "familles", "famille", "local", "intercommunal", "municipal",
}  # fmt: skip
NAME_THRESHOLD = 86  # score (0–100) from which a structure is proposed as « to confirm »
WEAK_THRESHOLD = 70  # weaker resemblances, offered to choose from on unmatched rows
CANDIDATES = 3
TIE_MARGIN = 3  # a best score closer than this to the next one proposes nothing: the user chooses


def normalise(name):
    """« Centre Social des BUERS » and « CS Buers » both become « centre social buers »."""
    text = unicodedata.normalize("NFKD", name or "").encode("ascii", "ignore").decode().lower()
    text = re.sub(r"socio[\s-]+cultur", "sociocultur", text)
    words = re.findall(r"[a-z0-9]+", text)
    words = " ".join(ABBREVIATIONS.get(w, w) for w in words).split()
    return " ".join(w for w in words if w not in WORDS_LEFT_OUT)


def distinctive(normalised):
    """The words that tell one beneficiary from another (« buers »); the whole name when none."""
    words = [w for w in normalised.split() if w not in GENERIC]
    return " ".join(words) or normalised


def group_key(row):
    """Rows answered by one decision: same SIREN, or same normalised name when there is none; a
    leading « association » does not make another beneficiary (« ASSOC LE FIL ROUGE », « Le Fil rouge »)."""
    if row.siren:
        return f"siren:{row.siren}"
    if row.rna:
        return f"rna:{row.rna}"
    name = normalise(row.name)
    return f"nom:{name.removeprefix('association ') or name}"[:200]


@dataclasses.dataclass
class Match:
    kind: str  # "siret", "siren", "rna", "name" (to confirm), "none"
    structure_id: int | None = None
    candidates: list = dataclasses.field(default_factory=list)  # [(structure id, score)] best first
    ambiguous: bool = False  # several structures resemble the name as much: none is proposed


class Matcher:
    """Matches rows against `structures` ([(pk, name, siret, rna)]), once per distinct beneficiary.

    Identifiers are looked up among all of them; names only among `name_scope` (the pks of the
    structures of the funder's territory) when given: a homonym elsewhere in France is not proposed."""

    def __init__(self, structures, name_scope=None):
        from rapidfuzz import fuzz

        self.scorer = fuzz.token_sort_ratio
        self.structures = list(structures)
        self.by_siret = {siret: pk for pk, _, siret, _ in self.structures if siret}
        self.by_siren = {}
        for pk, _, siret, _ in self.structures:
            if siret:
                self.by_siren.setdefault(siret[:9], []).append(pk)
        self.by_rna = {rna: pk for pk, _, _, rna in self.structures if rna}
        self.sirens = {pk: siret[:9] for pk, _, siret, _ in self.structures if siret}
        self.names = {
            pk: normalise(name) for pk, name, _, _ in self.structures if name_scope is None or pk in name_scope
        }
        self.cores = {pk: distinctive(n) for pk, n in self.names.items()}
        self._cache = {}

    def match(self, row):
        if row.identifier:
            if len(row.identifier) == 14 and row.identifier in self.by_siret:
                return Match("siret", self.by_siret[row.identifier])
            same_siren = self.by_siren.get(row.siren, [])
            if len(same_siren) == 1:
                return Match("siren", same_siren[0])
        if row.rna and row.rna in self.by_rna:
            return Match("rna", self.by_rna[row.rna])
        key = (normalise(row.name), row.siren)
        if key not in self._cache:
            self._cache[key] = self._by_name(*key)
        return self._cache[key]

    def _by_name(self, name, siren):
        from rapidfuzz import process

        if not name:
            return Match("none")
        # One association running several structures: choose among them only.
        allowed = set(self.by_siren[siren]) if siren and self.by_siren.get(siren) else None
        found = process.extract(
            distinctive(name), self.cores, scorer=self.scorer, limit=50, score_cutoff=WEAK_THRESHOLD
        )
        scored = []
        for _, core_score, pk in found:
            if allowed is not None and pk not in allowed:
                continue
            if allowed is None and siren and self.sirens.get(pk, siren) != siren:
                continue  # its SIREN says it is another beneficiary
            scored.append((pk, round(0.7 * core_score + 0.3 * self.scorer(name, self.names[pk]), 1)))
        scored.sort(key=lambda item: -item[1])
        if not scored:
            return Match("none")
        ambiguous = len(scored) > 1 and scored[0][1] - scored[1][1] < TIE_MARGIN
        if scored[0][1] >= NAME_THRESHOLD and not ambiguous:
            return Match("name", candidates=scored[:CANDIDATES])
        return Match("none", candidates=scored[: CANDIDATES * 2 if ambiguous else CANDIDATES], ambiguous=ambiguous)
