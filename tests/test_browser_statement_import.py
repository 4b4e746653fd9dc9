"""The annual accounts import in Chromium: from the structure's accounts, the director uploads a file whose balance
sheet does not balance, reads the error at its row and column, uploads the corrected file, reads what it will write
and applies it; each page audited by axe-core."""

import json
from pathlib import Path

import pytest

from cadre.demo import cast
from cadre.monitoring import statement_file as statements
from cadre.monitoring.enums import StatementStatus
from cadre.monitoring.models import FinancialStatement
from cadre.structures.models import Structure
from tests.test_browser import AXE, audit, browser, log_in, page, site  # noqa: F401 — the module's fixtures
from tests.test_statement_import import accounts_row, csv_file

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SHOTS = Path("/tmp/cadre-statement-import-shots")


def test_a_director_imports_the_accounts_of_a_year(page, site, tmp_path):  # noqa: F811
    if not AXE.exists():
        pytest.fail("axe-core absent : lancez « make browser-deps ».")
    SHOTS.mkdir(exist_ok=True)
    failures = {}
    a = Structure.objects.get(memberships__user__email=cast.STRUCTURE_A)
    FinancialStatement.objects.filter(structure=a, year=2020).delete()
    log_in(page, site, cast.STRUCTURE_A)
    page.goto(f"{site}/prevention/structures/{a.uuid}/comptes/")
    page.get_by_role("link", name="Importer depuis un tableur").click()
    page.get_by_role("heading", name="Importer des comptes annuels", level=1).wait_for()
    page.screenshot(path=str(SHOTS / "0-depot.png"), full_page=True)
    failures["dépôt"] = audit(page)

    bad = tmp_path / "comptes-erreur.csv"
    bad.write_bytes(csv_file([accounts_row("", uuid=str(a.uuid), year=2020, cash="61 000,00 €")], encoding="cp1252"))
    page.get_by_label("Fichier des comptes annuels").set_input_files(str(bad))
    page.get_by_role("button", name="Vérifier le fichier").click()
    page.get_by_role("heading", name="1 erreur : rien n’a été importé").wait_for()
    error_row = page.get_by_role("row").filter(has_text="Le bilan n'est pas équilibré")
    assert error_row.get_by_role("cell").nth(0).inner_text() == "2"
    assert "(Disponibilités)" in error_row.get_by_role("cell").nth(1).inner_text()
    page.screenshot(path=str(SHOTS / "1-erreurs.png"), full_page=True)
    failures["erreurs"] = audit(page)

    page.get_by_role("link", name="déposez-le à nouveau").click()
    good = tmp_path / "comptes.csv"
    good.write_bytes(csv_file([accounts_row("", uuid=str(a.uuid), year=2020)], encoding="cp1252"))
    page.get_by_label("Fichier des comptes annuels").set_input_files(str(good))
    page.get_by_role("button", name="Vérifier le fichier").click()
    page.get_by_role("heading", name="Le fichier est correct").wait_for()
    assert page.get_by_role("cell", name="Nouveaux comptes 2020").is_visible()
    page.screenshot(path=str(SHOTS / "2-rapport.png"), full_page=True)
    failures["rapport"] = audit(page)
    assert not FinancialStatement.objects.filter(structure=a, year=2020).exists()

    page.get_by_role("button", name="Appliquer l’import").click()
    page.get_by_role("heading", name="Import appliqué").wait_for()
    page.screenshot(path=str(SHOTS / "3-applique.png"), full_page=True)
    failures["appliqué"] = audit(page)
    statement = FinancialStatement.objects.get(structure=a, year=2020)
    assert statement.status == StatementStatus.DRAFT and statement.history.get().history_change_reason == (
        statements.REASON
    )

    failures = {label: found for label, found in failures.items() if found}
    assert not failures, json.dumps(failures, ensure_ascii=False, indent=2)
