"""The national open-data format for subsidies, SCDL « subventions » (schema.data.gouv.fr, version
2.1): a partner publishes its subsidies as a CSV file in it, and reads back a past file of its own.

Reading matches each beneficiary to a structure by SIRET first, then by SIREN when it designates one
structure only, then by name (names in such files are spelled many ways: case, accents, articles,
« centre social » or « CS »…): a name match is uncertain and shown for review. Nothing is written
until the user confirms; then every row is written, or none.
"""

import csv
import dataclasses
import datetime
import difflib
import io
import re
import unicodedata
from decimal import Decimal, InvalidOperation

from cadre.funding.models import FundingLine, SchemeRule
from cadre.structures.models import Structure

COLUMNS = [
    "nomAttribuant",
    "idAttribuant",
    "dateConvention",
    "referenceDecision",
    "nomBeneficiaire",
    "idBeneficiaire",
    "rnaBeneficiaire",
    "objet",
    "montant",
    "nature",
    "conditionsVersement",
    "datesPeriodeVersement",
    "idRAE",
    "notificationUE",
    "pourcentageSubvention",
    "dispositifAide",
]
REQUIRED = ["nomAttribuant", "idAttribuant", "dateConvention", "nomBeneficiaire", "objet", "montant"]
NAME_THRESHOLD = 0.82  # similarity of normalised names below which a structure is not suggested


def export_rows(partner, year=None):
    """SCDL rows of `partner`'s voted subsidies (the Caf's service funding is not a subsidy)."""
    lines = (
        FundingLine.objects.filter(partner=partner, voted__isnull=False)
        .exclude(scheme__rule=SchemeRule.CAF_SERVICE)
        .select_related("structure", "scheme", "agreement")
        .prefetch_related("payments")
        .order_by("year", "structure__name", "scheme__name")
    )
    if year:
        lines = lines.filter(year=year)
    for line in lines:
        payments = sorted(p.paid_on for p in line.payments.all())
        if payments:
            period = payments[0].isoformat() if len(payments) == 1 else f"{payments[0]}_{payments[-1]}"
        else:
            period = (line.decision_date or datetime.date(line.year, 1, 1)).isoformat()
        signed = line.agreement.starts if line.agreement_id else line.decision_date or datetime.date(line.year, 1, 1)
        yield {
            "nomAttribuant": partner.name,
            "idAttribuant": partner.siret,
            "dateConvention": signed.isoformat(),
            "referenceDecision": line.decision_reference,
            "nomBeneficiaire": line.structure.name,
            "idBeneficiaire": line.structure.siret,
            "rnaBeneficiaire": "",
            "objet": f"{line.scheme.name} {line.year}",
            "montant": f"{line.voted:.2f}",
            "nature": "aide en numéraire",
            "conditionsVersement": "échelonné" if len(payments) > 1 else "unique",
            "datesPeriodeVersement": period,
            "idRAE": "",
            "notificationUE": "non",
            "pourcentageSubvention": "1",
            "dispositifAide": line.scheme.name,
        }


def export_csv(partner, year=None):
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(export_rows(partner, year))
    return buffer.getvalue().encode("utf-8")


# -- Reading ---------------------------------------------------------------------------------------

WORDS_LEFT_OUT = {"de", "du", "des", "la", "le", "les", "l", "d", "et", "a", "au", "aux", "en"}
SYNONYMS = {"cs": "centre social", "csc": "centre social et culturel", "evs": "espace de vie sociale", "st": "saint"}


def normalise(name):
    """« Centre Social des BUERS » and « CS Buers » both become « centre social buers »."""
    text = unicodedata.normalize("NFKD", name or "").encode("ascii", "ignore").decode().lower()
    words = re.findall(r"[a-z0-9]+", text)
    words = " ".join(SYNONYMS.get(w, w) for w in words).split()
    return " ".join(w for w in words if w not in WORDS_LEFT_OUT)


class Match:
    SIRET = "siret"
    SIREN = "siren"
    NAME = "name"  # uncertain: to review
    NONE = "none"


@dataclasses.dataclass
class Row:
    number: int  # line of the file (the header is line 1)
    data: dict
    errors: list
    amount: Decimal | None = None
    signed: datetime.date | None = None
    year: int | None = None
    match: str = Match.NONE
    structure: Structure | None = None
    similarity: float = 0.0

    @property
    def certain(self):
        return self.match in (Match.SIRET, Match.SIREN)


def _digits(text):
    return re.sub(r"\D", "", text or "")


def read(content, partner, structures):
    """([Row], file errors) of an SCDL CSV file of `partner`, beneficiaries matched among `structures`."""
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = content.decode("cp1252")
        except UnicodeDecodeError:
            return [], ["Le fichier n'est pas un texte lisible (UTF-8 attendu)."]
    dialect = ";" if text.split("\n", 1)[0].count(";") > text.split("\n", 1)[0].count(",") else ","
    reader = csv.DictReader(io.StringIO(text), delimiter=dialect)
    header = [h.strip() for h in reader.fieldnames or []]
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        return [], [f"Colonnes manquantes pour le format SCDL « subventions » : {', '.join(missing)}."]
    structures = list(structures)
    by_siret = {s.siret: s for s in structures if s.siret}
    by_siren = {}
    for s in structures:
        if s.siret:
            by_siren.setdefault(s.siret[:9], []).append(s)
    names = {s.pk: normalise(s.name) for s in structures}
    own = _digits(partner.siret)
    rows = []
    for number, raw in enumerate(reader, start=2):
        data = {(k or "").strip(): (v or "").strip() for k, v in raw.items()}
        row = Row(number, data, [])
        if own and _digits(data["idAttribuant"]) != own:
            row.errors.append(
                f"idAttribuant {data['idAttribuant'] or 'vide'} : ce n'est pas le SIRET de {partner.name} ({own})."
            )
        try:
            row.amount = Decimal(data["montant"].replace(" ", "").replace(",", "."))
            if row.amount <= 0 or row.amount != row.amount.quantize(Decimal("0.01")):
                raise InvalidOperation
        except InvalidOperation:
            row.errors.append(f"montant « {data['montant']} » : un montant positif en euros est attendu (12500.50).")
        try:
            row.signed = datetime.date.fromisoformat(data["dateConvention"][:10])
            row.year = row.signed.year
        except ValueError:
            row.errors.append(f"dateConvention « {data['dateConvention']} » : une date AAAA-MM-JJ est attendue.")
        siret = _digits(data.get("idBeneficiaire"))
        if len(siret) == 14 and siret in by_siret:
            row.match, row.structure = Match.SIRET, by_siret[siret]
        elif len(siret) >= 9 and len(by_siren.get(siret[:9], [])) == 1:
            row.match, row.structure = Match.SIREN, by_siren[siret[:9]][0]
        else:
            wanted = normalise(data["nomBeneficiaire"])
            scored = sorted(
                ((difflib.SequenceMatcher(None, wanted, names[s.pk]).ratio(), s.name, s) for s in structures),
                key=lambda item: (-item[0], item[1]),
            )
            if scored and scored[0][0] >= NAME_THRESHOLD:
                row.match, row.similarity, row.structure = Match.NAME, scored[0][0], scored[0][2]
        rows.append(row)
    if not rows:
        return [], ["Le fichier ne contient aucune ligne de subvention."]
    return rows, []
