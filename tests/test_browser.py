"""Real Chromium (Debian's) against a live server: the journeys of the foundation, and axe-core."""

import json
import os
import re
from pathlib import Path

import pytest
from django.core.management import call_command

from cadre.accounts.models import User
from cadre.demo import cast
from cadre.observatory.models import Questionnaire
from cadre.structures.models import Structure
from tests.conftest import load_reference_data

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
playwright_api = pytest.importorskip("playwright.sync_api")

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
AXE = Path(__file__).resolve().parent.parent / ".cache/axe/node_modules/axe-core/axe.min.js"

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium de Debian absent : lancez « make browser-deps » (apt-get install chromium).")
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def site(live_server):
    # Transactional tests start from an empty database: load geography and the demo each time.
    load_reference_data()
    call_command("seed_demo", verbosity=0)
    return live_server.url


@pytest.fixture
def page(browser):
    context = browser.new_context(locale="fr-FR", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


def log_in(page, site, email):
    page.goto(f"{site}/compte/connexion/")
    page.get_by_role("textbox", name="Adresse électronique").fill(email)
    page.get_by_label("Mot de passe").fill(cast.PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_url(f"{site}/")


def test_caf_advisor_filters_opens_edits_and_sees_history(page, site):
    log_in(page, site, cast.CAF69)
    page.get_by_role("link", name="Structures", exact=True).first.click()
    page.get_by_label("Département").select_option("69")
    page.wait_for_url(re.compile(r"department=69"))
    with page.expect_response(re.compile(r"qpv=yes")):
        page.get_by_label("Politique de la ville").select_option("yes")
    page.wait_for_load_state("networkidle")
    expected = Structure.objects.filter(commune__department_id="69").exclude(priority_area_status="none").count()
    assert expected > 0
    assert page.get_by_role("status").first.inner_text().startswith(str(expected))
    rows = page.locator("#results tbody tr")
    assert rows.count() == min(expected, 25)
    assert all("(69)" in text for text in rows.locator("td:nth-child(3)").all_inner_texts())

    first = rows.first.get_by_role("link")
    name = first.inner_text()
    first.click()
    page.get_by_role("heading", level=1, name=name).wait_for()
    page.get_by_role("link", name="Modifier la fiche").click()
    page.get_by_label("Téléphone").fill("04 72 00 00 01")
    page.get_by_role("button", name="Enregistrer").click()
    page.get_by_text("Les modifications ont été enregistrées.").wait_for()
    # The history loads once its section comes into view.
    page.get_by_role("heading", name="Historique des modifications").scroll_into_view_if_needed()
    history = page.locator("#history-title + .fr-table")
    assert "04 72 00 00 01" in history.inner_text()
    assert User.objects.get(email=cast.CAF69).display_name in history.inner_text()


def test_editor_of_b_cannot_reach_structure_a(page, site):
    structure_a = Structure.objects.get(memberships__user__email=cast.STRUCTURE_A)
    log_in(page, site, cast.STRUCTURE_B)
    page.goto(f"{site}/structures/")
    assert structure_a.name not in page.locator("#results").inner_text()
    response = page.goto(f"{site}/structures/{structure_a.uuid}/")
    assert response.status == 404
    assert structure_a.name not in page.content()


def audit(page):
    page.evaluate(AXE.read_text())
    result = page.evaluate(
        "async () => await axe.run(document, {resultTypes: ['violations'], "
        "runOnly: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']})"
    )
    return [
        {"id": v["id"], "impact": v["impact"], "help": v["help"], "targets": [n["target"] for n in v["nodes"]][:5]}
        for v in result["violations"]
        if v["impact"] in {"serious", "critical"}
    ]


def test_main_pages_pass_axe(page, site):
    if not AXE.exists():
        pytest.fail("axe-core absent : lancez « make browser-deps ».")
    structure = Structure.objects.get(memberships__user__email=cast.STRUCTURE_A)
    call_command("load_questionnaire")
    questionnaire = Questionnaire.objects.get(code="senacs")
    public_pages = ["/", "/compte/connexion/", "/annuaire/", f"/annuaire/{structure.uuid}/", "/accessibilite/"]
    private_pages = [
        "/structures/?department=69",
        f"/structures/{structure.uuid}/",
        f"/structures/{structure.uuid}/historique/",
        f"/structures/{structure.uuid}/modifier/",
        f"/structures/{structure.uuid}/agrements/nouveau/",
        "/structures/nouvelle/",
        "/partenaires/",
        f"/partenaires/{structure.federation.uuid if structure.federation else ''}/"
        if structure.federation
        else "/partenaires/",
        "/compte/",
        "/observatoire/questionnaires/",
        f"/observatoire/questionnaires/{questionnaire.uuid}/",
    ]
    failures = {}
    for path in public_pages:
        page.goto(site + path)
        failures[path] = audit(page)
    log_in(page, site, cast.ADMIN)
    for path in private_pages:
        page.goto(site + path)
        failures[path] = audit(page)
    failures = {path: found for path, found in failures.items() if found}
    assert not failures, json.dumps(failures, ensure_ascii=False, indent=2)


def test_commune_field_suggests_communes_as_one_types(page, site):
    log_in(page, site, cast.CAF69)
    page.goto(f"{site}/structures/nouvelle/")
    commune = page.get_by_role("combobox", name="Commune d'implantation")
    for typed, expected in [("villeurb", "Villeurbanne (69266)"), ("69120", "Vaulx-en-Velin (69256)")]:
        commune.fill("")
        commune.press_sequentially(typed, delay=30)
        page.wait_for_function(
            "([id, label]) => [...document.getElementById(id).options].some(o => o.value === label)",
            arg=[commune.get_attribute("list"), expected],
        )
