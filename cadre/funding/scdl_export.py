"""Publishing a partner's subsidies in the SCDL « subventions » format, version 2.1, and checking the file
against the schema's own rules (schema.data.gouv.fr/scdl/subventions, table schema of OpenDataFrance).

The schema is written down here as data (`SCHEMA`): its columns in order, each with its type, whether it
is required, and its pattern, allowed values or bounds. `validate` applies them, plus the rules the schema
states in words: every row names its beneficiary by SIRET (`idBeneficiaire`) or RNA number
(`rnaBeneficiaire`), and `dispositifAide` holds an identifier, not a label.

A structure funded by the partner with neither SIRET nor RNA number cannot be published: `export_rows`
leaves it out, and `unidentified_structures` names it so that the page says so before the download.
"""

import csv
import dataclasses
import datetime
import io
import re
from decimal import Decimal, InvalidOperation

from django.db.models import Q

from cadre.funding.models import FundingLine, SchemeRule
from cadre.structures.models import Structure

VERSION = "2.1.0"

DATE = "date"
NUMBER = "number"
BOOLEAN = "boolean"
STRING = "string"

SIRET_PATTERN = r"\d{14}"
RNA_PATTERN = r"W\d{9}"
ISO_DATE = r"\d{4}-\d{2}-\d{2}"
# An identifier of a scheme (schema of the « dispositifs d'aide »): letters, digits and - _ . : /, no space.
IDENTIFIER_PATTERN = r"[A-Za-z0-9][A-Za-z0-9._:/-]*"


@dataclasses.dataclass(frozen=True)
class Column:
    name: str
    type: str = STRING
    required: bool = False
    pattern: str | None = None  # the whole value must match
    pattern_hint: str = ""  # what the pattern asks for, in French
    allowed: tuple = ()
    max_length: int | None = None
    minimum: Decimal | None = None
    maximum: Decimal | None = None


SCHEMA = [
    Column("nomAttribuant", required=True),
    Column("idAttribuant", required=True, pattern=SIRET_PATTERN, pattern_hint="un SIRET de 14 chiffres"),
    Column("dateConvention", DATE, required=True),
    Column("referenceDecision"),
    Column("nomBeneficiaire", required=True),
    Column("idBeneficiaire", pattern=SIRET_PATTERN, pattern_hint="un SIRET de 14 chiffres"),
    Column("rnaBeneficiaire", pattern=RNA_PATTERN, pattern_hint="un W suivi de 9 chiffres"),
    Column("objet", required=True, max_length=256),
    Column("montant", NUMBER, required=True),
    Column(
        "nature",
        required=True,
        allowed=(
            "aide en numéraire",
            "aide en nature",
            "aide en numéraire;aide en nature",
            "aide en nature;aide en numéraire",
        ),
    ),
    Column("conditionsVersement", required=True, allowed=("unique", "échelonné", "autre"), max_length=256),
    Column(
        "datesPeriodeVersement",
        required=True,
        pattern=rf"{ISO_DATE}(/{ISO_DATE})?",
        pattern_hint="une date AAAA-MM-JJ ou une période AAAA-MM-JJ/AAAA-MM-JJ",
    ),
    Column("idRAE", max_length=5),
    Column("notificationUE", BOOLEAN, required=True, allowed=("oui", "non")),
    Column("pourcentageSubvention", NUMBER, required=True, minimum=Decimal("0.01"), maximum=Decimal("1")),
    Column(
        "dispositifAide",
        pattern=IDENTIFIER_PATTERN,
        pattern_hint="un identifiant (lettres, chiffres, tirets, sans espace), pas un intitulé",
    ),
]
COLUMNS = [column.name for column in SCHEMA]


# -- Writing ---------------------------------------------------------------------------------------


def voted_lines(partner, year=None):
    """`partner`'s voted subsidies (the Caf's service funding is not a subsidy)."""
    lines = FundingLine.objects.filter(partner=partner, voted__isnull=False).exclude(
        scheme__rule=SchemeRule.CAF_SERVICE
    )
    return lines.filter(year=year) if year else lines


def identified_q(prefix=""):
    """Q of the structures with a SIRET or an RNA number (`prefix` to reach them through a relation)."""
    return ~Q(**{f"{prefix}siret": ""}) | ~Q(**{f"{prefix}rna": ""})


def unidentified_structures(partner, year=None):
    """Structures funded by `partner` (that year) with neither SIRET nor RNA number: left out of the file."""
    funded = voted_lines(partner, year).values("structure")
    return Structure.objects.filter(pk__in=funded).exclude(identified_q()).order_by("name")


def period(line, payments):
    """The payment date, or the period from the first to the last payment (« / » between the dates);
    before any payment, the line's year (which is how a reading of the file tells a multi-year
    convention's years apart)."""
    if not payments:
        return f"{line.year}-01-01/{line.year}-12-31"
    if payments[0] == payments[-1]:
        return payments[0].isoformat()
    return f"{payments[0].isoformat()}/{payments[-1].isoformat()}"


def export_rows(partner, year=None):
    """SCDL rows of `partner`'s voted subsidies whose beneficiary has a SIRET or an RNA number."""
    lines = (
        voted_lines(partner, year)
        .filter(identified_q("structure__"))
        .select_related("structure", "scheme", "agreement")
        .prefetch_related("payments")
        .order_by("year", "structure__name", "scheme__name", "pk")
    )
    for line in lines:
        payments = sorted(p.paid_on for p in line.payments.all())
        signed = line.agreement.starts if line.agreement_id else line.decision_date or datetime.date(line.year, 1, 1)
        yield {
            "nomAttribuant": partner.name,
            "idAttribuant": partner.siret,
            "dateConvention": signed.isoformat(),
            "referenceDecision": line.decision_reference,
            "nomBeneficiaire": line.structure.name,
            "idBeneficiaire": line.structure.siret,
            "rnaBeneficiaire": line.structure.rna,
            "objet": f"{line.scheme.name} {line.year}"[:256],
            "montant": f"{line.voted:.2f}",
            "nature": "aide en numéraire",
            "conditionsVersement": "échelonné" if len(set(payments)) > 1 else "unique",
            "datesPeriodeVersement": period(line, payments),
            "idRAE": "",
            "notificationUE": "non",
            "pourcentageSubvention": "1",
            "dispositifAide": line.scheme.code,
        }


def export_csv(partner, year=None):
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(export_rows(partner, year))
    return buffer.getvalue().encode("utf-8")


# -- Checking --------------------------------------------------------------------------------------


def _date_error(text):
    """None when `text` is an existing AAAA-MM-JJ date, else the reason."""
    if not re.fullmatch(ISO_DATE, text):
        return f"« {text} » n'est pas une date au format AAAA-MM-JJ"
    try:
        datetime.date.fromisoformat(text)
    except ValueError:
        return f"la date « {text} » n'existe pas"
    return None


def _value_errors(column, value):
    """Reasons why `value` does not fit `column` (an empty optional value always fits)."""
    if value == "":
        return ["valeur obligatoire manquante"] if column.required else []
    reasons = []
    if column.type == DATE and (reason := _date_error(value)):
        reasons.append(reason)
    if column.type == NUMBER:
        number = None
        if re.fullmatch(r"-?\d+(\.\d+)?", value):
            try:
                number = Decimal(value)
            except InvalidOperation:  # pragma: no cover - the pattern admits only decimals
                number = None
        if number is None:
            reasons.append(f"« {value} » n'est pas un nombre (chiffres, et le point avant les décimales)")
        elif (column.minimum is not None and number < column.minimum) or (
            column.maximum is not None and number > column.maximum
        ):
            low, high = (str(bound).replace(".", ",") for bound in (column.minimum, column.maximum))
            reasons.append(f"« {value} » n'est pas compris entre {low} et {high}")
    if column.allowed and value not in column.allowed:
        choices = ", ".join(f"« {choice} »" for choice in column.allowed)
        reasons.append(f"« {value} » n'est pas une valeur admise ({choices})")
    if column.pattern and not re.fullmatch(column.pattern, value):
        reasons.append(f"« {value} » n'est pas {column.pattern_hint}")
    elif column.name == "datesPeriodeVersement":
        dates = value.split("/")
        reasons += [reason for text in dates if (reason := _date_error(text))]
        if len(dates) == 2 and not reasons and dates[0] > dates[1]:
            reasons.append(f"la période « {value} » finit avant de commencer")
    if column.max_length and len(value) > column.max_length:
        reasons.append(f"{len(value)} caractères, le schéma en admet {column.max_length} au plus")
    return reasons


def validate(rows):
    """French messages for every rule of the schema that `rows` (dicts, in file order) break.

    Rows are numbered as the lines of the file: the header is line 1, the first row line 2.
    An empty list means the file passes the schema's checks.
    """
    errors = []
    for number, row in enumerate(rows, start=2):
        names = [name for name in row if name is not None]
        if names != COLUMNS or None in row:
            missing = [c for c in COLUMNS if c not in names]
            unknown = [n for n in names if n not in COLUMNS]
            if None in row:
                unknown.append("valeurs en trop")
            detail = "; ".join(
                part
                for part in (
                    f"manquantes : {', '.join(missing)}" if missing else "",
                    f"inconnues : {', '.join(unknown)}" if unknown else "",
                    "dans un autre ordre que celui du schéma"
                    if names != COLUMNS and not missing and not unknown
                    else "",
                )
                if part
            )
            errors.append(f"Ligne {number} : colonnes non conformes au schéma ({detail}).")
        for column in SCHEMA:
            if column.name not in row:
                continue
            value = (row[column.name] or "").strip()
            errors += [f"Ligne {number}, colonne {column.name} : {reason}." for reason in _value_errors(column, value)]
        if not (row.get("idBeneficiaire") or "").strip() and not (row.get("rnaBeneficiaire") or "").strip():
            errors.append(
                f"Ligne {number}, colonnes idBeneficiaire et rnaBeneficiaire : le bénéficiaire n'est identifié "
                "ni par son SIRET ni par son numéro RNA."
            )
    return errors


def read_rows(content):
    """The rows of an SCDL CSV file as dicts (header order kept), to check them with `validate`."""
    text = content.decode("utf-8-sig") if isinstance(content, bytes) else content
    return list(csv.DictReader(io.StringIO(text)))
