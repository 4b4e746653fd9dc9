"""SCDL « subventions » import on files as funders publish them: every schema version, years for
dates, SIREN for SIRET, French commas, bad rows excluded at the user's say, safe name matching
with decisions by group remembered, several subsidies a year, idempotence across schemes, and a
review page that works at 10,000+ rows."""

import csv
import io
from decimal import Decimal
from html import unescape

import pytest
from django.urls import reverse

from cadre.accounts.models import User
from cadre.demo import cast
from cadre.funding import actions, scdl, scdl_export
from cadre.funding.models import (
    Decision,
    FundingLine,
    FundingScheme,
    RowStatus,
    SubsidyImport,
    SubsidyImportStatus,
)
from cadre.partners.models import Partner
from cadre.structures.models import Structure
from tests import scdl_files

pytestmark = pytest.mark.django_db

HEADER_21 = ",".join(scdl_files.VERSIONS["2.1"])


@pytest.fixture
def caf(demo):
    return Partner.objects.get(short_name="Caf 69")


@pytest.fixture
def advisor(demo):
    return User.objects.get(email=cast.CAF69)


@pytest.fixture
def scheme(demo):
    return FundingScheme.objects.get(code="subvention-projet")


def centres():
    return list(Structure.objects.filter(commune__department_id="69", kind="centre_social").order_by("name"))


def row21(caf, name, identifier, amount, reference, date="2023-03-01"):
    values = ["Caf du Rhône", caf.siret, date, reference, name, identifier, "", "Projet jeunesse", amount,
              "aide en numéraire", "unique", "2023-04-01", "", "non", "1", ""]  # fmt: skip
    return ",".join(f'"{v}"' if "," in v else v for v in values)


def upload(client, caf, scheme, text, name="subventions.csv", encoding="utf-8"):
    file = io.BytesIO(text.encode(encoding) if isinstance(text, str) else text)
    file.name = name
    response = client.post(reverse("funding:scdl", args=[caf.uuid]), {"file": file, "scheme": scheme.pk})
    assert response.status_code == 302, response.context["form"].errors if response.context else response
    return SubsidyImport.objects.latest("pk")


# -- Reading the files funders publish -------------------------------------------------------------


def test_every_schema_version_is_read_with_years_sirens_and_french_commas():
    old = "\r\n".join(
        [
            ";".join(scdl_files.VERSIONS["ancien"]),
            "Département du Rhône;22690001700012;2014;CP-14-2;CTRE SOC LES BUERS;775672272;Fonctionnement;"
            "12 500,50;;;aide en numéraire;unique;2014-06-30;non;1",
            "Département du Rhône;22690001700012;14/03/2015;CP-15-9;CS Bonnefoi;;Été;800;;;aide en numéraire;unique;"
            "2015-06-30;non;1",
        ]
    ).encode("cp1252")
    parsed = scdl.parse(old)
    assert parsed.errors == []
    assert parsed.version.startswith("1.x")
    first, second = parsed.rows
    assert (first.number, first.year, first.signed, first.amount, first.identifier, first.siren) == (
        2, 2014, None, Decimal("12500.50"), "775672272", "775672272"
    )  # fmt: skip
    assert second.signed.isoformat() == "2015-03-14" and second.amount == Decimal("800")
    assert scdl.parse(",".join(scdl_files.VERSIONS["2.0"]).encode() + b"\n" + b"a," * 14 + b"a\n").version.startswith(
        "2.0"
    )


def test_a_date_that_does_not_exist_is_told_as_such_not_as_a_format():
    assert scdl.parse_date("2019-02-31")[2] == (
        "dateConvention « 2019-02-31 » : cette date n'existe pas (février 2019 n'a que 28 jours)."
    )
    assert "une date AAAA-MM-JJ" in scdl.parse_date("le 3 mars")[2]
    assert scdl.parse_date("2020-02-29T00:00:00")[0].isoformat() == "2020-02-29"


def test_rows_with_too_few_or_too_many_columns_are_errors_at_their_line(caf):
    text = "\n".join(
        [HEADER_21, row21(caf, "CS A", "", "100", "R1"), row21(caf, "CS B", "", "100", "R2") + ",en trop", "a,b,c"]
    )
    rows = scdl.parse(text.encode()).rows
    assert [r.errors for r in rows[:1]] == [[]]
    assert rows[1].number == 3 and rows[1].errors[0].startswith("17 colonnes au lieu des 16 de l'en-tête")
    assert rows[2].number == 4 and rows[2].errors[0].startswith("3 colonnes au lieu des 16")


def test_amounts_and_identifiers_as_spreadsheets_write_them():
    assert scdl.parse_amount("12.500,50") == scdl.parse_amount("12 500,50 €") == Decimal("12500.50")
    assert scdl.parse_amount("1,234.5") == Decimal("1234.5")
    with pytest.raises(ValueError):
        scdl.parse_amount("12,345,67")
    header = ",".join(scdl_files.VERSIONS["2.1"])
    damaged = scdl.parse(f'{header}\nX,1,2023,R,CS,"7,79951E+13",,o,10,n,u,d,,non,1,\n'.encode()).rows[0]
    assert damaged.identifier == "" and "écriture scientifique" in damaged.warnings[0]


def test_missing_columns_refuse_the_file_saying_which(client, caf, advisor, scheme):
    client.force_login(advisor)
    refused = upload(client, caf, scheme, "nomAttribuant,idAttribuant,objet\nCaf,1,x\n")
    assert refused.status == SubsidyImportStatus.REFUSED
    assert "nomBeneficiaire, dateConvention, montant" in refused.message
    page = client.get(reverse("funding:scdl_import", args=[refused.uuid])).content.decode()
    assert "rien n’a été importé" in page and "nomBeneficiaire, dateConvention, montant" in page


# -- Bad rows, matching and decisions ----------------------------------------------------------------


def test_bad_rows_are_listed_and_excluded_in_one_step_then_the_rest_is_written_all_or_nothing(
    client, caf, advisor, scheme
):
    a, b = centres()[:2]
    text = "\n".join(
        [
            HEADER_21,
            row21(caf, a.name, a.siret, "1500", "D1"),
            row21(caf, b.name, b.siret[:9], "2000,50", "D2"),
            row21(caf, a.name, a.siret, "0", "D3"),
            row21(caf, "", "", "900", "D4"),
            row21(caf, b.name, b.siret, "", "D5"),
            row21(caf, b.name, b.siret, "300", "D6", date="2019-02-31"),
        ]
    )
    client.force_login(advisor)
    subsidy_import = upload(client, caf, scheme, text)
    review = reverse("funding:scdl_import", args=[subsidy_import.uuid])
    page = client.get(review)
    assert page.context["chosen"] == "erreurs"  # what blocks comes first
    assert page.context["counts"]["erreurs"] == 4 and page.context["counts"]["to_import"] == 2
    html = unescape(page.content.decode())
    for reason in ("Montant nul", "Sans bénéficiaire", "Sans montant.", "cette date n'existe pas"):
        assert reason in html
    assert "Exclure les 4 lignes en erreur" in html
    refused = client.post(review, {"action": "confirmer"}, follow=True)
    assert "4 lignes en erreur" in refused.content.decode()
    assert not FundingLine.objects.filter(scheme=scheme, partner=caf).exists()

    errors_csv = client.get(review, {"classe": "erreurs", "format": "csv"})
    lines = list(csv.reader(io.StringIO(errors_csv.content.decode("utf-8-sig")), delimiter=";"))
    assert [line[0] for line in lines[1:]] == ["4", "5", "6", "7"] and "Montant nul" in lines[1][-1]

    client.post(review, {"action": "exclure-erreurs"})
    assert client.get(review).context["counts"]["exclues"] == 4
    assert client.post(review, {"action": "confirmer"}).status_code == 302
    written = FundingLine.objects.filter(scheme=scheme, partner=caf)
    assert {(line.structure, line.voted, line.decision_reference, line.year) for line in written} == {
        (a, Decimal("1500.00"), "D1", 2023),
        (b, Decimal("2000.50"), "D2", 2023),
    }
    subsidy_import.refresh_from_db()
    assert subsidy_import.status == SubsidyImportStatus.APPLIED and subsidy_import.lines_written == 2
    listing = client.get(reverse("funding:scdl", args=[caf.uuid])).content.decode()
    assert subsidy_import.file_name in listing and "importé" in listing and advisor.display_name in listing


def test_a_name_proposal_is_never_chosen_for_the_user_and_one_decision_answers_the_group(client, caf, advisor, scheme):
    target = next(s for s in centres() if s.name.lower().startswith("centre social "))
    spelled = "ASSOC " + target.name.upper().replace("CENTRE SOCIAL", "CTRE SOC")
    text = "\n".join(
        [
            HEADER_21,
            row21(caf, spelled, "", "1000", "N1"),
            row21(caf, spelled.lower(), "", "2000", "N2", date="2022"),
            row21(caf, "Judo club de Tarare", "", "500", "N3"),
        ]
    )
    client.force_login(advisor)
    subsidy_import = upload(client, caf, scheme, text)
    review = reverse("funding:scdl_import", args=[subsidy_import.uuid])
    page = client.get(review, {"classe": "a-confirmer"})
    (group,) = page.context["page"].object_list
    assert group["rows"] == 2 and group["candidates"][0][0] == target
    html = page.content.decode()
    select = html[html.index(f'name="d-{group["first"]}"') :]
    assert select.index("— Choisir —") < select.index(str(target.uuid))  # the empty choice comes first
    assert "selected" not in select[: select.index("</select>")]
    assert client.get(review).context["counts"]["to_import"] == 0  # nothing counted before a decision

    client.post(review + "?classe=a-confirmer", {"action": "decider", f"d-{group['first']}": str(target.uuid)})
    counts = client.get(review).context["counts"]
    assert counts["a_confirmer"] == 0 and counts["decidees"] == 2 and counts["to_import"] == 2
    client.post(review, {"action": "confirmer"})
    assert FundingLine.objects.filter(structure=target, scheme=scheme).count() == 2

    # The next file of the same funder: the decision is remembered, and can still be changed.
    again = upload(client, caf, scheme, "\n".join([HEADER_21, row21(caf, spelled, "", "750", "N9")]))
    (row,) = again.rows.all()
    assert (row.decision, row.structure, row.remembered) == (Decision.CHOSEN, target, True)


def test_an_identifier_that_contradicts_a_structure_rules_it_out_of_name_matching(advisor, caf, scheme):
    target = centres()[0]
    other_siren = "552100554"  # a valid SIREN that is not the structure's
    assert target.siret and target.siret[:9] != other_siren
    text = "\n".join(
        [HEADER_21, row21(caf, target.name, other_siren, "100", "X1"), row21(caf, target.name, "", "100", "X2")]
    )
    subsidy_import = actions.upload_subsidy_file(caf, scheme, advisor, "f.csv", text.encode())
    contradicted, plain = subsidy_import.rows.order_by("number")
    assert target.pk not in [pk for pk, _ in contradicted.candidates]
    assert plain.status == RowStatus.NAME and plain.candidates[0][0] == target.pk
    assert (contradicted.group_key, plain.group_key) == (f"siren:{other_siren}", f"nom:{scdl.normalise(target.name)}")


def test_the_abbreviations_funders_use_are_normalised():
    same = [
        "Centre social et socioculturel du Grand Vire",
        "CTRE SOC SOCIO CULTUREL GRAND VIRE",
        "CENTR SOCIAL ET SOCIO-CULTUREL LE GRAND VIRE",
        "CS socioculturel Grand Vire",
    ]
    assert len({scdl.normalise(name) for name in same}) == 1
    assert scdl.normalise("MJC du Vieux Lyon") == scdl.normalise("Maison des jeunes et de la culture Vieux Lyon")
    assert scdl.normalise("MQ des Brotteaux") == scdl.normalise("Maison de quartier Brotteaux")
    assert scdl.distinctive(scdl.normalise("ASSOC CENTRE SOCIAL DES BUERS")) == "buers"


def test_one_decision_answers_a_name_with_or_without_a_leading_association():
    names = ["ASSOC LE FIL ROUGE", "Le Fil rouge", "Association"]
    keys = [scdl.group_key(scdl.ParsedRow(number=n, name=name)) for n, name in enumerate(names, start=2)]
    assert keys[0] == keys[1] == "nom:fil rouge"
    assert keys[2] == "nom:association"  # a name that is only the word keeps it


# -- Several subsidies a year, idempotence -----------------------------------------------------------


def test_several_subsidies_a_year_are_each_kept_and_added_up_on_the_structure_page(client, caf, advisor, scheme):
    target = centres()[0]
    text = "\n".join(
        [
            HEADER_21,
            row21(caf, target.name, target.siret, "10000", "FONCT-2023"),
            row21(caf, target.name, target.siret, "2500", "PROJ-2023"),
            row21(caf, target.name, target.siret, "1250,25", "PROJ-2023-B"),
        ]
    )
    client.force_login(advisor)
    subsidy_import = upload(client, caf, scheme, text)
    client.post(reverse("funding:scdl_import", args=[subsidy_import.uuid]), {"action": "confirmer"})
    lines = FundingLine.objects.filter(structure=target, partner=caf, scheme=scheme, year=2023)
    assert sorted(line.decision_reference for line in lines) == ["FONCT-2023", "PROJ-2023", "PROJ-2023-B"]
    page = client.get(reverse("funding:structure", args=[target.uuid]))
    assert "13 750,25" in page.content.decode().replace("\u202f", " ").replace("\xa0", " ")


def test_the_same_rows_are_never_counted_twice_whatever_the_scheme(client, caf, advisor, scheme):
    a, b = centres()[:2]
    text = "\n".join([HEADER_21, row21(caf, a.name, a.siret, "1500", "D1"), row21(caf, b.name, b.siret, "900", "D2")])
    client.force_login(advisor)
    first = upload(client, caf, scheme, text)
    client.post(reverse("funding:scdl_import", args=[first.uuid]), {"action": "confirmer"})
    other_scheme = FundingScheme.objects.exclude(pk=scheme.pk).filter(code="subvention-fonctionnement").first()
    other_scheme = other_scheme or FundingScheme.objects.exclude(pk=scheme.pk).exclude(rule="caf_service").first()
    second = upload(client, caf, other_scheme, text)
    assert second.notes[0].startswith("Ce fichier a déjà été importé le")
    assert {row.status for row in second.rows.all()} == {RowStatus.ALREADY}
    page = client.get(reverse("funding:scdl_import", args=[second.uuid]))
    assert "Ce fichier a déjà été importé" in page.content.decode()
    assert page.context["counts"]["to_import"] == 0
    # A hand-entered line with the same decision counts too.
    FundingLine.objects.create(
        structure=b, partner=caf, scheme=other_scheme, year=2024, forecast=700, voted=700, decision_reference="H1"
    )
    third = actions.upload_subsidy_file(
        caf, scheme, advisor, "g.csv", "\n".join([HEADER_21, row21(caf, b.name, b.siret, "700", "H1", "2024")]).encode()
    )
    assert third.rows.get().status == RowStatus.ALREADY
    assert FundingLine.objects.filter(partner=caf, decision_reference__in=["D1", "D2"]).count() == 2


# -- Volumes: 10,000+ rows, the review page, matching accuracy ---------------------------------------


def accuracy(subsidy_import, answers):
    """(right, wrong, missed) rows: the structure the import gives or proposes first, against the answer."""
    right = wrong = missed = 0
    for row in subsidy_import.rows.all():
        if row.status in (RowStatus.IDENTIFIER, RowStatus.ALREADY):
            found = row.structure_id
        elif row.status == RowStatus.NAME:
            found = row.candidates[0][0]
        else:
            found = None
        expected = answers[row.number]
        if found == expected:
            right += 1
        elif found is None:
            missed += 1
        else:
            wrong += 1
    return right, wrong, missed


@pytest.mark.parametrize(
    ("version", "delimiter", "encoding"), [("1.0", ",", "utf-8"), ("ancien", ";", "cp1252"), ("2.1", ";", "utf-8")]
)
def test_a_built_file_of_every_version_is_matched_right(advisor, caf, scheme, version, delimiter, encoding):
    structures = list(Structure.objects.visible_to(advisor).values_list("pk", "name", "siret"))
    built = scdl_files.build(
        structures, ("Caf du Rhône", caf.siret), rows=600, version=version, delimiter=delimiter, encoding=encoding
    )
    subsidy_import = actions.upload_subsidy_file(caf, scheme, advisor, "f.csv", built.content)
    assert subsidy_import.status == SubsidyImportStatus.READY, subsidy_import.message
    assert subsidy_import.rows.filter(status=RowStatus.ERROR).count() == 0
    right, wrong, missed = accuracy(subsidy_import, built.answers)
    assert right / built.rows >= 0.9 and wrong / built.rows <= 0.02, (right, wrong, missed)


def test_a_file_of_12000_rows_is_checked_by_the_worker_and_reviewed_page_by_page(
    client, caf, advisor, scheme, settings
):
    settings.CADRE_IMPORT_INLINE_MAX_BYTES = 100_000  # the test settings run the worker's tasks at once
    structures = list(Structure.objects.visible_to(advisor).values_list("pk", "name", "siret"))
    built = scdl_files.build(structures, ("Caf du Rhône", caf.siret), rows=12_000, version="2.1", seed=7)
    assert len(built.content) > settings.CADRE_IMPORT_INLINE_MAX_BYTES
    client.force_login(advisor)
    subsidy_import = upload(client, caf, scheme, built.content, name="rhone-2014-2024.csv")
    assert subsidy_import.status == SubsidyImportStatus.READY and subsidy_import.row_count == 12_000
    review = reverse("funding:scdl_import", args=[subsidy_import.uuid])
    page = client.get(review, {"classe": "non-reconnues", "page": 2})
    counts = page.context["counts"]
    assert (
        sum(counts[k] for k in ("a_confirmer", "non_reconnues", "erreurs", "identifiant", "deja_importees")) == 12_000
    )
    assert len(page.context["page"].object_list) == 25 and page.context["page"].number == 2
    unmatched = client.get(review, {"classe": "non-reconnues", "format": "csv"})
    assert len(unmatched.content.decode("utf-8-sig").splitlines()) == counts["non_reconnues"] + 1
    identified = client.get(review, {"classe": "identifiant"})
    assert len(identified.context["page"].object_list) == 50
    assert "Confirmer l’import" in identified.content.decode()
    settings.CADRE_IMPORT_INLINE_MAX_WRITES = 1000  # a large confirmation goes to the worker too
    client.post(review, {"action": "confirmer"})
    subsidy_import.refresh_from_db()
    assert subsidy_import.status == SubsidyImportStatus.APPLIED
    assert subsidy_import.lines_written == counts["identifiant"] == FundingLine.objects.filter(scheme=scheme).count()


# -- The export of an import reads back ------------------------------------------------------------


def scdl_row(caf, name, amount, reference, *, siret="", rna="", date="2023-01-15", paid="2023-04-01"):
    values = ["Caf du Rhône", caf.siret, date, reference, name, siret, rna, "Projet", amount,
              "aide en numéraire", "unique", paid, "", "non", "1", ""]  # fmt: skip
    return ",".join(values)


def test_the_export_of_an_import_reads_back_matched_by_identifier_and_nothing_is_written_twice(
    client, caf, advisor, scheme
):
    a, b, c, d = centres()[:4]
    Structure.objects.filter(pk=c.pk).update(siret="", rna="W691000042")  # an association known by RNA only
    text = "\n".join(
        [
            HEADER_21,
            scdl_row(caf, a.name, "1000", "P-1", siret=a.siret),
            scdl_row(caf, b.name, '"2000,50"', "P-2", siret=b.siret[:9]),  # a SIREN
            scdl_row(caf, "Asso des habitants", "3000", "P-3", rna="W691000042"),
            scdl_row(caf, d.name, "400", "P-4", date="2023"),  # a name, chosen by the user
            # A convention of 2023 for three years: each year's row repeats its signing date.
            *(scdl_row(caf, a.name, "20000", "CPO-7", siret=a.siret, paid=f"{y}-03-01") for y in (2023, 2024, 2025)),
        ]
    )
    client.force_login(advisor)
    first = upload(client, caf, scheme, text)
    by_number = {row.number: row for row in first.rows.all()}
    assert [by_number[n].status for n in (2, 3, 4)] == [RowStatus.IDENTIFIER] * 3
    assert by_number[4].structure_id == c.pk  # by its RNA number
    assert sorted(r.year for r in first.rows.filter(reference="CPO-7")) == [2023, 2024, 2025]
    review = reverse("funding:scdl_import", args=[first.uuid])
    client.post(review, {"action": "decider", f"d-{by_number[5].pk}": str(d.uuid)})
    client.post(review, {"action": "confirmer"})
    first.refresh_from_db()
    assert first.status == SubsidyImportStatus.APPLIED
    assert FundingLine.objects.filter(structure=a, partner=caf, decision_reference="CPO-7").count() == 3

    exported = client.get(reverse("funding:scdl", args=[caf.uuid]), {"format": "csv"}).content
    rows = scdl_export.read_rows(exported)
    assert scdl_export.validate(rows) == []
    assert {"P-1", "P-2", "P-3", "P-4", "CPO-7"} <= {r["referenceDecision"] for r in rows}
    lines_before = FundingLine.objects.count()
    other = FundingScheme.objects.exclude(pk=scheme.pk).exclude(rule="caf_service").first()
    again = upload(client, caf, other, exported, name="export.csv")
    assert again.status == SubsidyImportStatus.READY, again.message
    statuses = {row.status for row in again.rows.all()}
    assert statuses == {RowStatus.ALREADY}, [
        (r.number, r.name, r.status, r.errors) for r in again.rows.exclude(status=RowStatus.ALREADY)[:5]
    ]
    assert again.rows.count() == len(rows)
    page = client.get(reverse("funding:scdl_import", args=[again.uuid]))
    assert page.context["counts"]["to_import"] == 0
    client.post(reverse("funding:scdl_import", args=[again.uuid]), {"action": "confirmer"})
    assert FundingLine.objects.count() == lines_before
