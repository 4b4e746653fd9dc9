"""SCDL « subventions » 2.1 export: the file passes the schema's checks; a structure with neither SIRET
nor RNA number is named on the page and left out of the file; the RNA number of the registry."""

import re

import pytest
from django.urls import reverse

from cadre.accounts.models import User
from cadre.demo import cast
from cadre.funding import scdl_export
from cadre.funding.models import FundingLine
from cadre.partners.models import Partner
from cadre.structures.forms import StructureForm
from cadre.structures.models import Management, Structure

pytestmark = pytest.mark.django_db


def good_row(**changes):
    row = {
        "nomAttribuant": "Ville de Villeurbanne",
        "idAttribuant": "21690266800013",
        "dateConvention": "2025-01-01",
        "referenceDecision": "DEL-2025-12",
        "nomBeneficiaire": "Centre social des Buers",
        "idBeneficiaire": "78484578600077",
        "rnaBeneficiaire": "W698398452",
        "objet": "Subvention de la convention cadre 2025",
        "montant": "18000.00",
        "nature": "aide en numéraire",
        "conditionsVersement": "échelonné",
        "datesPeriodeVersement": "2025-03-15/2025-09-20",
        "idRAE": "",
        "notificationUE": "non",
        "pourcentageSubvention": "1",
        "dispositifAide": "subvention-convention-cadre",
    }
    row.update(changes)
    return row


def csv_of(client, partner, **params):
    response = client.get(reverse("funding:scdl", args=[partner.uuid]), {"format": "csv", **params})
    assert response.status_code == 200
    return scdl_export.read_rows(response.content)


def test_every_partner_s_export_of_the_demo_passes_the_schema_checks(client, demo):
    client.force_login(User.objects.get(email=cast.ADMIN))
    published = 0
    for partner in Partner.objects.filter(funding_lines__voted__isnull=False).distinct():
        rows = csv_of(client, partner)
        assert scdl_export.validate(rows) == [], partner
        published += len(rows)
        assert all(not r["dispositifAide"] or " " not in r["dispositifAide"] for r in rows)
    assert published > 20
    city = Partner.objects.get(short_name="Villeurbanne")
    rows = csv_of(client, city, annee=2025)
    assert {r["dispositifAide"] for r in rows} == {"subvention-convention-cadre"}  # the code, not the name
    assert all(re.fullmatch(r"W\d{9}", r["rnaBeneficiaire"]) for r in rows)  # its centres are associations


def test_a_period_of_payments_is_written_with_a_slash(client, demo):
    client.force_login(User.objects.get(email=cast.ADMIN))
    rows = csv_of(client, Partner.objects.get(short_name="Villeurbanne"))
    spread = [r for r in rows if r["conditionsVersement"] == "échelonné"]
    assert spread, "the demo pays its subsidies in instalments"
    for row in spread:
        start, end = row["datesPeriodeVersement"].split("/")
        assert start < end and "_" not in row["datesPeriodeVersement"]


def test_a_good_row_passes():
    assert scdl_export.validate([good_row()]) == []
    assert scdl_export.validate([good_row(idBeneficiaire="", datesPeriodeVersement="2025-03-15")]) == []
    assert scdl_export.validate([good_row(rnaBeneficiaire="", dispositifAide="")]) == []


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"nomAttribuant": ""}, "Ligne 2, colonne nomAttribuant : valeur obligatoire manquante."),
        ({"idAttribuant": "2169026680001"}, "colonne idAttribuant : « 2169026680001 » n'est pas un SIRET de 14"),
        ({"dateConvention": "01/01/2025"}, "colonne dateConvention : « 01/01/2025 » n'est pas une date au format"),
        ({"dateConvention": "2025-02-31"}, "colonne dateConvention : la date « 2025-02-31 » n'existe pas"),
        ({"idBeneficiaire": "784845786"}, "colonne idBeneficiaire : « 784845786 » n'est pas un SIRET de 14"),
        ({"rnaBeneficiaire": "698398452"}, "colonne rnaBeneficiaire : « 698398452 » n'est pas un W suivi de 9"),
        ({"objet": "x" * 257}, "colonne objet : 257 caractères, le schéma en admet 256 au plus"),
        ({"montant": "18 000,00"}, "colonne montant : « 18 000,00 » n'est pas un nombre"),
        ({"montant": ""}, "colonne montant : valeur obligatoire manquante"),
        ({"nature": "numéraire"}, "colonne nature : « numéraire » n'est pas une valeur admise"),
        ({"conditionsVersement": "en deux fois"}, "colonne conditionsVersement : « en deux fois » n'est pas une"),
        (
            {"datesPeriodeVersement": "2025-03-15_2025-09-20"},
            "colonne datesPeriodeVersement : « 2025-03-15_2025-09-20 » n'est pas une date AAAA-MM-JJ ou une période",
        ),
        ({"datesPeriodeVersement": "2025-09-20/2025-03-15"}, "la période « 2025-09-20/2025-03-15 » finit avant"),
        ({"datesPeriodeVersement": "2025-03-15/2025-13-01"}, "la date « 2025-13-01 » n'existe pas"),
        ({"idRAE": "123456"}, "colonne idRAE : 6 caractères"),
        ({"notificationUE": "false"}, "colonne notificationUE : « false » n'est pas une valeur admise"),
        ({"pourcentageSubvention": "100"}, "colonne pourcentageSubvention : « 100 » n'est pas compris entre 0,01 et 1"),
        ({"pourcentageSubvention": "0"}, "« 0 » n'est pas compris entre 0,01 et 1"),
        ({"pourcentageSubvention": "1,00"}, "colonne pourcentageSubvention : « 1,00 » n'est pas un nombre"),
        (
            {"dispositifAide": "Subvention complémentaire pluriannuelle"},
            "colonne dispositifAide : « Subvention complémentaire pluriannuelle » n'est pas un identifiant",
        ),
        (
            {"idBeneficiaire": "", "rnaBeneficiaire": ""},
            "Ligne 2, colonnes idBeneficiaire et rnaBeneficiaire : le bénéficiaire n'est identifié ni par son SIRET",
        ),
    ],
)
def test_each_rule_of_the_schema_fails_with_its_message(changes, message):
    errors = scdl_export.validate([good_row(**changes)])
    assert any(message in error for error in errors), errors
    assert len(errors) == 1, errors


def test_columns_missing_unknown_or_out_of_order_are_told():
    row = good_row()
    del row["dispositifAide"]
    assert "manquantes : dispositifAide" in scdl_export.validate([row])[0]
    assert "inconnues : montantPret" in scdl_export.validate([good_row(montantPret="0")])[0]
    shuffled = dict(reversed(list(good_row().items())))
    assert "dans un autre ordre" in scdl_export.validate([shuffled])[0]
    header = ",".join(scdl_export.COLUMNS)
    too_long = ",".join(good_row().values()) + ",en trop"
    assert "valeurs en trop" in scdl_export.validate(scdl_export.read_rows(f"{header}\n{too_long}\n"))[0]


def test_a_structure_without_siret_nor_rna_is_listed_on_the_page_and_left_out_of_the_file(client, demo):
    department = Partner.objects.get(short_name="CD 13")
    unregistered = Structure.objects.get(funding_lines__partner=department, siret="", rna="", funding_lines__year=2025)
    client.force_login(User.objects.get(email=cast.ADMIN))
    page = client.get(reverse("funding:scdl", args=[department.uuid])).content.decode()
    edit = reverse("structures:edit", args=[unregistered.uuid])
    assert "1 structure financée sera laissée hors du fichier" in page or "Une structure financée sera laissée" in page
    assert f'href="{edit}"' in page and unregistered.name.replace("'", "&#x27;") in page
    rows = csv_of(client, department, annee=2025)
    assert rows and unregistered.name not in {r["nomBeneficiaire"] for r in rows}
    assert scdl_export.validate(rows) == []
    funded = FundingLine.objects.filter(partner=department, year=2025, voted__isnull=False)
    assert len(rows) == funded.exclude(structure=unregistered).count()

    # A partner's reader who may not edit the structure sees its name, without a link to a page refused to them.
    city = Partner.objects.get(short_name="Villeurbanne")
    buers = Structure.objects.get(name="Centre social des Buers")
    Structure.objects.filter(pk=buers.pk).update(siret="", rna="")
    client.force_login(User.objects.get(email=cast.CITY_VILLEURBANNE))
    page = client.get(reverse("funding:scdl", args=[city.uuid])).content.decode()
    assert "Centre social des Buers : SIRET et numéro RNA inconnus" in page
    assert reverse("structures:edit", args=[buers.uuid]) not in page
    assert "Centre social des Buers" not in {r["nomBeneficiaire"] for r in csv_of(client, city)}


def test_the_demo_gives_rna_numbers_to_most_associations_and_leaves_some_structures_without_any(demo):
    associations = Structure.objects.filter(management=Management.ASSOCIATION)
    numbered = [s.rna for s in associations if s.rna]
    assert len(numbered) > associations.count() / 2
    assert all(re.fullmatch(r"W\d{9}", rna) for rna in numbered) and len(set(numbered)) == len(numbered)
    assert not Structure.objects.exclude(management=Management.ASSOCIATION).exclude(rna="").exists()
    assert Structure.objects.filter(siret="", rna="").exists()


class TestRnaAtTheFormField:
    def data(self, structure, **changes):
        form = StructureForm(instance=structure)
        data = {name: form[name].value() for name in form.fields if form[name].value() is not None}
        data.update(commune=f"{structure.commune.name} ({structure.commune_id})", **changes)
        for name in ("serves_travellers", "multi_site", "itinerant"):
            if not data.get(name):
                data.pop(name, None)
        return data

    def test_lower_case_and_spaces_are_stored_the_way_the_rna_writes_it(self, demo):
        structure = Structure.objects.filter(management=Management.ASSOCIATION, rna="").first()
        form = StructureForm(self.data(structure, rna=" w 691 012 345 "), instance=structure)
        assert form.is_valid(), form.errors
        assert form.cleaned_data["rna"] == "W691012345"
        form.save()
        structure.refresh_from_db()
        assert structure.rna == "W691012345"

    @pytest.mark.parametrize("typed", ["W12345", "691012345", "X691012345", "W6910123456"])
    def test_a_malformed_number_is_refused_at_the_field(self, demo, typed):
        structure = Structure.objects.filter(management=Management.ASSOCIATION).first()
        form = StructureForm(self.data(structure, rna=typed), instance=structure)
        assert not form.is_valid()
        assert form.errors["rna"] == ["Numéro RNA invalide : il faut un W suivi de 9 chiffres, par exemple W691012345."]

    def test_a_number_already_given_to_another_structure_is_refused_at_the_field(self, demo):
        taken = Structure.objects.exclude(rna="").first()
        structure = Structure.objects.filter(management=Management.ASSOCIATION).exclude(pk=taken.pk).first()
        form = StructureForm(self.data(structure, rna=taken.rna.lower()), instance=structure)
        assert not form.is_valid()
        assert form.errors["rna"] == ["Ce numéro RNA est déjà celui d'une autre structure du répertoire."]
        assert "__all__" not in form.errors
