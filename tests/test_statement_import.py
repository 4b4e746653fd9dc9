"""Annual accounts from a spreadsheet: identified by SIRET, SIREN or identifier, French amounts, checked by the
statement's own rules at their row and column, all or nothing, with the importer's rights."""

import datetime
import io
from decimal import Decimal
from unittest import mock

import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings
from django.urls import reverse
from stdnum import luhn

from cadre.accounts.models import User
from cadre.demo import cast
from cadre.exchanges.actions import ImportRefused
from cadre.exchanges.models import ImportStatus
from cadre.funding.models import format_euros
from cadre.monitoring import statement_file as statements
from cadre.monitoring.actions import apply_statement_import, record_statement_import
from cadre.monitoring.enums import StatementStatus
from cadre.monitoring.models import FinancialStatement, StatementImport
from cadre.structures.models import Management, Structure, StructureKind
from tests.test_monitoring_statements import ACCOUNTS_2025

pytestmark = pytest.mark.django_db

HEADERS = {c.key: c.header for c in statements.COLUMNS}


def french(amount):
    """« 12 400,50 € »: how a French spreadsheet user writes an amount."""
    whole, cents = f"{amount:.2f}".split(".")
    sign = "-" if whole.startswith("-") else ""
    digits = whole.lstrip("-")
    groups = []
    while digits:
        groups.insert(0, digits[-3:])
        digits = digits[:-3]
    return f"{sign}{' '.join(groups)},{cents} €"


def accounts_row(identifier, **extra):
    """A row of balanced accounts (those of tests/test_monitoring_statements.py), amounts written in French."""
    return {"identifier": identifier, **{key: french(value) for key, value in ACCOUNTS_2025.items()}, **extra}


def csv_file(rows, encoding="utf-8", delimiter=";"):
    keys = list(dict.fromkeys(key for row in rows for key in row))
    lines = [[HEADERS[key] for key in keys], *[[str(row.get(key, "")) for key in keys] for row in rows]]
    return ("\r\n".join(delimiter.join(line) for line in lines) + "\r\n").encode(encoding)


def xlsx_file(rows):
    keys = list(dict.fromkeys(key for row in rows for key in row))
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append([HEADERS[key] for key in keys])
    for row in rows:
        sheet.append([row.get(key) for key in keys])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def errors_of(statement_import):
    return [(e["row"], e["header"], e["reason"]) for e in statement_import.report["errors"]]


@pytest.fixture
def cast_of(demo):
    a = Structure.objects.get(memberships__user__email=cast.STRUCTURE_A)
    b = Structure.objects.get(memberships__user__email=cast.STRUCTURE_B)
    if not a.siret:
        Structure.objects.filter(pk=a.pk).update(siret="73282932000074")
        a.refresh_from_db()
    FinancialStatement.objects.filter(structure=a, year__lte=2021).delete()
    return {
        "a": a,
        "b": b,
        "writer": User.objects.get(email=cast.STRUCTURE_A),
        "admin": User.objects.get(email=cast.ADMIN),
        "caf69": User.objects.get(email=cast.CAF69),
    }


def test_a_cp1252_semicolon_csv_with_french_amounts(cast_of):
    a, writer = cast_of["a"], cast_of["writer"]
    row = accounts_row(a.siret, starts_on="01/01/2020", ends_on="31/12/2020", name="Centre « Élan »")
    row["cash"] = "60\u00a0000,00 €"  # a non-breaking space, as French spreadsheets write thousands
    imported = record_statement_import(writer, "comptes.csv", csv_file([row], encoding="cp1252"))
    assert imported.is_ready, errors_of(imported)
    assert "Windows-1252" in imported.report["description"] and imported.created_count == 1
    assert not FinancialStatement.objects.filter(structure=a, year=2020).exists()  # the dry run writes nothing
    apply_statement_import(imported, actor=writer)
    statement = FinancialStatement.objects.get(structure=a, year=2020)
    assert statement.status == StatementStatus.DRAFT and statement.cash == Decimal("60000.00")
    assert statement.net_result == Decimal("-5000.00") and statement.starts_on == datetime.date(2020, 1, 1)
    record = statement.history.get()
    assert record.history_user == writer and record.history_change_reason == statements.REASON


def test_an_old_file_with_years_instead_of_dates_and_a_siren(cast_of):
    a, admin = cast_of["a"], cast_of["admin"]
    rows = [accounts_row(a.siret[:9], year="2019"), accounts_row(a.siret, year=2021)]
    imported = record_statement_import(admin, "ancien.xlsx", xlsx_file(rows))
    assert imported.is_ready, errors_of(imported)
    apply_statement_import(imported, actor=admin)
    found = FinancialStatement.objects.filter(structure=a, year__in=[2019, 2021]).order_by("year")
    assert [(s.starts_on, s.ends_on) for s in found] == [
        (datetime.date(2019, 1, 1), datetime.date(2019, 12, 31)),
        (datetime.date(2021, 1, 1), datetime.date(2021, 12, 31)),
    ]


def test_amounts_as_spreadsheets_write_them():
    read = statements.read_amount
    assert read("12 400,50 €") == Decimal("12400.50") and read("12400.5") == Decimal("12400.50")
    assert read("-5 000") == Decimal("-5000.00") and read("\u22125\u202f000,00") == Decimal("-5000.00")
    assert read("12.400,50") == Decimal("12400.50") and read(1234.1) == Decimal("1234.10") and read(7) == 7
    for bad, start in [("douze", "montant illisible"), ("1,234", "« 1,234 » : au plus deux décimales")]:
        with pytest.raises(statements.CellError, match=start):
            read(bad)


def test_each_bad_cell_and_each_unbalanced_statement_at_its_row_and_column(cast_of):
    a, b, writer = cast_of["a"], cast_of["b"], cast_of["writer"]
    rows = [
        accounts_row(a.siret, year=2018, cash="beaucoup"),
        accounts_row(a.siret, year=2019, net_result=french(Decimal(-4000))),
        accounts_row(a.siret, year=2020, staff_costs="-3,00"),
        accounts_row("12345", year=2021),
        accounts_row(b.siret or "00000000000000", year=2021),
        accounts_row(a.siret, starts_on="01/07/2020"),
        accounts_row(a.siret, year=2019),
    ]
    imported = record_statement_import(writer, "comptes.csv", csv_file(rows))
    assert imported.status == ImportStatus.DRY_RUN_FAILED
    found = {(row, header): reason for row, header, reason in errors_of(imported)}
    assert found[(2, "Disponibilités")].startswith("montant illisible « beaucoup »")
    assert found[(3, "Résultat net de l'exercice")].startswith(
        f"le résultat net des lignes est {format_euros(Decimal(-5000))} (produits"
    )
    assert found[(4, "Charges de personnel")] == "un montant de « charges de personnel » ne peut pas être négatif."
    assert found[(5, "SIRET ou SIREN")].startswith("« 12345 » n'est ni un SIRET")
    assert found[(6, "SIRET ou SIREN")].startswith("aucune structure de votre périmètre")  # B is not A's to see
    assert found[(7, "Clôture de l'exercice")].startswith("indiquez le début et la clôture de l'exercice")
    assert found[(8, "Exercice")] == "les comptes 2019 de cette structure figurent déjà ligne 3."
    first = imported.report["errors"][0]["text"]
    assert first.startswith("Ligne 2, colonne ") and "(Disponibilités) : montant illisible" in first
    assert imported.pending is None and not FinancialStatement.objects.filter(structure=a, year__lte=2021).exists()


def test_drafts_are_updated_with_before_and_after_and_sent_accounts_refused(cast_of):
    a, writer = cast_of["a"], cast_of["writer"]
    draft = FinancialStatement.objects.create(
        structure=a, starts_on=datetime.date(2020, 1, 1), ends_on=datetime.date(2020, 12, 31), **ACCOUNTS_2025
    )
    sent = FinancialStatement.objects.create(
        structure=a,
        starts_on=datetime.date(2021, 1, 1),
        ends_on=datetime.date(2021, 12, 31),
        status=StatementStatus.SUBMITTED,
        **ACCOUNTS_2025,
    )
    more_cash = {"identifier": a.siret, "cash": "70 000", "deferred_income": "15 000,00"}
    imported = record_statement_import(writer, "c.csv", csv_file([{**more_cash, "year": 2021}]))
    assert errors_of(imported) == [
        (
            2,
            "Exercice",
            "les comptes 2021 de cette structure sont « envoyés » : ils ne changent plus (un partenaire qui la "
            "finance doit d'abord les renvoyer à la structure).",
        )
    ]
    imported = record_statement_import(writer, "c.csv", csv_file([{**more_cash, "year": 2020}]))
    assert imported.is_ready and imported.updated_count == 1, errors_of(imported)
    changes = {(c["label"], c["before"], c["after"]) for c in imported.report["changes"]}
    assert changes == {
        ("2020 : disponibilités", format_euros(60000), format_euros(70000)),
        ("2020 : produits constatés d'avance", format_euros(5000), format_euros(15000)),
    }
    apply_statement_import(imported, actor=writer)
    draft.refresh_from_db()
    sent.refresh_from_db()
    assert (draft.cash, draft.staff_costs, draft.version) == (Decimal(70000), Decimal(360000), 2)
    assert sent.version == 1 and sent.cash == Decimal(60000)
    record = draft.history.latest("history_date")
    assert record.history_type == "~" and record.history_user == writer


def test_a_change_made_after_the_dry_run_refuses_the_whole_file(cast_of):
    a, writer = cast_of["a"], cast_of["writer"]
    draft = FinancialStatement.objects.create(
        structure=a, starts_on=datetime.date(2020, 1, 1), ends_on=datetime.date(2020, 12, 31), **ACCOUNTS_2025
    )
    rows = [
        {"identifier": a.siret, "year": 2020, "cash": "70000", "deferred_income": "15000"},
        accounts_row(a.siret, year=2019),
    ]
    imported = record_statement_import(writer, "c.csv", csv_file(rows))
    assert imported.is_ready, errors_of(imported)
    draft.comment = "Revu par la trésorière"
    draft.save_tracked(expected_version=1, user=writer)
    with pytest.raises(ImportRefused, match="des comptes ont changé"):
        apply_statement_import(imported, actor=writer)
    assert not FinancialStatement.objects.filter(structure=a, year=2019).exists()
    imported.refresh_from_db()
    assert imported.status == ImportStatus.DRY_RUN_FAILED
    assert imported.report["errors"][0]["reason"].startswith("les comptes 2020 ont été modifiés depuis la vérification")


def test_two_thousand_rows_one_bad_cell_then_corrected_with_one_health_recompute(cast_of):
    admin, commune = cast_of["admin"], cast_of["a"].commune

    def siret(number):
        siren = f"9{number:07d}"
        siren += luhn.calc_check_digit(siren)
        return siren + "0001" + luhn.calc_check_digit(siren + "0001")

    created = Structure.objects.bulk_create(
        Structure(
            name=f"Centre {n}",
            kind=StructureKind.CENTRE_SOCIAL,
            management=Management.ASSOCIATION,
            commune=commune,
            siret=siret(n),
        )
        for n in range(2000)
    )
    # A workbook holds numbers: the amounts as a spreadsheet stores them, one typed as text with a letter O.
    numbers = {key: int(value) for key, value in ACCOUNTS_2025.items()}
    rows = [{"identifier": s.siret, "year": 2024, **numbers} for s in created]
    rows[1233]["cash"] = "60 000,0O"
    imported = record_statement_import(admin, "national.xlsx", xlsx_file(rows))
    assert [(row, header) for row, header, _ in errors_of(imported)] == [(1235, "Disponibilités")]
    assert imported.pending is None
    with pytest.raises(ImportRefused, match="contient des erreurs"):
        apply_statement_import(imported, actor=admin)
    assert not FinancialStatement.objects.filter(structure__in=created).exists()
    rows[1233]["cash"] = "60 000,00"  # corrected, as text in French
    imported = record_statement_import(admin, "national.xlsx", xlsx_file(rows))
    assert imported.is_ready and imported.created_count == 2000, errors_of(imported)
    with mock.patch("cadre.monitoring.alerts.compute_statuses") as compute:
        apply_statement_import(imported, actor=admin)
    assert FinancialStatement.objects.filter(structure__in=created).count() == 2000
    assert compute.call_count == 1 and sorted(compute.call_args.args[0]) == sorted(s.pk for s in created)


def test_a_partner_sees_structures_but_does_not_enter_their_accounts(cast_of):
    caf_structure = Structure.objects.visible_to(cast_of["caf69"]).exclude(siret="").first()
    imported = record_statement_import(
        cast_of["caf69"], "c.csv", csv_file([accounts_row(caf_structure.siret, year=2020)])
    )
    assert errors_of(imported)[0][2].startswith("vous ne pouvez pas saisir les comptes de cette structure")


def _upload(name, content):
    return SimpleUploadedFile(name, content, content_type="text/csv")


class TestPages:
    def test_upload_report_and_apply_from_the_statements_page(self, client, cast_of):
        a = cast_of["a"]
        client.force_login(cast_of["writer"])
        page = client.get(reverse("monitoring:statements", args=[a.uuid])).content.decode()
        assert reverse("monitoring:statement_import") in page
        content = csv_file([accounts_row(a.siret, year=2020)])
        response = client.post(reverse("monitoring:statement_import"), {"file": _upload("c.csv", content)}, follow=True)
        page = response.content.decode()
        assert "Le fichier est correct" in page and "Nouveaux comptes 2020" in page
        imported = StatementImport.objects.get(uploaded_by=cast_of["writer"])
        response = client.post(reverse("monitoring:statement_import_apply", args=[imported.uuid]), follow=True)
        assert "L&#x27;import est appliqué : 1 création, 0 mise à jour." in response.content.decode()
        assert FinancialStatement.objects.filter(structure=a, year=2020).exists()

    def test_the_template_has_the_forms_labels_and_a_sheet_of_columns(self, client, cast_of):
        client.force_login(cast_of["writer"])
        response = client.get(reverse("monitoring:statement_template"))
        workbook = openpyxl.load_workbook(io.BytesIO(response.content))
        assert workbook.sheetnames[:2] == ["Comptes annuels", "Colonnes"]
        headers = [c.value for c in workbook["Comptes annuels"][1]]
        assert headers[:3] == ["SIRET ou SIREN", "Identifiant Cadre", "Structure"]
        assert "Prestations de service de la Caf" in headers and "Dettes fiscales et sociales" in headers
        described = {r[0]: r[2] for r in workbook["Colonnes"].iter_rows(min_row=2, values_only=True)}
        assert described["Disponibilités"] == "Bilan : actif"

    def test_the_template_read_back_with_a_row_is_valid(self, cast_of):
        a = cast_of["a"]
        workbook = openpyxl.load_workbook(io.BytesIO(statements.template_xlsx()))
        sheet = workbook["Comptes annuels"]
        row = accounts_row(a.siret, year=2020)
        sheet.append([row.get(c.key) for c in statements.COLUMNS])
        buffer = io.BytesIO()
        workbook.save(buffer)
        imported = record_statement_import(cast_of["writer"], "modele.xlsx", buffer.getvalue())
        assert imported.is_ready and imported.row_count == 1, errors_of(imported)

    @override_settings(CADRE_IMPORT_INLINE_MAX_BYTES=10, CADRE_REGISTRY_INLINE_MAX_ROWS=1)
    def test_a_large_file_goes_through_the_worker(self, client, cast_of):
        a = cast_of["a"]
        client.force_login(cast_of["admin"])
        content = csv_file([accounts_row(a.siret, year=year) for year in (2019, 2020)])
        response = client.post(reverse("monitoring:statement_import"), {"file": _upload("g.csv", content)}, follow=True)
        imported = StatementImport.objects.get(uploaded_by=cast_of["admin"])
        assert imported.is_ready and imported.progress == 100
        assert "Le fichier est correct" in response.content.decode()
        client.post(reverse("monitoring:statement_import_apply", args=[imported.uuid]))
        imported.refresh_from_db()
        assert (
            imported.is_applied and FinancialStatement.objects.filter(structure=a, year__in=[2019, 2020]).count() == 2
        )

    def test_only_the_uploader_applies_and_partners_do_not_import(self, client, cast_of):
        imported = record_statement_import(
            cast_of["writer"], "c.csv", csv_file([accounts_row(cast_of["a"].siret, year=2020)])
        )
        client.force_login(cast_of["admin"])
        assert client.get(reverse("monitoring:statement_import_detail", args=[imported.uuid])).status_code == 200
        assert client.post(reverse("monitoring:statement_import_apply", args=[imported.uuid])).status_code == 403
        client.force_login(cast_of["caf69"])
        assert client.get(reverse("monitoring:statement_import_detail", args=[imported.uuid])).status_code == 404
        assert client.get(reverse("monitoring:statement_import")).status_code == 403


def test_a_siren_shared_by_two_structures_asks_for_the_siret(cast_of):
    a, admin = cast_of["a"], cast_of["admin"]
    body = a.siret[:9] + "0002"
    Structure.objects.create(
        name="Antenne des Buers",
        kind=a.kind,
        management=a.management,
        commune=a.commune,
        siret=body + luhn.calc_check_digit(body),
    )
    imported = record_statement_import(admin, "c.csv", csv_file([accounts_row(a.siret[:9], year=2020)]))
    assert errors_of(imported) == [
        (2, "SIRET ou SIREN", f"2 structures ont le SIREN {a.siret[:9]} : indiquez le SIRET (14 chiffres) de celle-ci.")
    ]
