"""A difficulty and its support case in Chromium: structure B reports a difficulty from its page; the Caf 13 finds
it on its home page, and, sitting on the support cell, opens a case from it, writes a note for the cell only and
one shared with the structure; structure B then sees the shared note and never the other. Each page audited by
axe-core."""

import json
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from cadre.demo import cast
from cadre.monitoring.case_models import DifficultyReport, SupportCase
from cadre.structures.models import Structure
from tests.test_browser import AXE, audit, browser, log_in, page, site  # noqa: F401 — the module's fixtures

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SHOTS = Path("/tmp/cadre-cases-shots")
SECRET = "Le trésorier a quitté le bureau : la cellule en parle seule."
SHARED = "Rendez-vous proposé le 15 avec la direction et le bureau."


def test_a_reported_difficulty_becomes_a_case_with_notes_by_circle(page, site):  # noqa: F811
    if not AXE.exists():
        pytest.fail("axe-core absent : lancez « make browser-deps ».")
    SHOTS.mkdir(exist_ok=True)
    failures = {}
    b = Structure.objects.get(memberships__user__email=cast.STRUCTURE_B)

    log_in(page, site, cast.STRUCTURE_B)
    page.goto(f"{site}/structures/{b.uuid}/")
    page.get_by_role("link", name="Signalements de difficulté").click()
    page.get_by_role("link", name="Signaler une difficulté").click()
    page.get_by_role("heading", name="Signaler une difficulté", level=1).wait_for()
    page.get_by_label("Nature de la difficulté").select_option("governance")
    page.get_by_label("Urgence").select_option("high")
    page.get_by_label("Description").fill("Trop court")
    page.get_by_role("button", name="Envoyer le signalement").click()
    page.get_by_text("20 caractères au moins").wait_for()
    page.screenshot(path=str(SHOTS / "1-signalement-erreur.png"), full_page=True)
    failures["signalement-erreur"] = audit(page)
    page.get_by_label("Description").fill(
        "Le bureau a démissionné après l'assemblée générale ; plus personne ne signe."
    )
    page.get_by_role("button", name="Envoyer le signalement").click()
    page.get_by_text("Votre signalement est envoyé").wait_for()
    page.screenshot(path=str(SHOTS / "2-signalement.png"), full_page=True)
    failures["signalement"] = audit(page)
    report = DifficultyReport.objects.get(structure=b, category="governance")

    page.context.clear_cookies()
    log_in(page, site, cast.CAF13)
    page.get_by_text(re.compile(r"signalements? de difficulté sans dossier")).first.wait_for()
    page.screenshot(path=str(SHOTS / "3-accueil-caf.png"), full_page=True)
    failures["accueil"] = audit(page)
    page.goto(f"{site}/prevention/signalements/{report.uuid}/")
    page.get_by_role("link", name="Ouvrir un dossier d’accompagnement").click()
    page.get_by_label("Objet du dossier").fill("Gouvernance : bureau démissionnaire")
    page.screenshot(path=str(SHOTS / "4-ouverture.png"), full_page=True)
    failures["ouverture"] = audit(page)
    page.get_by_role("button", name="Ouvrir le dossier").click()
    page.get_by_text("Le dossier d'accompagnement est ouvert").wait_for()
    case = SupportCase.objects.get(report=report)
    # The note form comes on demand: htmx puts it in place of its link, on the same page, and gives it the focus.
    case_url = page.url
    page.get_by_role("link", name="Ajouter une note").click()
    note_form = page.locator("form", has=page.get_by_role("button", name="Ajouter la note"))
    expect(note_form.get_by_label("Note", exact=True)).to_be_focused()
    assert page.url == case_url
    note_form.get_by_label("Note", exact=True).fill(SECRET)
    note_form.get_by_label("Instance d'appui seulement").check()
    page.get_by_role("button", name="Ajouter la note").click()
    page.get_by_text("La note est ajoutée").wait_for()
    page.get_by_role("link", name="Ajouter une note").click()
    note_form.get_by_label("Note", exact=True).fill(SHARED)
    note_form.get_by_label("Partagé avec la structure").check()
    page.get_by_role("button", name="Ajouter la note").click()
    page.get_by_text(SHARED).wait_for()
    assert page.get_by_text(SECRET).is_visible()
    page.screenshot(path=str(SHOTS / "5-dossier-cellule.png"), full_page=True)
    failures["dossier-cellule"] = audit(page)

    page.context.clear_cookies()
    log_in(page, site, cast.STRUCTURE_B)
    page.goto(f"{site}/prevention/dossiers/{case.uuid}/")
    page.get_by_text(SHARED).wait_for()
    assert SECRET not in page.content()
    page.screenshot(path=str(SHOTS / "6-dossier-structure.png"), full_page=True)
    failures["dossier-structure"] = audit(page)

    # The demo's case of structure B: its recovery plan, the targets beside the accepted statements.
    demo_case = SupportCase.objects.get(structure=b, plan__isnull=False)
    page.context.clear_cookies()
    log_in(page, site, cast.CAF13)
    page.goto(f"{site}/prevention/dossiers/{demo_case.uuid}/")
    page.get_by_role("heading", name="Plan de retour à l’équilibre").wait_for()
    page.screenshot(path=str(SHOTS / "7-dossier-demo.png"), full_page=True)
    failures["dossier-demo"] = audit(page)
    page.get_by_role("link", name="Rédiger et suivre le plan").click()
    page.get_by_text("Valeurs visées et valeurs constatées").wait_for()
    page.screenshot(path=str(SHOTS / "8-plan.png"), full_page=True)
    failures["plan"] = audit(page)

    failures = {label: found for label, found in failures.items() if found}
    assert not failures, json.dumps(failures, ensure_ascii=False, indent=2)
