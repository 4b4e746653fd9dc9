"""The indicators dashboard (territory, year, comparisons, drill-down, charts with their tables) and a
structure's own figures beside its département's median and quartiles."""

import decimal

import pytest
from django.urls import reverse

from cadre.accounts.models import Role
from cadre.indicators.compute import rebuild
from cadre.partners.models import PartnerKind
from tests.factories import MARSEILLE_3E, VENISSIEUX, VILLEURBANNE, PartnerFactory, UserFactory, member
from tests.test_indicators import observe

pytestmark = pytest.mark.django_db
D = decimal.Decimal


@pytest.fixture
def world(campaign, indicators):
    buers = observe(campaign, VILLEURBANNE, {"permanences": True, "budget_total": D(100000), "etp_total": D(2)})
    observe(campaign, VILLEURBANNE, {"permanences": False, "budget_total": D(300000), "etp_total": D(8)})
    observe(campaign, VENISSIEUX, {"permanences": True, "budget_total": D(200000), "etp_total": D(5)})
    marseille = observe(campaign, MARSEILLE_3E, {"budget_total": D(900000), "etp_total": D(0)})
    rebuild()
    caf69 = PartnerFactory(name="Caf du Rhône", kind=PartnerKind.CAF, departments=["69"])
    return {
        "buers": buers,
        "marseille": marseille,
        "caf69": member(UserFactory(email="avs@caf69.fr"), caf69),
        "staff": member(UserFactory(email="directrice@buers.fr"), buers.structure, Role.EDITOR),
        "other_staff": member(UserFactory(email="direction@marseille.fr"), marseille.structure, Role.EDITOR),
    }


def page(client, user, **params):
    client.force_login(user)
    response = client.get(reverse("indicators:dashboard"), params)
    assert response.status_code == 200
    return response.content.decode()


def test_a_correspondant_lands_on_their_departement_with_its_comparisons(client, world):
    html = page(client, world["caf69"])
    assert "<h1>Indicateurs — Rhône</h1>" in html
    # Rhône 2 of 3 answered « oui »; France the same three (Marseille did not answer).
    assert "Part des structures où un partenaire tient une permanence" in html
    assert html.count("66,7\u00a0%") >= 3  # Rhône, Auvergne-Rhône-Alpes, France in the table (and the chart's)
    assert "Auvergne-Rhône-Alpes" in html and ">France<" in html
    # The chart is followed by its data table.
    assert 'role="img"' in html and "Données : Partenariats : Rhône comparé, 2025" in html


def test_a_median_shows_its_quartiles_and_a_ratio_its_reason_when_not_computable(client, world):
    html = page(client, world["caf69"], territoire="department:13", annee="2025")
    assert "<h1>Indicateurs — Bouches-du-Rhône</h1>" in html
    assert "division par zéro : la somme des dénominateurs est nulle" in html  # budget per ETP, 0 ETP
    html = page(client, world["caf69"], territoire="national:", annee="2025")
    assert "quartiles 175\u202f000\u00a0€ – 450\u202f000\u00a0€" in html


def test_drill_down_from_the_departement_to_its_communes(client, world):
    html = page(client, world["caf69"], territoire="department:69", annee="2025")
    assert f"territoire=commune:{VILLEURBANNE}" in html and "Villeurbanne (2)" in html
    html = page(client, world["caf69"], territoire=f"commune:{VILLEURBANNE}", annee="2025")
    assert "<h1>Indicateurs — Villeurbanne</h1>" in html and "50,0\u00a0%" in html


def test_a_structure_sees_its_own_figures_beside_its_departement(client, world):
    client.force_login(world["staff"])
    url = reverse("indicators:structure", args=[world["buers"].structure.uuid])
    html = client.get(url).content.decode()
    assert "Les indicateurs de" in html
    # Its budget 100,000 € among the Rhône's 100, 200, 300 thousand: median 200,000 €.
    assert "100\u202f000\u00a0€" in html and "200\u202f000\u00a0€" in html
    assert "oui" in html  # it has partners' office hours
    assert client.get(reverse("indicators:structure", args=[world["marseille"].structure.uuid])).status_code == 404


def test_a_structures_figures_follow_a_new_validation_in_its_departement(client, world, campaign):
    """The page and the département's spread are kept in the cache: a validation elsewhere in the
    département (which refreshes the values) shows at once."""
    from cadre.indicators.compute import refresh_structure

    client.force_login(world["staff"])
    url = reverse("indicators:structure", args=[world["buers"].structure.uuid])
    assert "200\u202f000\u00a0€" in client.get(url).content.decode()  # the Rhône's median of 100, 200, 300 k€
    other = observe(campaign, VENISSIEUX, {"budget_total": D(900000), "etp_total": D(3)})
    refresh_structure(other.structure_id, campaign.year)
    html = client.get(url).content.decode()
    assert "250\u202f000\u00a0€" in html and "4 structures" in html  # median of 100, 200, 300, 900 k€
    assert "200\u202f000\u00a0€" not in html


def test_the_report_page_its_workbook_and_its_pdf(client, world, tmp_path):
    import io
    import subprocess

    from openpyxl import load_workbook

    from cadre.indicators.models import ExportStatus, ReportExport

    client.force_login(world["caf69"])
    query = {"territoire": "department:69", "annee": "2025"}
    html = client.get(reverse("indicators:report"), query).content.decode()
    assert "Observatoire 2025 — Rhône" in html and "Notes de méthode" in html
    assert "questionnaires de la campagne dans ce territoire" in html and "taux de réponse : 100,0\u00a0%" in html
    assert "Carte des structures observées" in html
    workbook = load_workbook(io.BytesIO(client.get(reverse("indicators:report_xlsx"), query).content))
    assert workbook.sheetnames[:2] == ["Présentation", "Chiffres clés"] and "Partenariats" in workbook.sheetnames
    partnerships = list(workbook["Partenariats"].iter_rows(values_only=True))
    assert partnerships[0][:4] == ("Indicateur", "Code", "Unité", "Rhône 2025")
    share = next(r for r in partnerships if r[1] == "permanences")
    assert round(share[3], 2) == 66.67 and share[5] == 3  # a number, and the structures behind it
    cell = workbook["Partenariats"].cell(row=partnerships.index(share) + 1, column=4)
    assert cell.data_type == "n" and cell.number_format == '#,##0.0 "%"'
    # Every sheet: header frozen and filtered; names whole words (Excel allows 31 characters).
    for sheet in workbook.worksheets:
        assert sheet.freeze_panes and sheet.auto_filter.ref, sheet.title
        assert len(sheet.title) <= 31
    for sheet in workbook.worksheets[1:]:
        caption = sheet["A1"].value if sheet.freeze_panes == "A3" else None
        if caption:  # a chart's table: its whole caption above, the sheet named by its first whole words
            written = " ".join("".join(" " if c in "[]:*?/\\" else c for c in caption).split())
            title = sheet.title.removesuffix(" (2)")
            assert written.startswith(title) and not written[len(title) : len(title) + 1].isalnum(), sheet.title
    observed = list(workbook["Structures observées"].iter_rows(min_row=3, values_only=True))
    assert observed and all(isinstance(count, int) for _, count in observed)  # numbers, not « 2 structures »
    # The PDF is prepared by the worker (here at once), then downloaded.
    response = client.post(f"{reverse('indicators:report_pdf_start')}?territoire=department:69&annee=2025")
    export = ReportExport.objects.get()
    assert response["Location"] == reverse("indicators:report_export", args=[export.uuid])
    assert export.status == ExportStatus.DONE and export.seconds is not None
    assert "Le PDF est prêt" in client.get(response["Location"]).content.decode()
    pdf = client.get(reverse("indicators:report_export_download", args=[export.uuid]))
    assert pdf["Content-Type"] == "application/pdf"
    path = tmp_path / "rapport.pdf"
    path.write_bytes(pdf.content)
    text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout
    assert "Rhône — 2025" in text and "Part des structures où un partenaire tient une permanence" in text
    # Another person does not reach it.
    client.force_login(world["staff"])
    assert client.get(reverse("indicators:report_export", args=[export.uuid])).status_code == 404


def test_the_kept_page_body_follows_a_validation(client, world, campaign):
    from cadre.observatory.actions import validate_submission
    from cadre.observatory.models import SubmissionStatus

    html = page(client, world["caf69"], territoire=f"commune:{VENISSIEUX}", annee="2025")
    assert "Part des structures où un partenaire tient une permanence" in html and "100,0\u00a0%" in html
    sent = observe(campaign, VENISSIEUX, {"permanences": False}, status=SubmissionStatus.RESUBMITTED)
    validate_submission(sent, actor=UserFactory(is_superuser=True))
    html = page(client, world["caf69"], territoire=f"commune:{VENISSIEUX}", annee="2025")
    assert "50,0\u00a0%" in html  # one « oui » of two: the page was not served from the old body


def test_the_report_workbook_is_made_once_until_the_values_change(client, campaign, world, monkeypatch):
    import io

    from openpyxl import load_workbook

    from cadre.indicators import views

    made, make = [], views.report_xlsx_bytes
    monkeypatch.setattr(views, "report_xlsx_bytes", lambda report: made.append(1) or make(report))

    def rhone_permanences():
        content = client.get(reverse("indicators:report_xlsx"), {"territoire": "department:69", "annee": "2025"})
        rows = load_workbook(io.BytesIO(content.content))["Partenariats"].iter_rows(values_only=True)
        return next(r for r in rows if r[1] == "permanences")[3]

    client.force_login(world["caf69"])
    assert round(rhone_permanences(), 2) == 66.67 and round(rhone_permanences(), 2) == 66.67 and len(made) == 1
    observe(campaign, VENISSIEUX, {"permanences": True, "budget_total": D(1), "etp_total": D(1)})
    rebuild()
    assert rhone_permanences() == 75 and len(made) == 2  # 3 of 4: the workbook kept before is not served
