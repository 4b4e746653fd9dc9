"""The alerts list in Chromium: a Caf advisor opens « Alertes » from the menu, filters the alerts of the Rhône,
acknowledges one with a comment and finds it « prise en compte »; then looks at the structure's financial health,
its ratios drawn beside the département's quartiles. Each page audited by axe-core."""

import json
import re
from pathlib import Path

import pytest
from django.utils import timezone

from cadre.demo import cast
from cadre.monitoring.alert_models import AlertAcknowledgement, HealthLevel, HealthStatus
from cadre.structures.models import Structure
from tests.test_browser import AXE, audit, browser, log_in, page, site  # noqa: F401 — the module's fixtures

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SHOTS = Path("/tmp/cadre-alerts-shots")


def test_a_caf_advisor_filters_the_alerts_and_acknowledges_one(page, site):  # noqa: F811
    if not AXE.exists():
        pytest.fail("axe-core absent : lancez « make browser-deps ».")
    SHOTS.mkdir(exist_ok=True)
    failures = {}
    a = Structure.objects.get(memberships__user__email=cast.STRUCTURE_A)
    now = timezone.now()
    HealthStatus.objects.update_or_create(
        structure=a,
        year=2025,
        defaults={
            "level": HealthLevel.ALERT,
            "facts": [
                {
                    "rule": "cash-under-30-days",
                    "signal": "cash_days",
                    "severity": "alerte",
                    "text": "trésorerie : 18 jours de charges, seuil 30",
                },
                {
                    "rule": "two-deficits",
                    "signal": "net_result",
                    "severity": "alerte",
                    "text": "deux exercices déficitaires : 2024 -12 400 €, 2025 -31 000 €",
                },
            ],
            "computed_at": now,
            "level_since": now,
        },
    )
    log_in(page, site, cast.CAF69)
    page.get_by_role("navigation", name="Menu principal").get_by_role("link", name="Alertes").click()
    page.get_by_role("heading", name="Alertes des structures", level=1).wait_for()
    page.screenshot(path=str(SHOTS / "1-liste.png"), full_page=True)
    failures["liste"] = audit(page)

    page.get_by_label("Exercice").select_option("2025")
    page.get_by_label("État").select_option("alerte")
    page.get_by_label("Rechercher").fill(a.name)
    page.get_by_role("button", name="Filtrer").click()
    page.get_by_role("status").filter(has_text=re.compile(r"^\s*1 état de santé")).wait_for()
    row = page.get_by_role("row").filter(has_text=a.name)
    row.get_by_text("trésorerie : 18 jours de charges, seuil 30").wait_for()
    assert page.get_by_role("row").count() == 2  # the header and A
    page.screenshot(path=str(SHOTS / "2-filtree.png"), full_page=True)
    failures["filtrée"] = audit(page)

    row.get_by_role("link", name=f"Prendre en compte : {a.name}, 2025").click()
    page.get_by_role("heading", name="Prendre en compte une alerte").wait_for()
    page.get_by_role("button", name="Prendre en compte").click()
    page.get_by_text("Écrivez un commentaire").first.wait_for()  # said at the field
    failures["erreur"] = audit(page)
    page.get_by_label("Commentaire").fill("Rendez-vous avec la présidente le 15 ; plan de trésorerie demandé.")
    page.get_by_role("button", name="Prendre en compte").click()
    page.get_by_text("est prise en compte").wait_for()
    ack = AlertAcknowledgement.objects.get(structure=a, year=2025)
    assert ack.level == HealthLevel.ALERT and ack.acknowledged_by.email == cast.CAF69

    page.get_by_label("Exercice").select_option("2025")
    page.get_by_label("Prise en compte").select_option("yes")
    page.get_by_role("button", name="Filtrer").click()
    page.get_by_role("row").filter(has_text=a.name).get_by_text("plan de trésorerie demandé").wait_for()
    page.screenshot(path=str(SHOTS / "3-prise-en-compte.png"), full_page=True)
    failures["prise en compte"] = audit(page)

    page.get_by_role("link", name=a.name).first.click()
    page.get_by_role("heading", name="Santé financière", level=1).wait_for()
    page.screenshot(path=str(SHOTS / "4-sante.png"), full_page=True)
    page.screenshot(path=str(SHOTS / "5-sante-haut.png"), clip={"x": 0, "y": 0, "width": 1280, "height": 2000})
    failures["santé"] = audit(page)

    # The administrator's rules.
    page.context.clear_cookies()
    log_in(page, site, cast.ADMIN)
    page.goto(f"{site}/prevention/alertes/regles/")
    page.get_by_role("heading", name="Règles d’alerte", level=1).wait_for()
    page.screenshot(path=str(SHOTS / "6-regles.png"), full_page=True)
    failures["règles"] = audit(page)
    page.get_by_role("link", name="Trésorerie courte").click()
    page.get_by_label("Seuil").fill("-5")
    page.get_by_role("button", name="Enregistrer").click()
    page.get_by_text("ne descend pas sous 0 jours de charges").first.wait_for()
    page.screenshot(path=str(SHOTS / "7-regle-erreur.png"), full_page=True)
    failures["règle"] = audit(page)

    failures = {label: found for label, found in failures.items() if found}
    assert not failures, json.dumps(failures, ensure_ascii=False, indent=2)
