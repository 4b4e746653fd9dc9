"""In Chromium: an administrator invites a new Caf advisor, who creates their account from the e-mail's link,
enrols two-factor (required of a Caf editor) and lands on the home page; every page audited by axe-core."""

import re

import pytest
from django.core import mail
from django_otp.plugins.otp_totp.models import TOTPDevice

from cadre.accounts.models import Membership, User
from cadre.demo import cast
from cadre.partners.models import Partner
from tests import otp
from tests.test_browser import browser, log_in, page, site  # noqa: F401 — the module's fixtures
from tests.test_browser_auth import audited

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_new_caf_advisor_is_invited_accepts_enrols_and_lands_on_home(page, browser, site):  # noqa: F811
    caf = Partner.objects.get(memberships__user__email=cast.CAF69)
    log_in(page, site, cast.ADMIN)
    page.goto(f"{site}/partenaires/{caf.uuid}/")
    page.get_by_role("link", name="Équipe").click()
    page.get_by_role("heading", level=1, name=f"Équipe de {caf.name}").wait_for()
    audited(page, "équipe")
    page.get_by_label("Adresse électronique").fill("nouvelle.conseillere@caf69.fr")
    page.get_by_label("Rôle", exact=True).select_option("editor")
    page.get_by_role("button", name="Inviter", exact=True).click()
    page.get_by_text("Invitation envoyée à nouvelle.conseillere@caf69.fr (contributeur)").wait_for()
    assert page.get_by_role("cell", name="nouvelle.conseillere@caf69.fr", exact=True).is_visible()
    audited(page, "équipe avec une invitation en attente")

    link = re.search(r"http://\S+/compte/invitation/\S+/", mail.outbox[-1].body).group(0)
    newcomer = browser.new_context(locale="fr-FR", viewport={"width": 1280, "height": 900}).new_page()
    newcomer.goto(link)
    newcomer.get_by_role("heading", name="Créer votre compte").wait_for()
    assert caf.name in newcomer.content()
    audited(newcomer, "invitation")
    newcomer.get_by_label("Prénom").fill("Inès")
    newcomer.get_by_label("Nom", exact=True).fill("Haddad")
    newcomer.get_by_role("textbox", name=re.compile(r"^Mot de passe")).fill("Vie-sociale-2026!")
    newcomer.get_by_label("Confirmation du mot de passe").fill("Vie-sociale-2026!")
    newcomer.get_by_role("button", name="Créer mon compte et accepter").click()

    # A Caf editor writes on many structures: two-factor is required before anything else.
    newcomer.get_by_role("heading", level=1, name="Activer la double authentification").wait_for()
    user = User.objects.get(email="nouvelle.conseillere@caf69.fr")
    device = TOTPDevice.objects.get(user=user, confirmed=False)
    newcomer.get_by_label("Code de vérification").fill(otp.unused_code(device))
    newcomer.get_by_role("button", name="Activer").click()
    newcomer.get_by_role("heading", name="Vos codes de secours").wait_for()
    newcomer.get_by_role("link", name="J’ai conservé mes codes, continuer").click()

    newcomer.get_by_role("heading", level=1, name="Bienvenue, Inès").wait_for()
    assert newcomer.get_by_role("link", name=caf.name).is_visible()
    audited(newcomer, "bienvenue")
    newcomer.get_by_role("link", name="Voir ce qui m’attend").click()
    newcomer.wait_for_url(f"{site}/")
    assert "Bonjour Inès Haddad" in newcomer.content()
    assert Membership.objects.get(user=user).partner == caf
    newcomer.context.close()

    # Back on the team page, the administrator sees her as a member who has signed in.
    page.reload()
    row = page.get_by_role("row").filter(has_text="nouvelle.conseillere@caf69.fr")
    assert "Inès Haddad" in row.inner_text() and "jamais" not in row.inner_text()
