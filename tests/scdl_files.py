"""SCDL « subventions » files built as French funders publish them, with the answer of each row.

Several versions of the schema (1.x without rnaBeneficiaire nor dispositifAide, older files with
montantPret and detailAvantagesNature, 2.x), « ; » or « , », UTF-8 or Windows-1252, French commas,
dates as a year or a French date, SIRET or SIREN or nothing, names abbreviated as funders' software
truncates them, and beneficiaries that are not structures of the partnership at all.
"""

import csv
import dataclasses
import io
import random
import unicodedata

VERSIONS = {
    "1.0": [
        "nomAttribuant", "idAttribuant", "dateConvention", "referenceDecision", "nomBeneficiaire", "idBeneficiaire",
        "objet", "montant", "nature", "conditionsVersement", "datesPeriodeVersement", "idRAE", "notificationUE",
        "pourcentageSubvention",
    ],
    "ancien": [
        "nomAttribuant", "idAttribuant", "DateConvention", "referenceDecision", "nomBeneficiaire", "idBeneficiaire",
        "objet", "montant", "montantPret", "detailAvantagesNature", "nature", "conditionsVersement",
        "datesPeriodeVersement", "notificationUE", "pourcentageSubvention",
    ],
    "2.0": [
        "nomAttribuant", "idAttribuant", "dateConvention", "referenceDecision", "nomBeneficiaire", "idBeneficiaire",
        "rnaBeneficiaire", "objet", "montant", "nature", "conditionsVersement", "datesPeriodeVersement", "idRAE",
        "notificationUE", "pourcentageSubvention",
    ],
    "2.1": [
        "nomAttribuant", "idAttribuant", "dateConvention", "referenceDecision", "nomBeneficiaire", "idBeneficiaire",
        "rnaBeneficiaire", "objet", "montant", "nature", "conditionsVersement", "datesPeriodeVersement", "idRAE",
        "notificationUE", "pourcentageSubvention", "dispositifAide",
    ],
}  # fmt: skip

OTHER_BENEFICIARIES = [
    "Association sportive de {town}", "Club de football de {town}", "Harmonie municipale de {town}",
    "Comité des fêtes de {town}", "Amicale des donneurs de sang de {town}", "Restos du coeur {town}",
    "Secours populaire comité de {town}", "Office de tourisme de {town}", "Théâtre de la Renaissance {town}",
    "Croix-Rouge unité locale de {town}", "Judo club {town}", "Association des parents d'élèves de {town}",
]  # fmt: skip
TOWNS = ["Bron", "Givors", "Tarare", "Meyzieu", "Écully", "Mornant", "Thizy", "Anse", "Belleville", "Feyzin"]


def _ascii(text):
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()


def spelled(name, rng):
    """The name as a funder's software writes it: upper case, no accents, abbreviated."""
    text = name
    choice = rng.random()
    if choice < 0.25:
        text = _ascii(text).upper()
    elif choice < 0.4:
        text = _ascii(text).upper().replace("CENTRE SOCIAL", rng.choice(["CS", "CTRE SOC", "CENTR SOCIAL", "C.S."]))
    elif choice < 0.5:
        text = "ASSOC " + _ascii(text).upper()
    elif choice < 0.6:
        text = text.replace("socioculturel", "socio culturel").replace("Centre social", "Centre Social")
    elif choice < 0.7:
        text = text.replace("Espace de vie sociale", "EVS").replace("Centre social", "CS")
    return text


@dataclasses.dataclass
class BuiltFile:
    content: bytes
    answers: dict  # line number → structure pk, or None for a beneficiary outside the partnership
    version: str
    rows: int


def build(structures, funder, *, rows=200, version="2.1", seed=1, delimiter=";", encoding="utf-8",
          years=(2014, 2024), other_share=0.3):  # fmt: skip
    """`structures`: [(pk, name, siret)]; `funder`: (name, siret)."""
    rng = random.Random(seed)
    columns = VERSIONS[version]
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(columns)
    answers = {}
    for number in range(2, rows + 2):
        year = rng.randint(*years)
        if rng.random() < other_share:
            pk, name, siret = None, rng.choice(OTHER_BENEFICIARIES).format(town=rng.choice(TOWNS)), ""
            identifier = rng.choice(["", "", str(rng.randint(10**8, 10**9 - 1))])  # SIRENs of nobody we know
        else:
            pk, name, siret = rng.choice(structures)
            name = spelled(name, rng)
            draw = rng.random()
            identifier = siret if draw < 0.4 else siret[:9] if draw < 0.6 else ""
            if siret and 0.6 <= draw < 0.65:
                identifier = f"{int(siret[:12]) / 10**11:.5f}".replace(".", ",") + "E+13"  # Excel's rounding
        answers[number] = pk
        day = rng.choice([f"{year}", f"{year}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
                          f"{rng.randint(1, 28):02d}/{rng.randint(1, 12):02d}/{year}"])  # fmt: skip
        amount = rng.choice([1500, 2300.5, 12000, 45000, 800, 3150.75])
        text_amount = f"{amount:.2f}".replace(".", ",") if delimiter == ";" else f"{amount:.2f}"
        values = {
            "nomAttribuant": funder[0],
            "idAttribuant": funder[1],
            "dateConvention": day,
            "DateConvention": day,
            "referenceDecision": f"DEL-{year}-{number:05d}",
            "nomBeneficiaire": name,
            "idBeneficiaire": identifier,
            "rnaBeneficiaire": "",
            "objet": rng.choice(["Fonctionnement", "Projet jeunesse", "Animation d'été", "Accueil des familles"])
            + f" {year}, délibération de la commission permanente n° CP-{year}-{number % 97:02d}",
            "montant": text_amount,
            "montantPret": "",
            "detailAvantagesNature": "",
            "nature": "aide en numéraire",
            "conditionsVersement": "unique",
            "datesPeriodeVersement": f"{year}-06-30",
            "idRAE": "",
            "notificationUE": "non",
            "pourcentageSubvention": "1",
            "dispositifAide": "",
        }
        writer.writerow([values[c] for c in columns])
    return BuiltFile(buffer.getvalue().encode(encoding, errors="replace"), answers, version, rows)
