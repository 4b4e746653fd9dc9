"""Annual accounts in Chromium: from the structure page, the director types the accounts in French writing, the
totals follow as they type, a balance sheet that does not balance is told at the cash, the saved accounts show
their ratios; then the Caf advisor returns them with a reason. Each page audited by axe-core."""

import json
from pathlib import Path

import pytest

from cadre.demo import cast
from cadre.monitoring.enums import StatementStatus
from cadre.monitoring.models import FinancialStatement
from cadre.structures.models import Structure
from tests.test_browser import AXE, audit, browser, log_in, page, site  # noqa: F401 — the module's fixtures
from tests.test_monitoring_pages import french
from tests.test_monitoring_statements import ACCOUNTS_2025

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SHOTS = Path("/tmp/cadre-monitoring-shots")


def spaced(text):
    return text.replace("\u202f", " ").replace("\xa0", " ")


def test_a_director_enters_the_accounts_and_the_caf_returns_them(page, site):  # noqa: F811
    if not AXE.exists():
        pytest.fail("axe-core absent : lancez « make browser-deps ».")
    SHOTS.mkdir(exist_ok=True)
    failures = {}
    a = Structure.objects.get(memberships__user__email=cast.STRUCTURE_A)
    FinancialStatement.objects.filter(structure=a).delete()
    log_in(page, site, cast.STRUCTURE_A)
    page.goto(f"{site}/structures/{a.uuid}/")
    page.get_by_role("link", name="Comptes annuels").click()
    page.get_by_role("link", name="Saisir des comptes annuels").click()
    page.get_by_role("heading", name="Saisir des comptes annuels", level=1).wait_for()
    page.get_by_label("Début de l'exercice").fill("2025-01-01")
    page.get_by_label("Clôture de l'exercice").fill("2025-12-31")
    for name, value in ACCOUNTS_2025.items():
        page.locator(f"[name={name}]").fill(french(value if name != "cash" else 61000))
    # The totals follow the typing.
    assert spaced(page.locator("output[data-sum=income]:not([data-minus])").inner_text()) == "515 000,00 €"
    assert spaced(page.locator("output[data-sum=assets][data-minus=liabilities]").inner_text()) == "1 000,00 €"
    page.screenshot(path=str(SHOTS / "1-saisie.png"), full_page=True)
    failures["saisie"] = audit(page)
    page.get_by_role("button", name="Enregistrer").click()
    page.get_by_text("Le bilan n'est pas équilibré").first.wait_for()
    assert not FinancialStatement.objects.filter(structure=a).exists()
    page.screenshot(path=str(SHOTS / "2-erreur.png"), full_page=True)
    failures["erreur"] = audit(page)

    page.locator("[name=cash]").fill("60 000,00")
    page.get_by_role("button", name="Enregistrer").click()
    page.get_by_role("heading", name="Comptes de l’exercice 2025").wait_for()
    assert page.get_by_role("row", name="Trésorerie en jours de charges").get_by_text("43,4 jours").is_visible()
    page.get_by_role("button", name="Envoyer aux partenaires").click()
    page.get_by_text("sont envoyés aux partenaires").wait_for()
    page.screenshot(path=str(SHOTS / "3-comptes.png"), full_page=True)
    failures["comptes"] = audit(page)

    page.context.clear_cookies()
    log_in(page, site, cast.CAF69)
    statement = FinancialStatement.objects.get(structure=a)
    page.goto(f"{site}/prevention/comptes/{statement.uuid}/")
    page.get_by_label("Renvoyer à la structure").check()
    page.get_by_label("Motif du renvoi").fill("Les dettes sociales semblent incomplètes.")
    page.get_by_role("button", name="Enregistrer la décision").click()
    page.get_by_text("renvoyés à la structure avec votre motif").wait_for()
    statement.refresh_from_db()
    assert statement.status == StatementStatus.RETURNED
    page.goto(f"{site}/prevention/structures/{a.uuid}/comptes/")
    page.screenshot(path=str(SHOTS / "4-exercices.png"), full_page=True)
    failures["exercices"] = audit(page)

    failures = {label: found for label, found in failures.items() if found}
    assert not failures, json.dumps(failures, ensure_ascii=False, indent=2)
