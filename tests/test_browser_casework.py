"""In Chromium: the Caf 13, on the support cell, changes an action of the demo's case of structure B (its due date
and précisions) and sees it in the timeline; a second editor who read the action before is told and nothing is
overwritten. Then it sorts its alerts list by the column headers, with htmx, and the sort holds when a filter
changes. Each page audited by axe-core."""

import datetime
import json
from pathlib import Path

import pytest

from cadre.demo import cast
from cadre.monitoring.case_models import CaseAction, SupportCase
from cadre.structures.models import Structure
from tests.test_browser import AXE, audit, browser, log_in, page, site  # noqa: F401 — the module's fixtures

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SHOTS = Path("/tmp/cadre-casework-shots")


def test_an_action_is_changed_and_the_alerts_sort_by_their_headers(page, site):  # noqa: F811
    if not AXE.exists():
        pytest.fail("axe-core absent : lancez « make browser-deps ».")
    SHOTS.mkdir(exist_ok=True)
    failures = {}
    b = Structure.objects.get(memberships__user__email=cast.STRUCTURE_B)
    case = SupportCase.objects.get(structure=b, plan__isnull=False)
    action = CaseAction.objects.filter(case=case, done_on__isnull=True).order_by("due").first()

    log_in(page, site, cast.CAF13)
    page.goto(f"{site}/prevention/dossiers/{case.uuid}/")
    page.get_by_role("link", name=f"Modifier l’action : {action.title}").click()
    page.get_by_role("heading", name="Modifier une action", level=1).wait_for()
    # A second editor opens the same action meanwhile.
    other = page.context.new_page()
    other.goto(page.url)
    new_due = datetime.date.today() + datetime.timedelta(days=75)
    page.get_by_label("Échéance").fill(new_due.isoformat())
    page.get_by_label("Précisions").fill("Avec le commissaire aux comptes et la banque.")
    page.screenshot(path=str(SHOTS / "1-action-modifier.png"), full_page=True)
    failures["action-modifier"] = audit(page)
    page.get_by_role("button", name="Enregistrer l’action").click()
    page.get_by_text("est modifiée").wait_for()
    page.get_by_text(f"Action modifiée : {action.title}").wait_for()
    page.screenshot(path=str(SHOTS / "2-dossier-action-modifiee.png"), full_page=True)
    failures["dossier"] = audit(page)
    action.refresh_from_db()
    assert action.due == new_due

    other.get_by_label("Action", exact=True).fill("Un autre intitulé")
    other.get_by_role("button", name="Enregistrer l’action").click()
    other.get_by_text("modifiée entre-temps").wait_for()
    other.screenshot(path=str(SHOTS / "3-action-conflit.png"), full_page=True)
    failures["conflit"] = audit(other)
    action.refresh_from_db()
    assert action.title != "Un autre intitulé"
    other.close()

    page.goto(f"{site}/prevention/alertes/")
    page.get_by_role("columnheader", name="État").wait_for()
    assert page.locator("th[aria-sort]").count() == 1
    page.get_by_role("link", name="Trier par structure, de A à Z").click()
    page.locator("th[aria-sort='ascending']", has_text="Structure").wait_for()
    assert "sort=name" in page.url
    names = page.locator("#results tbody tr td:first-child a").all_inner_texts()
    assert names == sorted(names, key=str.lower)
    # A filter changed afterwards keeps the sort (the hidden input of the results belongs to the filters' form).
    page.get_by_label("État", exact=True).select_option("all")
    page.wait_for_url("**level=all**")
    page.locator("th[aria-sort='ascending']", has_text="Structure").wait_for()
    assert "sort=name" in page.url
    page.screenshot(path=str(SHOTS / "4-alertes-triees.png"), full_page=True)
    failures["alertes"] = audit(page)
    page.get_by_role("link", name="Trier par structure, de Z à A").click()
    page.locator("th[aria-sort='descending']", has_text="Structure").wait_for()
    assert "sort=-name" in page.locator("a", has_text="Exporter en CSV").get_attribute("href")

    failures = {label: found for label, found in failures.items() if found}
    assert not failures, json.dumps(failures, ensure_ascii=False, indent=2)
