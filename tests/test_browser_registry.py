"""The registry import in Chromium: from the structure list, a file with a bad cell is reported at its
row and column, the corrected file shows what it will change, and the confirmation writes it; each page
audited by axe-core."""

import json
from pathlib import Path

import pytest

from cadre.demo import cast
from cadre.exchanges import registry
from cadre.structures.models import Structure
from tests.test_browser import AXE, audit, browser, log_in, page, site  # noqa: F401 — the module's fixtures

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SHOTS = Path("/tmp/cadre-registry-shots")
SIRET = "73282932000074"


def registry_csv(siret_cell):
    headers = [c.header for c in registry.STRUCTURE_COLUMNS]
    values = {
        "siret": siret_cell,
        "name": "Centre social Élan de Gerland",
        "kind": "Centre social",
        "management": "Associatif",
        "commune": "Lyon 7e Arrondissement",
        "approval_starts": "01/01/2025",
        "approval_ends": "31/12/2028",
        "contact_name": "Inès Roche",
        "contact_position": "directrice",
    }
    row = [values.get(c.key, "") for c in registry.STRUCTURE_COLUMNS]
    return ("\r\n".join(";".join(line) for line in [headers, row]) + "\r\n").encode("cp1252")


def test_a_caf_advisor_imports_a_structure(page, site, tmp_path):  # noqa: F811
    if not AXE.exists():
        pytest.fail("axe-core absent : lancez « make browser-deps ».")
    SHOTS.mkdir(exist_ok=True)
    failures = {}
    log_in(page, site, cast.CAF69)
    page.goto(f"{site}/structures/")
    page.screenshot(path=str(SHOTS / "0-liste.png"))
    page.get_by_role("link", name="Importer").click()
    page.get_by_role("heading", name="Importer des structures", level=1).wait_for()
    page.screenshot(path=str(SHOTS / "0-depot.png"), full_page=True)
    failures["dépôt"] = audit(page)

    bad = tmp_path / "registre-erreur.csv"
    bad.write_bytes(registry_csv("7328 2932 0000 75"))
    page.get_by_label("Fichier à importer").set_input_files(str(bad))
    page.get_by_role("button", name="Vérifier le fichier").click()
    page.get_by_role("heading", name="1 erreur : rien n’a été importé").wait_for()
    error_row = page.get_by_role("row").filter(has_text="SIRET invalide")
    assert error_row.get_by_role("cell").nth(0).inner_text() == "2"
    assert "A (SIRET)" in error_row.get_by_role("cell").nth(1).inner_text()
    page.screenshot(path=str(SHOTS / "1-erreurs.png"), full_page=True)
    failures["erreurs"] = audit(page)

    page.get_by_role("link", name="déposez-le à nouveau").click()
    good = tmp_path / "registre.csv"
    good.write_bytes(registry_csv(SIRET))
    page.get_by_label("Fichier à importer").set_input_files(str(good))
    page.get_by_role("button", name="Vérifier le fichier").click()
    page.get_by_role("heading", name="Le fichier est correct").wait_for()
    assert page.get_by_role("cell", name="Nouvelle structure").is_visible()
    page.screenshot(path=str(SHOTS / "2-rapport.png"), full_page=True)
    failures["rapport"] = audit(page)
    assert not Structure.objects.filter(siret=SIRET).exists()

    page.get_by_role("button", name="Appliquer l’import").click()
    page.get_by_role("heading", name="Import appliqué").wait_for()
    page.screenshot(path=str(SHOTS / "3-applique.png"), full_page=True)
    failures["appliqué"] = audit(page)
    structure = Structure.objects.get(siret=SIRET)
    assert structure.commune_id == "69387" and structure.approvals.count() == 1 and structure.contacts.count() == 1

    failures = {label: found for label, found in failures.items() if found}
    assert not failures, json.dumps(failures, ensure_ascii=False, indent=2)
