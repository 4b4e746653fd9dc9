"""Two-factor enrolment and sign-in, and ProConnect, in Debian's Chromium; every page audited by axe-core."""

import re

import pytest
from django_otp.plugins.otp_totp.models import TOTPDevice

from cadre.accounts import proconnect
from cadre.accounts.models import User
from cadre.demo import cast
from tests import otp
from tests.oidc_provider import LocalProvider
from tests.test_browser import AXE, audit, browser, page, site  # noqa: F401 — the module's fixtures

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def audited(page, label):  # noqa: F811
    assert AXE.exists(), "axe-core absent : lancez « make browser-deps »."
    violations = audit(page)
    assert not violations, f"{label} : {violations}"


def password_step(page, site, email):  # noqa: F811
    page.goto(f"{site}/compte/connexion/")
    page.get_by_role("textbox", name="Adresse électronique").fill(email)
    page.get_by_label("Mot de passe").fill(cast.PASSWORD)
    page.get_by_role("button", name="Se connecter").click()


def test_an_administrator_enrols_then_signs_in_with_a_code(page, site):  # noqa: F811
    password_step(page, site, cast.ADMIN)
    page.get_by_role("heading", level=1, name="Activer la double authentification").wait_for()
    assert page.get_by_role("img", name="Code QR à scanner avec votre application d’authentification").is_visible()
    audited(page, "enrôlement")
    admin = User.objects.get(email=cast.ADMIN)
    device = TOTPDevice.objects.get(user=admin, confirmed=False)

    page.get_by_label("Code de vérification").fill("000000")
    page.get_by_role("button", name="Activer").click()
    page.get_by_text("Code incorrect : saisissez le code à 6 chiffres").first.wait_for()
    audited(page, "enrôlement, code erroné")

    page.get_by_label("Code de vérification").fill(otp.unused_code(device))
    page.get_by_role("button", name="Activer").click()
    page.get_by_role("heading", name="Vos codes de secours").wait_for()
    codes = page.locator(".cadre-recovery-codes code").all_inner_texts()
    assert len(codes) == 10
    audited(page, "codes de secours")
    page.get_by_role("link", name="J’ai conservé mes codes, continuer").click()
    page.wait_for_url(f"{site}/")

    page.goto(f"{site}/compte/")
    assert "Il vous reste 10 codes de secours." in page.content()
    assert page.get_by_role("cell", name="Double authentification activée").is_visible()
    audited(page, "Mon compte")

    page.get_by_role("button", name="Se déconnecter").first.click()
    password_step(page, site, cast.ADMIN)
    page.get_by_role("heading", level=1, name="Vérification en deux étapes").wait_for()
    audited(page, "code à la connexion")
    page.get_by_label("Code de vérification").fill("999999")
    page.get_by_role("button", name="Vérifier").click()
    page.get_by_text("Code incorrect : saisissez le code affiché").first.wait_for()
    audited(page, "code erroné à la connexion")
    page.get_by_label("Code de vérification").fill(codes[0])
    page.get_by_role("button", name="Vérifier").click()
    page.wait_for_url(f"{site}/")
    assert "il vous en reste 9" in page.content()


@pytest.fixture
def provider(settings, monkeypatch):
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    started = LocalProvider().start()
    settings.CADRE_PROCONNECT = started.settings()
    proconnect._metadata.clear()
    yield started
    started.stop()
    proconnect._metadata.clear()


def test_an_agent_signs_in_and_out_with_proconnect(page, site, provider):  # noqa: F811
    provider.person["email"] = cast.CITY_VILLEURBANNE  # a viewer: ProConnect alone is enough
    page.goto(f"{site}/compte/connexion/")
    audited(page, "connexion avec ProConnect")
    page.get_by_role("button", name="S’identifier avec ProConnect").click()
    page.wait_for_url(f"{site}/")
    assert page.get_by_role("link", name=User.objects.get(email=cast.CITY_VILLEURBANNE).display_name).is_visible()

    page.get_by_role("button", name="Se déconnecter").first.click()
    page.get_by_text("Vous êtes déconnecté de Cadre et de ProConnect.").wait_for()
    assert provider.calls("/session/end")[0]["id_token_hint"] == provider.issued_id_tokens[-1]

    provider.person.update(sub="autre-agente-0002", email="inconnue@mairie.example.fr")
    page.goto(f"{site}/compte/connexion/")
    page.get_by_role("button", name="S’identifier avec ProConnect").click()
    page.get_by_role("heading", name="Connexion avec ProConnect impossible").wait_for()
    assert re.search("demandez une invitation", page.content())
    audited(page, "refus ProConnect")
