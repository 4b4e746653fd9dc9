"""Spreadsheet exchange of observatory answers: export (XLSX with codebook, CSV), dry-run import
with located French errors, all-or-nothing apply, encodings, and who may do what."""

import csv
import datetime
import decimal
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone
from openpyxl import Workbook, load_workbook

from cadre.accounts.models import Role
from cadre.exchanges.actions import ImportRefused, apply_import, record_import, start_apply
from cadre.exchanges.models import AnswerImport, ImportStatus
from cadre.exchanges.observatory import MAX_FILE_SIZE, MAX_ROWS, FileRefused, check_file, export_csv, export_xlsx
from cadre.observatory.actions import load_questionnaire, open_campaign, save_answer
from cadre.observatory.models import (
    Answer,
    Campaign,
    Correspondent,
    Question,
    Questionnaire,
    Rule,
    RuleLevel,
    Submission,
    SubmissionEvent,
    SubmissionStatus,
)
from cadre.partners.models import PartnerKind
from cadre.structures.models import StructureKind
from cadre.territories.models import Commune
from tests.factories import MARSEILLE_3E, VENISSIEUX, ApprovalFactory, PartnerFactory, UserFactory, member

pytestmark = pytest.mark.django_db
D = decimal.Decimal

QUESTIONNAIRE = """
code = "echanges"
version = 1
title = "Questionnaire d'essai des échanges"

[[sections]]
code = "rh"
title = "Ressources humaines"

[[sections.questions]]
code = "salaries_total"
label = "Salariés au 31 décembre"
type = "integer"
required = true
min = 0
max = 500

[[sections.questions]]
code = "directeur"
label = "La structure a-t-elle un directeur ?"
type = "boolean"
applies_to = ["centre_social"]

[[sections.questions]]
code = "directeur_diplome"
label = "Diplôme du directeur"
type = "choice"
shown_if = "directeur == true"
applies_to = ["centre_social"]
choices = [{ code = "niveau_7", label = "Niveau 7 (DESJEPS, master)" }, { code = "niveau_6", label = "Niveau 6" }]

[[sections]]
code = "finances"
title = "Finances"

[[sections.questions]]
code = "budget_total"
label = "Budget total"
type = "amount"
min = 0

[[sections.questions]]
code = "part_qpv"
label = "Part des personnes habitant en QPV"
type = "percentage"

[[sections.questions]]
code = "lieux"
label = "Lieux d'actions hors les murs"
type = "multiple_choice"
choices = [
  { code = "mediatheque", label = "Médiathèque" },
  { code = "ecole", label = "École" },
  { code = "bailleur", label = "Local d'un bailleur" },
]

[[sections.questions]]
code = "projet_phare"
label = "Projet phare de l'année"
type = "text"
"""
CODES = ["salaries_total", "directeur", "directeur_diplome", "budget_total", "part_qpv", "lieux", "projet_phare"]
FIXED = ["identifiant", "Structure", "Type", "Commune", "Département", "État de la saisie"]


@pytest.fixture
def world(tmp_path):
    """A campaign open today with three structures: A (centre social, Villeurbanne), B (EVS,
    Vénissieux) in the Rhône, C (centre social, Marseille); their staff and correspondants."""
    path = tmp_path / "echanges.toml"
    path.write_text(QUESTIONNAIRE, encoding="utf-8")
    questionnaire, _ = load_questionnaire(path)
    today = timezone.localdate()
    admin = UserFactory(email="admin@cadre.fr", is_superuser=True)
    a = ApprovalFactory(structure__name="Centre social des Buers").structure
    b = ApprovalFactory(
        structure__name="EVS La Passerelle",
        structure__kind=StructureKind.EVS,
        structure__commune=Commune.objects.get(code=VENISSIEUX),
    ).structure
    c = ApprovalFactory(
        structure__name="Centre social Saint-Mauront", structure__commune=Commune.objects.get(code=MARSEILLE_3E)
    ).structure
    campaign = Campaign.objects.create(
        year=2025,
        title="Observatoire 2025",
        questionnaire=questionnaire,
        opens_on=today - datetime.timedelta(days=10),
        closes_on=today + datetime.timedelta(days=30),
    )
    open_campaign(campaign, actor=admin)
    campaign.refresh_from_db()
    caf69 = PartnerFactory(name="Caf du Rhône", kind=PartnerKind.CAF, departments=["69"])
    caf13 = PartnerFactory(name="Caf des Bouches-du-Rhône", kind=PartnerKind.CAF, departments=["13"])
    city = PartnerFactory(name="Ville de Villeurbanne", kind=PartnerKind.COMMUNE, communes=["69266"])
    w = {
        "campaign": campaign,
        "questionnaire": questionnaire,
        "admin": admin,
        "a": Submission.objects.get(structure=a),
        "b": Submission.objects.get(structure=b),
        "c": Submission.objects.get(structure=c),
        "staff_a": member(UserFactory(email="directrice@buers.fr"), a, Role.EDITOR),
        "viewer_a": member(UserFactory(email="benevole@buers.fr"), a, Role.VIEWER),
        "corr69": member(UserFactory(email="avs@caf69.fr"), caf69),
        "corr13": member(UserFactory(email="avs@caf13.fr"), caf13),
        "city": member(UserFactory(email="agent@villeurbanne.fr"), city),
    }
    Correspondent.objects.create(campaign=campaign, user=w["corr69"], department_id="69")
    Correspondent.objects.create(campaign=campaign, user=w["corr13"], department_id="13")
    return w


def q(world, code):
    return Question.objects.select_related("section").get(questionnaire=world["questionnaire"], code=code)


def answer(world, key, code, raw):
    return save_answer(world[key], q(world, code), raw, actor=world["admin"])


def fill(world):
    answer(world, "a", "salaries_total", "12")
    answer(world, "a", "directeur", "oui")
    answer(world, "a", "directeur_diplome", "niveau_7")
    answer(world, "a", "budget_total", "12 345,50")
    answer(world, "a", "part_qpv", "45,5")
    answer(world, "a", "lieux", "École ; Médiathèque")
    answer(world, "a", "projet_phare", "Fête de quartier à l'été")
    answer(world, "b", "salaries_total", "0")
    answer(world, "b", "budget_total", "80000")
    answer(world, "c", "salaries_total", "30")


def snapshot(campaign):
    """Every stored answer of the campaign with its version: what an import must not change by accident."""
    return sorted(
        Answer.objects.filter(submission__campaign=campaign).values_list(
            "submission_id", "question__code", "number", "text", "codes", "version"
        )
    )


def export(client, user, campaign, fmt):
    client.force_login(user)
    response = client.get(reverse("exchanges:campaign_export", args=[campaign.uuid, fmt]))
    assert response.status_code == 200
    return response.content


def xlsx_rows(content, sheet="Réponses"):
    return [list(row) for row in load_workbook(io.BytesIO(content))[sheet].iter_rows(values_only=True)]


def csv_rows(content):
    assert content.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig"), newline=""), delimiter=";"))


def csv_file(rows, encoding="utf-8", delimiter=";"):
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue().encode(encoding)


def xlsx_file(rows):
    workbook = Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def ident(world, key):
    return str(world[key].structure.uuid)


def upload(client, user, campaign, name, content):
    client.force_login(user)
    return client.post(
        reverse("exchanges:campaign_import", args=[campaign.uuid]), {"file": SimpleUploadedFile(name, content)}
    )


def texts(report):
    return [e["text"] for e in report.errors]


class TestExport:
    def test_xlsx_has_one_row_per_structure_and_typed_cells(self, world, client):
        fill(world)
        rows = xlsx_rows(export(client, world["admin"], world["campaign"], "xlsx"))
        assert rows[0] == FIXED + CODES
        # By département, then name: Marseille first.
        assert [r[1] for r in rows[1:]] == [
            "Centre social Saint-Mauront",
            "Centre social des Buers",
            "EVS La Passerelle",
        ]
        a = dict(zip(rows[0], rows[2], strict=True))
        assert a["identifiant"] == ident(world, "a")
        assert (a["Type"], a["Commune"], a["Département"], a["État de la saisie"]) == (
            "Centre social",
            "Villeurbanne",
            "69",
            "en cours de saisie",
        )
        assert a["salaries_total"] == 12 and isinstance(a["salaries_total"], int)
        assert a["budget_total"] == 12345.5 and a["part_qpv"] == 45.5
        assert (a["directeur"], a["directeur_diplome"], a["lieux"]) == ("oui", "niveau_7", "ecole ; mediatheque")
        assert a["projet_phare"] == "Fête de quartier à l'été"
        b = dict(zip(rows[0], rows[3], strict=True))
        assert b["État de la saisie"] == "en cours de saisie" and b["salaries_total"] == 0 and b["directeur"] is None

    def test_the_workbook_looks_finished_in_a_spreadsheet(self, world, client):
        fill(world)
        workbook = load_workbook(io.BytesIO(export(client, world["admin"], world["campaign"], "xlsx")))
        answers, codebook = workbook["Réponses"], workbook["Codebook"]
        # Identifier and name stay in sight; the header filters every column over every row.
        assert answers.freeze_panes == "C2" and answers.auto_filter.ref == "A1:M4"
        assert codebook.freeze_panes == "B2" and codebook.auto_filter.ref == "A1:J14"
        assert all(cell.font.b for cell in answers[1])
        widths = {c: answers.column_dimensions[c].width for c in "ABCM"}
        assert widths["A"] == 38 and widths["B"] == len("Centre social Saint-Mauront") + 2 and widths["C"] == 23
        assert widths["M"] == len("Fête de quartier à l'été") + 2
        budget = answers.cell(row=3, column=FIXED.__len__() + CODES.index("budget_total") + 1)
        assert budget.value == 12345.5 and budget.data_type == "n" and budget.number_format == '#,##0.00 "€"'
        assert codebook.column_dimensions["C"].width == 60 and codebook["C2"].alignment.wrap_text

    def test_codebook_sheet_describes_every_column(self, world, client):
        rows = xlsx_rows(export(client, world["admin"], world["campaign"], "xlsx"), "Codebook")
        assert rows[0] == [
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
        by_code = {row[0]: row for row in rows[1:]}
        assert list(by_code) == FIXED + CODES
        assert by_code["salaries_total"][1:8] == [
            "Ressources humaines",
            "Salariés au 31 décembre",
            "nombre entier",
            None,
            "de 0 à 500",
            "oui",
            None,
        ]
        assert by_code["budget_total"][4] == "€" and by_code["part_qpv"][5] == "de 0 à 100"
        assert by_code["directeur_diplome"][7] == "directeur == true"
        assert by_code["directeur"][8] == "centres sociaux" and by_code["lieux"][8] == "toutes"
        assert by_code["directeur_diplome"][9] == "niveau_7 = Niveau 7 (DESJEPS, master)\nniveau_6 = Niveau 6"

    def test_csv_is_semicolon_utf8_with_bom_and_decimal_comma(self, world, client):
        fill(world)
        rows = csv_rows(export(client, world["admin"], world["campaign"], "csv"))
        assert rows[0] == FIXED + CODES
        a = dict(zip(rows[0], rows[2], strict=True))
        assert (a["salaries_total"], a["budget_total"], a["part_qpv"]) == ("12", "12345,5", "45,5")
        assert (a["directeur"], a["lieux"], a["projet_phare"]) == (
            "oui",
            "ecole ; mediatheque",
            "Fête de quartier à l'été",
        )
        response = client.get(reverse("exchanges:campaign_codebook", args=[world["campaign"].uuid]))
        assert [row[0] for row in csv_rows(response.content)[1:]] == FIXED + CODES

    def test_codebook_follows_the_campaigns_questionnaire_version(self, world, client, tmp_path):
        """The codebook is kept per process and questionnaire version: a campaign of another version (here a
        draft campaign whose version was replaced by a changed file) gets its own questions at once."""
        url = reverse("exchanges:campaign_codebook", args=[world["campaign"].uuid])
        client.force_login(world["admin"])
        assert [row[0] for row in csv_rows(client.get(url).content)[1:]] == FIXED + CODES
        path = tmp_path / "v2.toml"
        path.write_text(QUESTIONNAIRE.replace("version = 1", "version = 2"), encoding="utf-8")
        draft_version, _ = load_questionnaire(path)
        draft = Campaign.objects.create(
            year=2026,
            title="Observatoire 2026",
            questionnaire=draft_version,
            opens_on=world["campaign"].opens_on,
            closes_on=world["campaign"].closes_on,
        )
        draft_url = reverse("exchanges:campaign_codebook", args=[draft.uuid])
        assert [row[0] for row in csv_rows(client.get(draft_url).content)[1:]] == FIXED + CODES
        draft.delete()  # the version is free again: its file may change (a new question, a new label)
        changed = QUESTIONNAIRE.replace("version = 1", "version = 2").replace("Budget total", "Budget de l'année")
        changed += '\n[[sections.questions]]\ncode = "benevoles"\nlabel = "Bénévoles"\ntype = "integer"\n'
        path.write_text(changed, encoding="utf-8")
        replaced, status = load_questionnaire(path)
        assert status == "replaced"
        draft = Campaign.objects.create(
            year=2026,
            title="Observatoire 2026",
            questionnaire=replaced,
            opens_on=world["campaign"].opens_on,
            closes_on=world["campaign"].closes_on,
        )
        rows = csv_rows(client.get(reverse("exchanges:campaign_codebook", args=[draft.uuid])).content)[1:]
        assert [row[0] for row in rows] == [*FIXED, *CODES, "benevoles"]
        assert {row[0]: row[2] for row in rows}["budget_total"] == "Budget de l'année"
        # The first campaign's codebook is unchanged.
        assert [row[0] for row in csv_rows(client.get(url).content)[1:]] == FIXED + CODES

    def test_structure_staff_exports_only_its_row(self, world, client):
        fill(world)
        rows = xlsx_rows(export(client, world["staff_a"], world["campaign"], "xlsx"))
        assert [r[0] for r in rows[1:]] == [ident(world, "a")]
        assert [r[0] for r in csv_rows(export(client, world["viewer_a"], world["campaign"], "csv"))[1:]] == [
            ident(world, "a")
        ]

    def test_the_file_is_made_once_until_an_answer_or_a_structure_changes(self, world, client, monkeypatch):
        from cadre.exchanges import observatory

        made = []
        monkeypatch.setattr(observatory, "export_csv", lambda *a: made.append(1) or export_csv(*a))
        fill(world)

        def row_a():
            rows = csv_rows(export(client, world["admin"], world["campaign"], "csv"))
            return dict(zip(rows[0], next(r for r in rows if r[0] == ident(world, "a")), strict=True))

        assert row_a()["salaries_total"] == "12" and row_a()["salaries_total"] == "12" and len(made) == 1
        answer(world, "a", "salaries_total", "13")
        assert row_a()["salaries_total"] == "13" and len(made) == 2
        structure = world["a"].structure
        structure.name = "Centre social des Buers rénové"
        structure.save()
        assert row_a()["Structure"] == "Centre social des Buers rénové" and len(made) == 3

    def test_another_departments_correspondent_sees_only_its_own(self, world, client):
        fill(world)
        rows = xlsx_rows(export(client, world["corr13"], world["campaign"], "xlsx"))
        assert [r[0] for r in rows[1:]] == [ident(world, "c")]
        rows = xlsx_rows(export(client, world["corr69"], world["campaign"], "xlsx"))
        assert {r[0] for r in rows[1:]} == {ident(world, "a"), ident(world, "b")}

    def test_campaign_out_of_sight_is_404_and_anonymous_goes_to_login(self, world, client):
        draft = Campaign.objects.create(
            year=2026,
            title="Observatoire 2026",
            questionnaire=world["questionnaire"],
            opens_on=datetime.date(2027, 3, 1),
            closes_on=datetime.date(2027, 5, 31),
        )
        url = reverse("exchanges:campaign_export", args=[draft.uuid, "xlsx"])
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith(reverse("accounts:login"))
        client.force_login(world["staff_a"])
        assert client.get(url).status_code == 404
        client.force_login(world["admin"])
        assert client.get(url).status_code == 200

    def test_formula_like_text_stays_text_and_comes_back_unchanged(self, world, client):
        answer(world, "a", "projet_phare", '=HYPERLINK("http://exemple.fr")')
        content = export(client, world["admin"], world["campaign"], "xlsx")
        sheet = load_workbook(io.BytesIO(content))["Réponses"]
        cell = sheet.cell(row=3, column=len(FIXED) + CODES.index("projet_phare") + 1)
        assert cell.data_type == "s" and cell.value.startswith("=HYPERLINK")
        rows = csv_rows(export(client, world["admin"], world["campaign"], "csv"))
        assert rows[2][-1] == '\'=HYPERLINK("http://exemple.fr")'
        for name, data in [("r.xlsx", content), ("r.csv", export_csv(world["campaign"], world["admin"]))]:
            report = check_file(world["campaign"], world["admin"], name, data)
            assert report.ok and report.changed == 0, (name, texts(report))


class TestDryRun:
    @pytest.mark.parametrize("fmt", ["xlsx", "csv"])
    def test_reimporting_an_export_changes_nothing(self, world, fmt):
        fill(world)
        before = snapshot(world["campaign"])
        content = (export_xlsx if fmt == "xlsx" else export_csv)(world["campaign"], world["admin"])
        report = check_file(world["campaign"], world["admin"], f"reponses.{fmt}", content)
        assert report.ok, texts(report)
        assert (report.structures, report.answers, report.changed, report.unchanged) == (3, 10, 0, 10)
        answer_import = record_import(world["campaign"], world["admin"], f"reponses.{fmt}", content, report)
        apply_import(answer_import, actor=world["admin"])
        assert snapshot(world["campaign"]) == before

    def test_every_bad_cell_is_reported_with_its_place_and_nothing_is_written(self, world, client):
        fill(world)
        before = snapshot(world["campaign"])
        content = csv_file(
            [
                ["identifiant", "structure", "salaries_total", "part_qpv", "directeur", "lieux", "budget_total"],
                [ident(world, "a"), "Buers", "douze", "120", "peut-être", "ecole ; piscine", "10,555"],
                [ident(world, "b"), "Passerelle", "3", "", "oui", "", ""],
            ]
        )
        response = upload(client, world["staff_a"], world["campaign"], "faux.csv", content)
        answer_import = AnswerImport.objects.get()
        assert response.status_code == 302 and response["Location"].endswith(f"/imports/{answer_import.uuid}/")
        assert answer_import.status == ImportStatus.DRY_RUN_FAILED
        # Staff of A cannot see B: its row is refused without saying whether it exists.
        assert [e["text"] for e in answer_import.report["errors"]] == [
            "Ligne 2, colonne C (salaries_total) : « douze » n'est pas un nombre.",
            "Ligne 2, colonne D (part_qpv) : La valeur doit être au plus 100 %.",
            "Ligne 2, colonne E (directeur) : Répondez par oui ou par non (et non « peut-être »).",
            "Ligne 2, colonne F (lieux) : « piscine » ne fait pas partie des choix proposés (Médiathèque, École, "
            "Local d'un bailleur).",
            "Ligne 2, colonne G (budget_total) : Un montant a au plus deux décimales (les centimes).",
            "Ligne 3, colonne A (identifiant) : aucune structure de cette campagne, dans votre périmètre, ne porte "
            "cet identifiant.",
        ]
        assert snapshot(world["campaign"]) == before
        page = client.get(response["Location"]).content.decode()
        assert "6 erreurs : rien n’a été importé" in page and "« douze » n&#x27;est pas un nombre." in page
        assert "Appliquer l’import" not in page
        with pytest.raises(ImportRefused):
            apply_import(answer_import, actor=world["staff_a"])
        assert snapshot(world["campaign"]) == before

    def test_header_problems_are_reported(self, world):
        content = csv_file(
            [
                ["Identifiant", "salarie_total", "budget_total", "budget_total", "", "Département"],
                [ident(world, "a"), "3", "100", "200", "oublié", "69"],
            ]
        )
        assert texts(check_file(world["campaign"], world["admin"], "r.csv", content)) == [
            "Ligne 1, colonne B (salarie_total) : « salarie_total » n'est le code d'aucune question de ce "
            "questionnaire (les codes sont dans la feuille « Codebook » de l'export).",
            "Ligne 1, colonne D (budget_total) : « budget_total » figure déjà en colonne C : un code n'a qu'une "
            "colonne (celle-ci n'est pas lue).",
            "Ligne 1, colonne E : des valeurs sont saisies sous un en-tête vide : donnez à la colonne le code de sa "
            "question.",
        ]
        missing = csv_file([["structure", "salaries_total"], ["Buers", "3"]])
        assert texts(check_file(world["campaign"], world["admin"], "r.csv", missing)) == [
            "Ligne 1 : la colonne « identifiant » manque : c'est elle qui désigne la structure de chaque ligne "
            "(reprenez l'en-tête du fichier exporté)."
        ]

    def test_row_problems_are_reported(self, world):
        Submission.objects.filter(pk=world["c"].pk).update(status=SubmissionStatus.VALIDATED)
        content = csv_file(
            [
                ["identifiant", "salaries_total", "directeur"],
                ["pas-un-uuid", "1", ""],
                ["", "2", ""],
                [ident(world, "a"), "3", "oui"],
                [ident(world, "b"), "4", "non"],
                [ident(world, "a"), "5", ""],
                [ident(world, "c"), "6", ""],
                ["", "", ""],
            ]
        )
        assert texts(check_file(world["campaign"], world["admin"], "r.csv", content)) == [
            "Ligne 2, colonne A (identifiant) : « pas-un-uuid » n'est pas un identifiant de structure : reprenez "
            "celui du fichier exporté.",
            "Ligne 3, colonne A (identifiant) : l'identifiant de la structure manque.",
            "Ligne 5, colonne C (directeur) : cette question n'est pas posée aux espaces de vie sociale : laissez la "
            "case vide.",
            "Ligne 6 : Centre social des Buers figure déjà en ligne 4 : une structure n'a qu'une ligne.",
            "Ligne 7 : La saisie de Centre social Saint-Mauront est validée : rouvrez-la avant d'importer.",
        ]

    @pytest.mark.parametrize(
        "encoding, delimiter",
        [("utf-8-sig", ";"), ("utf-8", ";"), ("cp1252", ";"), ("utf-8", ","), ("utf-16", "\t")],
    )
    def test_french_spreadsheet_encodings_and_separators_are_read(self, world, encoding, delimiter):
        text = "Fête de l'été, « Café des habitants »"
        content = csv_file(
            [["identifiant", "projet_phare", "budget_total"], [ident(world, "a"), text, "1 234,5"]],
            encoding=encoding,
            delimiter=delimiter,
        )
        report = check_file(world["campaign"], world["admin"], "r.csv", content)
        assert report.ok, texts(report)
        apply_import(record_import(world["campaign"], world["admin"], "r.csv", content, report), actor=world["admin"])
        assert world["a"].values() == {"projet_phare": text, "budget_total": D("1234.5")}

    def test_workbook_cells_keep_their_types(self, world):
        content = xlsx_file(
            [
                ["identifiant", "salaries_total", "directeur", "budget_total", "part_qpv", "projet_phare"],
                [ident(world, "a"), 12.0, True, 0.1 + 0.2, 45, datetime.datetime(2025, 6, 21)],
                [ident(world, "c"), 7, 1, 1234.56, "12 %", 2025],
            ]
        )
        report = check_file(world["campaign"], world["admin"], "r.xlsx", content)
        assert report.ok, texts(report)
        apply_import(record_import(world["campaign"], world["admin"], "r.xlsx", content, report), actor=world["admin"])
        assert world["a"].values() == {
            "salaries_total": D(12),
            "directeur": True,
            "budget_total": D("0.3"),
            "part_qpv": D(45),
            "projet_phare": "21/06/2025",
        }
        assert world["c"].values() == {
            "salaries_total": D(7),
            "directeur": True,
            "budget_total": D("1234.56"),
            "part_qpv": D(12),
            "projet_phare": "2025",
        }

    def test_a_percentage_typed_in_excel_is_read_as_shown(self, world):
        workbook = Workbook()
        sheet = workbook.active
        sheet.append(["identifiant", "part_qpv", "budget_total"])
        sheet.append([ident(world, "a"), 0.455, 1200])
        sheet.append([ident(world, "c"), 1, 0.5])
        for cell in ("B2", "B3", "C3"):
            sheet[cell].number_format = "0.0%"  # shown « 45,5 % », « 100,0 % », « 50,0 % »
        buffer = io.BytesIO()
        workbook.save(buffer)
        content = buffer.getvalue()
        report = check_file(world["campaign"], world["admin"], "r.xlsx", content)
        assert report.ok, texts(report)
        apply_import(record_import(world["campaign"], world["admin"], "r.xlsx", content, report), actor=world["admin"])
        assert world["a"].values() == {"part_qpv": D("45.5"), "budget_total": D(1200)}
        # Only a percentage question reads « 50 % » as 50: an amount keeps the cell's value.
        assert world["c"].values() == {"part_qpv": D(100), "budget_total": D("0.5")}

    @pytest.mark.parametrize(
        "content, message",
        [
            (b"%PDF-1.7 ...", "Ce fichier est un PDF, pas un tableur"),
            (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(200), "Excel 97-2003 (.xls)"),
            (b"PK\x03\x04" + bytes(100), "Ce classeur est illisible"),
            (bytes(range(256)) * 4, "Ce fichier n'est pas un tableur"),
            (b"Bonjour,\nvoici nos chiffres.\n", "ne ressemble pas à un fichier de réponses"),
        ],
    )
    def test_a_file_that_is_no_answer_sheet_is_refused_at_the_field(self, world, client, content, message):
        response = upload(client, world["admin"], world["campaign"], "reponses.csv", content)
        assert response.status_code == 200
        assert message in response.context["form"].errors["file"][0]
        assert not AnswerImport.objects.exists()

    def test_a_file_too_large_is_refused_at_the_field(self, world, client):
        response = upload(client, world["admin"], world["campaign"], "gros.csv", b"x" * (MAX_FILE_SIZE + 1))
        assert response.status_code == 200
        assert response.context["form"].errors["file"] == [
            "Ce fichier pèse 20,0 Mo : 20 Mo au plus. Découpez-le (par département, par exemple)."
        ]
        with pytest.raises(FileRefused):
            check_file(world["campaign"], world["admin"], "gros.csv", b"x" * (MAX_FILE_SIZE + 1))
        long = csv_file([["identifiant", "salaries_total"]] + [[ident(world, "a"), "1"]] * (MAX_ROWS + 1))
        with pytest.raises(FileRefused, match="Ce fichier a plus de 20\u202f000 lignes : découpez-le."):
            check_file(world["campaign"], world["admin"], "long.csv", long)


def test_the_shipped_questionnaire_round_trips(tmp_path):
    """Its codes include `etat` and `departement` (State and Département funding): no clash with the
    informative columns."""
    call_command("load_questionnaire", verbosity=0)
    questionnaire = Questionnaire.objects.get(code="senacs")
    admin = UserFactory(email="admin@cadre.fr", is_superuser=True)
    structure = ApprovalFactory(structure__name="Centre social des Buers").structure
    today = timezone.localdate()
    campaign = Campaign.objects.create(
        year=2025,
        title="Observatoire 2025",
        questionnaire=questionnaire,
        opens_on=today,
        closes_on=today + datetime.timedelta(days=30),
    )
    open_campaign(campaign, actor=admin)
    campaign.refresh_from_db()
    submission = Submission.objects.get(structure=structure)
    for code, raw in [("etat", "15 000"), ("departement", "8000,50")]:
        save_answer(submission, questionnaire.questions.get(code=code), raw, actor=admin)
    content = export_xlsx(campaign, admin)
    header = xlsx_rows(content)[0]
    assert header[: len(FIXED)] == FIXED and {"etat", "departement"} <= set(header)
    assert header.count("etat") == 1 and len(header) == len(FIXED) + questionnaire.questions.count()
    report = check_file(campaign, admin, "r.xlsx", content)
    assert report.ok and (report.answers, report.changed) == (2, 0), texts(report)
    changed = export_csv(campaign, admin).replace(b";15000;", b";16000;")
    report = check_file(campaign, admin, "r.csv", changed)
    assert report.ok and (report.updated, report.unchanged) == (1, 1), texts(report)


class TestApply:
    def test_written_answers_get_a_new_version_and_empty_cells_clear(self, world, client):
        fill(world)
        budget = Answer.objects.get(submission=world["a"], question__code="budget_total")
        Answer.objects.filter(pk=budget.pk).update(comment="Subvention exceptionnelle")
        untouched = Answer.objects.get(submission=world["a"], question__code="projet_phare")
        content = csv_file(
            [
                ["identifiant", "salaries_total", "budget_total", "part_qpv", "lieux"],
                [ident(world, "a"), "12", "15000", "", "bailleur;ecole"],
            ]
        )
        response = upload(client, world["staff_a"], world["campaign"], "buers.csv", content)
        answer_import = AnswerImport.objects.get()
        assert answer_import.status == ImportStatus.READY, answer_import.report["errors"]
        assert (answer_import.report["updated"], answer_import.report["cleared"]) == (2, 1)
        assert (answer_import.report["unchanged"], answer_import.changed_count) == (1, 3)
        page = client.get(response["Location"]).content.decode()
        assert "Le fichier est correct" in page and "Appliquer l’import" in page
        response = client.post(reverse("exchanges:import_apply", args=[answer_import.uuid]))
        assert response.status_code == 302
        assert "L&#x27;import est appliqué : 3 réponses modifiées." in client.get(response["Location"]).content.decode()
        answers = {a.question.code: a for a in Answer.objects.filter(submission=world["a"]).select_related("question")}
        assert answers["budget_total"].value == D(15000) and answers["budget_total"].version == 2
        assert answers["budget_total"].comment == "Subvention exceptionnelle"
        assert answers["budget_total"].updated_by == world["staff_a"]
        assert answers["part_qpv"].value is None and answers["part_qpv"].version == 2
        assert answers["lieux"].value == ["bailleur", "ecole"]
        assert answers["salaries_total"].version == 1  # unchanged: not rewritten
        assert answers["projet_phare"].version == untouched.version  # column absent from the file
        answer_import.refresh_from_db()
        assert answer_import.status == ImportStatus.APPLIED and answer_import.applied_at is not None
        response = client.post(reverse("exchanges:import_apply", args=[answer_import.uuid]), follow=True)
        assert "Ce fichier a déjà été appliqué" in response.content.decode()

    def test_a_file_that_only_clears_answers(self, world):
        fill(world)
        content = csv_file([["identifiant", "lieux", "part_qpv", "projet_phare"], [ident(world, "a"), "", "", ""]])
        answer_import = record_import(world["campaign"], world["staff_a"], "vide.csv", content)
        assert answer_import.is_ready and answer_import.report["cleared"] == 3
        apply_import(answer_import, actor=world["staff_a"])
        values = world["a"].values()
        assert (values["lieux"], values["part_qpv"], values["projet_phare"]) == (None, None, None)
        assert values["salaries_total"] == D(12)

    def test_a_not_started_submission_becomes_a_draft(self, world):
        content = csv_file([["identifiant", "salaries_total"], [ident(world, "c"), "8"], [ident(world, "b"), ""]])
        answer_import = record_import(world["campaign"], world["admin"], "tous.csv", content)
        apply_import(answer_import, actor=world["admin"])
        world["c"].refresh_from_db()
        world["b"].refresh_from_db()
        assert (world["c"].status, world["c"].version) == (SubmissionStatus.DRAFT, 2)
        event = SubmissionEvent.objects.get(submission=world["c"])
        assert (event.from_status, event.to_status, event.actor, event.comment) == (
            SubmissionStatus.NOT_STARTED,
            SubmissionStatus.DRAFT,
            world["admin"],
            "Import du fichier tous.csv",
        )
        # An empty cell where nothing was answered writes nothing.
        assert world["b"].status == SubmissionStatus.NOT_STARTED and not world["b"].answers.exists()

    def test_apply_is_all_or_nothing_when_a_state_changes_meanwhile(self, world, client):
        fill(world)
        before = snapshot(world["campaign"])
        content = csv_file([["identifiant", "salaries_total"], [ident(world, "a"), "20"], [ident(world, "b"), "2"]])
        client.force_login(world["corr69"])
        upload(client, world["corr69"], world["campaign"], "rhone.csv", content)
        answer_import = AnswerImport.objects.get()
        assert answer_import.is_ready and answer_import.changed_count == 2
        Submission.objects.filter(pk=world["b"].pk).update(status=SubmissionStatus.SUBMITTED)
        response = client.post(reverse("exchanges:import_apply", args=[answer_import.uuid]), follow=True)
        page = response.content.decode()
        assert "Rien n&#x27;a été importé : la situation a changé" in page
        assert "attend sa relecture : renvoyez-la à la structure avant d&#x27;importer." in page
        assert snapshot(world["campaign"]) == before
        answer_import.refresh_from_db()
        assert answer_import.status == ImportStatus.DRY_RUN_FAILED and answer_import.error_count == 1

    def test_answers_typed_since_the_dry_run_are_not_overwritten_unseen(self, world):
        fill(world)
        content = csv_file([["identifiant", "salaries_total", "budget_total"], [ident(world, "a"), "12", "100"]])
        answer_import = record_import(world["campaign"], world["staff_a"], "buers.csv", content)
        assert answer_import.is_ready and answer_import.changed_count == 1
        answer(world, "a", "salaries_total", "14")  # typed in the form meanwhile
        with pytest.raises(ImportRefused) as refused:
            apply_import(answer_import, actor=world["staff_a"])
        assert refused.value.report.errors[0]["text"] == (
            "Ligne 2 : les réponses de Centre social des Buers ont changé depuis la vérification du fichier : "
            "déposez-le à nouveau pour voir ce qu'il modifierait maintenant."
        )
        assert world["a"].values()["salaries_total"] == D(14) and world["a"].values()["budget_total"] == D("12345.5")


class TestRights:
    def test_who_may_reach_the_import_page(self, world, client):
        url = reverse("exchanges:campaign_import", args=[world["campaign"].uuid])
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith(reverse("accounts:login"))
        for key, status in [
            ("admin", 200),
            ("staff_a", 200),
            ("corr69", 200),
            ("corr13", 200),
            ("viewer_a", 403),
            ("city", 403),
        ]:
            client.force_login(world[key])
            assert client.get(url).status_code == status, key
        client.force_login(world["staff_a"])
        page = client.get(url).content.decode()
        assert reverse("exchanges:campaign_export", args=[world["campaign"].uuid, "xlsx"]) in page
        assert 'type="file"' in page and 'class="fr-upload"' in page and "Vérifier le fichier" in page

    def test_structure_staff_write_only_their_open_submission(self, world):
        fill(world)
        content = csv_file([["identifiant", "salaries_total"], [ident(world, "a"), "13"]])
        Submission.objects.filter(pk=world["a"].pk).update(status=SubmissionStatus.SUBMITTED)
        assert texts(check_file(world["campaign"], world["staff_a"], "r.csv", content)) == [
            "Ligne 2 : La saisie de Centre social des Buers a été envoyée : elle est en relecture, et ne peut changer "
            "que si le correspondant vous la renvoie."
        ]
        Submission.objects.filter(pk=world["a"].pk).update(status=SubmissionStatus.VALIDATED)
        assert texts(check_file(world["campaign"], world["staff_a"], "r.csv", content)) == [
            "Ligne 2 : La saisie de Centre social des Buers est validée : demandez sa réouverture à votre "
            "correspondant avant d'importer."
        ]
        Submission.objects.filter(pk=world["a"].pk).update(status=SubmissionStatus.DRAFT)
        Campaign.objects.filter(pk=world["campaign"].pk).update(closes_on=timezone.localdate() - datetime.timedelta(1))
        world["campaign"].refresh_from_db()
        assert (
            "La campagne est close depuis le"
            in texts(check_file(world["campaign"], world["staff_a"], "r.csv", content))[0]
        )
        # A correspondant may still write a draft after the closing, for the structure.
        assert check_file(world["campaign"], world["corr69"], "r.csv", content).ok

    def test_correspondants_write_what_they_review_once_returned(self, world):
        content = csv_file([["identifiant", "salaries_total"], [ident(world, "a"), "13"], [ident(world, "c"), "4"]])
        Submission.objects.filter(pk=world["a"].pk).update(status=SubmissionStatus.RESUBMITTED)
        assert texts(check_file(world["campaign"], world["corr69"], "r.csv", content)) == [
            "Ligne 2 : La saisie de Centre social des Buers a été envoyée et attend sa relecture : renvoyez-la à la "
            "structure avant d'importer.",
            "Ligne 3, colonne A (identifiant) : aucune structure de cette campagne, dans votre périmètre, ne porte "
            "cet identifiant.",
        ]
        Submission.objects.filter(pk=world["a"].pk).update(status=SubmissionStatus.RETURNED)
        assert texts(check_file(world["campaign"], world["corr69"], "r.csv", content))[0].startswith("Ligne 3")
        Submission.objects.filter(pk=world["a"].pk).update(status=SubmissionStatus.VALIDATED)
        assert texts(check_file(world["campaign"], world["corr69"], "r.csv", content))[0] == (
            "Ligne 2 : La saisie de Centre social des Buers est validée : demandez sa réouverture à l'administrateur "
            "avant d'importer."
        )

    def test_a_visible_structure_not_reviewed_by_the_importer_is_refused(self, world):
        # This Caf sees both départements but is correspondant for the Rhône only.
        partner = PartnerFactory(name="Caf inter", kind=PartnerKind.CAF, departments=["69", "13"])
        user = member(UserFactory(email="avs@caf-inter.fr"), partner)
        Correspondent.objects.create(campaign=world["campaign"], user=user, department_id="69")
        content = csv_file([["identifiant", "salaries_total"], [ident(world, "c"), "4"]])
        assert texts(check_file(world["campaign"], user, "r.csv", content)) == [
            "Ligne 2 : Vous ne pouvez pas modifier les réponses de Centre social Saint-Mauront (il faut en être "
            "contributeur ou correspondant)."
        ]

    def test_an_import_is_seen_and_applied_by_its_uploader_only(self, world, client):
        content = csv_file([["identifiant", "salaries_total"], [ident(world, "a"), "13"]])
        answer_import = record_import(world["campaign"], world["staff_a"], "buers.csv", content)
        detail = reverse("exchanges:import_detail", args=[answer_import.uuid])
        apply = reverse("exchanges:import_apply", args=[answer_import.uuid])
        assert client.get(detail).status_code == 302
        assert client.post(apply).status_code == 302 and not Answer.objects.exists()
        client.force_login(world["corr69"])
        assert client.get(detail).status_code == 404 and client.post(apply).status_code == 404
        client.force_login(world["admin"])
        assert client.get(detail).status_code == 200 and client.post(apply).status_code == 403
        client.force_login(world["staff_a"])
        assert client.get(apply).status_code == 405
        assert client.get(detail).status_code == 200
        assert client.post(apply).status_code == 302
        assert world["a"].values() == {"salaries_total": D(13)}


@pytest.fixture
def in_background(settings):
    """Every file checked and applied by the task queue (in tests, tasks run where they are enqueued)."""
    settings.CADRE_IMPORT_INLINE_MAX_BYTES = 0
    settings.CADRE_IMPORT_INLINE_MAX_WRITES = 0


class TestBackground:
    def test_a_large_file_is_checked_then_applied_by_the_worker(self, world, client, in_background):
        fill(world)
        content = csv_file([["identifiant", "salaries_total", "budget_total"], [ident(world, "a"), "12", "100"]])
        response = upload(client, world["staff_a"], world["campaign"], "buers.csv", content)
        answer_import = AnswerImport.objects.get()
        assert answer_import.status == ImportStatus.READY and answer_import.progress == 100
        assert answer_import.changed_count == 1 and answer_import.pending is not None
        page = client.get(response["Location"]).content.decode()
        assert "Le fichier est correct" in page and 'hx-trigger="load delay:2s"' not in page
        response = client.post(reverse("exchanges:import_apply", args=[answer_import.uuid]), follow=True)
        answer_import.refresh_from_db()
        assert answer_import.status == ImportStatus.APPLIED and answer_import.pending is None
        assert "Import appliqué" in response.content.decode()
        assert world["a"].values()["budget_total"] == D(100)

    def test_an_unreadable_file_says_why_on_the_import_page(self, world, client, in_background):
        response = upload(client, world["staff_a"], world["campaign"], "notes.csv", b"bonjour\r\n")
        answer_import = AnswerImport.objects.get()
        assert answer_import.status == ImportStatus.DRY_RUN_FAILED and answer_import.pending is None
        page = client.get(response["Location"]).content.decode()
        assert "Le fichier n’a pas pu être lu : rien n’a été importé" in page
        assert "ne ressemble pas à un fichier de réponses" in page

    def test_a_refusal_found_by_the_worker_is_kept_with_its_errors(self, world, client, in_background):
        fill(world)
        content = csv_file([["identifiant", "salaries_total"], [ident(world, "a"), "20"]])
        upload(client, world["staff_a"], world["campaign"], "buers.csv", content)
        answer_import = AnswerImport.objects.get()
        answer(world, "a", "salaries_total", "14")  # typed in the form meanwhile
        page = client.post(reverse("exchanges:import_apply", args=[answer_import.uuid]), follow=True)
        answer_import.refresh_from_db()
        assert answer_import.status == ImportStatus.DRY_RUN_FAILED and answer_import.error_count == 1
        assert "ont changé depuis la vérification du fichier" in page.content.decode()
        assert world["a"].values()["salaries_total"] == D(14)

    def test_the_page_of_an_import_at_work_asks_again_for_its_state(self, world, client):
        content = csv_file([["identifiant", "salaries_total"], [ident(world, "a"), "20"]])
        answer_import = record_import(world["campaign"], world["staff_a"], "buers.csv", content)
        AnswerImport.objects.filter(pk=answer_import.pk).update(status=ImportStatus.CHECKING, progress=40)
        client.force_login(world["staff_a"])
        url = reverse("exchanges:import_detail", args=[answer_import.uuid])
        page = client.get(url).content.decode()
        assert "Vérification du fichier en cours" in page and "Cellules vérifiées : 40 %" in page
        assert f'hx-get="{url}"' in page and "<h1>" in page
        fragment = client.get(url, headers={"HX-Request": "true"}).content.decode()
        assert fragment.lstrip().startswith('<div id="import-state"') and "<h1>" not in fragment
        # A second click while the worker applies it starts nothing more.
        AnswerImport.objects.filter(pk=answer_import.pk).update(status=ImportStatus.APPLYING)
        with pytest.raises(ImportRefused, match="pas prêt à être appliqué"):
            start_apply(answer_import, actor=world["staff_a"])


@pytest.mark.django_db(transaction=True)
def test_the_database_queue_and_its_worker_check_and_apply_a_file(reference_data, world, client, in_background):
    """The production set-up: tasks stored in the database, run by `manage.py db_worker`."""
    tasks = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}
    content = csv_file([["identifiant", "salaries_total"], [ident(world, "a"), "20"], [ident(world, "c"), "7"]])
    with override_settings(TASKS=tasks):
        upload(client, world["admin"], world["campaign"], "tous.csv", content)
        answer_import = AnswerImport.objects.get()
        assert answer_import.status == ImportStatus.CHECKING  # waiting for the worker
        worker = ["db_worker", "--batch", "--no-startup-delay", "--no-reload", "--interval", "0", "-v", "0"]
        call_command(*worker)
        answer_import.refresh_from_db()
        assert answer_import.status == ImportStatus.READY and answer_import.changed_count == 2
        client.post(reverse("exchanges:import_apply", args=[answer_import.uuid]))
        answer_import.refresh_from_db()
        assert answer_import.status == ImportStatus.APPLYING and not Answer.objects.exists()
        call_command(*worker)
    answer_import.refresh_from_db()
    assert answer_import.status == ImportStatus.APPLIED
    assert world["c"].values() == {"salaries_total": D(7)}


def add_rules(world):
    """A blocking rule (salaried staff means a budget) and a warning (over 90 % in QPV), as a questionnaire
    file declares them; added before anything reads the questionnaire's definition."""
    Rule.objects.create(
        questionnaire=world["questionnaire"],
        code="budget_des_salaries",
        position=1,
        level=RuleLevel.ERROR,
        condition="salaries_total == 0 or budget_total > 0",
        message="Une structure qui emploie des salariés a un budget : indiquez-le.",
        question_codes=["budget_total"],
    )
    Rule.objects.create(
        questionnaire=world["questionnaire"],
        code="qpv_tres_haut",
        position=2,
        level=RuleLevel.WARNING,
        condition="part_qpv <= 90",
        message="Plus de 90 % des personnes habitent en QPV : vérifiez cette part.",
        question_codes=["part_qpv"],
    )


class TestQuestionnaireRules:
    def test_a_blocking_rule_stops_its_row_with_the_rules_message_and_warnings_are_shown(self, world, client):
        add_rules(world)
        fill(world)
        before = snapshot(world["campaign"])
        content = csv_file(
            [
                ["identifiant", "salaries_total", "budget_total", "part_qpv", "directeur", "directeur_diplome"],
                # A: a budget of 0 with 12 employees breaks the blocking rule.
                [ident(world, "a"), "12", "0", "45,5", "oui", "niveau_7"],
                # B: 95 % in QPV is only a warning.
                [ident(world, "b"), "0", "80000", "95", "", ""],
                # C: a diploma although there is no director: the question is hidden by its condition.
                [ident(world, "c"), "30", "", "", "non", "niveau_6"],
            ]
        )
        report = check_file(world["campaign"], world["admin"], "r.csv", content)
        assert texts(report) == [
            "Ligne 2, colonne C (budget_total) : Une structure qui emploie des salariés a un budget : indiquez-le."
        ]
        assert [w["text"] for w in report.warnings] == [
            "Ligne 3, colonne D (part_qpv) : Plus de 90 % des personnes habitent en QPV : vérifiez cette part.",
            "Ligne 4, colonne F (directeur_diplome) : cette question n'est posée que si « directeur == true », ce qui "
            "n'est pas le cas de cette structure : sa réponse sera enregistrée mais restera masquée dans le "
            "questionnaire.",
        ]
        response = upload(client, world["admin"], world["campaign"], "r.csv", content)
        page = client.get(response["Location"]).content.decode()
        assert "1 erreur : rien n’a été importé" in page and "indiquez-le." in page
        assert "Alertes à vérifier" in page and "vérifiez cette part." in page
        assert snapshot(world["campaign"]) == before

        # Without the faulty row the file applies, warnings shown; the rule is the entry form's own.
        fixed = csv_file([row for index, row in enumerate(csv_rows(b"\xef\xbb\xbf" + content)) if index != 1])
        report = check_file(world["campaign"], world["admin"], "r.csv", fixed)
        assert report.ok and report.warning_count == 2 and report.changed == 3

    def test_a_rule_the_file_does_not_touch_and_a_justified_warning_do_not_stop_it(self, world):
        add_rules(world)
        fill(world)
        answer(world, "a", "part_qpv", "95")
        Answer.objects.filter(submission=world["a"], question__code="part_qpv").update(comment="Quartier prioritaire")
        # Stored: 30 employees and no budget for C (the form lets a draft be saved so); the file only writes text.
        content = csv_file(
            [["identifiant", "projet_phare"], [ident(world, "a"), "Jardin partagé"], [ident(world, "c"), "Repair café"]]
        )
        report = check_file(world["campaign"], world["admin"], "r.csv", content)
        assert report.ok and report.warnings == [] and report.changed == 2
        # The budget typed as 0 for C now breaks the rule, read with C's stored employees (not in the file).
        content = csv_file([["identifiant", "budget_total"], [ident(world, "c"), "0"]])
        assert texts(check_file(world["campaign"], world["admin"], "r.csv", content)) == [
            "Ligne 2, colonne B (budget_total) : Une structure qui emploie des salariés a un budget : indiquez-le."
        ]

    def test_an_answer_the_rules_read_changed_since_the_dry_run_stops_the_apply(self, world):
        add_rules(world)
        answer(world, "c", "salaries_total", "0")
        content = csv_file([["identifiant", "budget_total"], [ident(world, "c"), "0"]])
        answer_import = record_import(world["campaign"], world["admin"], "c.csv", content)
        assert answer_import.is_ready
        answer(world, "c", "salaries_total", "4")  # typed meanwhile: a budget of 0 no longer holds
        with pytest.raises(ImportRefused) as refused:
            apply_import(answer_import, actor=world["admin"])
        assert "ont changé depuis la vérification du fichier" in refused.value.report.errors[0]["text"]
        assert world["c"].values().get("budget_total") is None


class TestLockedRows:
    @pytest.mark.parametrize("fmt", ["xlsx", "csv"])
    def test_a_correspondant_reimports_the_export_they_just_downloaded(self, world, client, fmt):
        fill(world)
        Submission.objects.filter(pk=world["a"].pk).update(status=SubmissionStatus.VALIDATED)
        Submission.objects.filter(pk=world["b"].pk).update(status=SubmissionStatus.SUBMITTED)
        before = snapshot(world["campaign"])
        content = export(client, world["corr69"], world["campaign"], fmt)
        response = upload(client, world["corr69"], world["campaign"], f"rhone.{fmt}", content)
        answer_import = AnswerImport.objects.get()
        assert answer_import.status == ImportStatus.READY, answer_import.report["errors"]
        report = answer_import.report
        assert (answer_import.error_count, report["changed"], report["skipped"]) == (0, 0, 2)
        assert [n["text"] for n in report["notes"]] == [
            "Ligne 2 : La saisie de Centre social des Buers est validée, et la ligne ne change aucune réponse : elle "
            "est ignorée.",
            "Ligne 3 : La saisie de EVS La Passerelle a été envoyée, et la ligne ne change aucune réponse : elle est "
            "ignorée.",
        ]
        page = client.get(response["Location"]).content.decode()
        assert "2 lignes ignorées, sans changement" in page and "rien à appliquer" in page
        assert snapshot(world["campaign"]) == before

    def test_only_a_changed_locked_row_is_refused(self, world, client):
        fill(world)
        Submission.objects.filter(pk=world["a"].pk).update(status=SubmissionStatus.VALIDATED)
        Submission.objects.filter(pk=world["b"].pk).update(status=SubmissionStatus.SUBMITTED)
        rows = xlsx_rows(export(client, world["corr69"], world["campaign"], "xlsx"))
        rows[1][FIXED.__len__() + CODES.index("salaries_total")] = 13
        report = check_file(world["campaign"], world["corr69"], "r.xlsx", xlsx_file(rows))
        assert texts(report) == [
            "Ligne 2 : La saisie de Centre social des Buers est validée : demandez sa réouverture à l'administrateur "
            "avant d'importer."
        ]
        assert report.skipped == 1 and report.notes[0]["structure"] == "EVS La Passerelle"


class TestChangesList:
    def test_the_report_lists_each_changed_cell_before_and_after_page_by_page(self, world, client, monkeypatch):
        fill(world)
        monkeypatch.setattr("cadre.exchanges.views.CHANGES_PER_PAGE", 2)
        content = csv_file(
            [
                ["identifiant", "salaries_total", "budget_total", "lieux", "projet_phare"],
                [ident(world, "a"), "14", "12 345,50", "bailleur", ""],
                [ident(world, "b"), "0", "90000", "", "Ludothèque"],
            ]
        )
        report = check_file(world["campaign"], world["admin"], "r.csv", content)
        assert [(c["row"], c["structure"], c["code"], c["before"], c["after"]) for c in report.changes] == [
            (2, "Centre social des Buers", "salaries_total", "12", "14"),
            (2, "Centre social des Buers", "lieux", "École ; Médiathèque", "Local d'un bailleur"),
            (2, "Centre social des Buers", "projet_phare", "Fête de quartier à l'été", ""),
            (3, "EVS La Passerelle", "budget_total", "80\u202f000\u00a0€", "90\u202f000\u00a0€"),
            (3, "EVS La Passerelle", "projet_phare", "", "Ludothèque"),
        ]
        response = upload(client, world["admin"], world["campaign"], "r.csv", content)
        first = client.get(response["Location"]).content.decode()
        assert "Cellules que l’import va modifier" in first and "(1 à 2 sur 5)" in first
        assert "École ; Médiathèque" in first and "Ludothèque" not in first
        last = client.get(response["Location"] + "?page=3").content.decode()
        assert "(5 à 5 sur 5)" in last and "Ludothèque" in last and "(vide)" in last
        assert "Appliquer l’import" in last
