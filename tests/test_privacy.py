"""Personal-data rights: the register of processings, one's own data, erasure of one's account, expiry of unused
accounts, and the requests of people named as contacts."""

import datetime
import json

import pytest
from django.core import mail
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from cadre.accounts.models import AccountEvent, AccountEventKind, ApiToken, Role, User
from cadre.accounts.privacy import expire_accounts, months_before
from cadre.partners.models import PartnerContact
from cadre.structures.models import StructureContact
from tests.factories import PartnerFactory, StructureFactory, UserFactory, member

pytestmark = pytest.mark.django_db


# The register --------------------------------------------------------------------------------------------------


def test_personal_data_page_states_each_processing_with_the_configured_duration(client, settings):
    settings.CADRE_INACTIVE_ACCOUNT_MONTHS = 18
    page = client.get(reverse("core:personal_data")).content.decode()
    assert "Journal des connexions et de la sécurité" in page
    assert "Contacts des structures et des partenaires" in page
    assert "sans connexion depuis 18 mois est désactivé" in page
    for label in ("Finalité", "Base légale", "Données", "Durée de conservation", "Destinataires"):
        assert label in page


def test_the_operator_writes_their_own_register(client, settings, tmp_path):
    register = tmp_path / "registre.toml"
    register.write_text(
        '[[processing]]\nname = "Suivi des bénévoles"\npurpose = "Remercier les bénévoles"\n'
        'legal_basis = "Consentement"\ndata = "Nom"\nretention = "{inactive_months} mois"\n'
        'recipients = "{operator}"\n',
        encoding="utf-8",
    )
    settings.CADRE_PROCESSINGS_FILE = str(register)
    settings.CADRE_OPERATOR = {**settings.CADRE_OPERATOR, "name": "Convention cadre de la Drôme"}
    page = client.get(reverse("core:personal_data")).content.decode()
    assert "Suivi des bénévoles" in page and "Remercier les bénévoles" in page
    assert "Convention cadre de la Drôme" in page
    assert "Journal des connexions" not in page


# One's own data ------------------------------------------------------------------------------------------------


def test_a_user_reads_and_downloads_everything_kept_about_them(client):
    user = UserFactory(email="directrice@cs-buers.fr", first_name="Élodie", last_name="Roux")
    structure = StructureFactory(name="Centre social des Buers")
    member(user, structure, Role.MANAGER)
    structure.contacts.create(name="Élodie Roux", position="directrice", email="directrice@cs-buers.fr")
    structure.address = "17 rue Octavie"
    structure.save_tracked(user=user)
    AccountEvent.record(user, AccountEventKind.LOGIN, detail="mot de passe")
    client.force_login(user)

    page = client.get(reverse("accounts:my_data")).content.decode()
    assert "Centre social des Buers" in page and "responsable" in page
    assert "Connexion" in page and "modification" in page and "directrice" in page

    response = client.get(reverse("accounts:my_data") + "?format=json")
    assert response["Content-Disposition"].startswith("attachment")
    data = json.loads(response.content)
    assert data["compte"]["adresse électronique"] == "directrice@cs-buers.fr"
    assert data["rattachements"] == [
        {
            "organisation": "Centre social des Buers",
            "rôle": "responsable",
            "depuis le": data["rattachements"][0]["depuis le"],
        }
    ]
    assert {"fiche": "structure", "action": "modification"}.items() <= data["modifications faites"][0].items()
    assert data["fiches de contact à votre adresse"][0]["fonction"] == "directrice"
    assert user.account_events.filter(kind=AccountEventKind.DATA_EXPORTED).exists()


# Erasure -------------------------------------------------------------------------------------------------------


def test_erasure_needs_the_password_and_keeps_everything_on_a_wrong_one(client):
    user = UserFactory(email="benevole@evs.fr")
    client.force_login(user)
    response = client.post(reverse("accounts:erase"), {"confirmation": "pas-le-bon"})
    assert "Mot de passe incorrect : votre compte n’a pas été supprimé." in response.content.decode()
    user.refresh_from_db()
    assert user.email == "benevole@evs.fr" and user.is_active and user.erased_at is None


def test_erasure_anonymises_the_account_and_the_history_says_compte_supprime(client):
    user = UserFactory(email="agent@ville.fr", first_name="Karim", last_name="Benali")
    structure = StructureFactory()
    member(user, structure, Role.EDITOR)
    structure.address = "2 place de la Mairie"
    structure.save_tracked(user=user)
    TOTPDevice.objects.create(user=user, name="Téléphone", confirmed=True)
    ApiToken.issue(user, "script")
    AccountEvent.record(user, AccountEventKind.LOGIN)
    client.force_login(user)

    response = client.post(reverse("accounts:erase"), {"confirmation": "demo-cadre"})
    assert response.status_code == 302

    user.refresh_from_db()
    assert user.erased_at is not None and not user.is_active and not user.has_usable_password()
    assert "agent@ville.fr" not in user.email and user.first_name == user.last_name == ""
    assert not user.memberships.exists() and not user.api_tokens.exists()
    assert not user.account_events.exists() and not TOTPDevice.objects.filter(user=user).exists()
    # Signed out, and the old credentials open nothing.
    assert client.get(reverse("accounts:profile")).status_code == 302
    assert (
        client.post(reverse("accounts:login"), {"username": "agent@ville.fr", "password": "demo-cadre"}).status_code
        == 200
    )
    # The structure's history keeps the change, under « compte supprimé ».
    admin = UserFactory(email="admin@exemple.fr", is_superuser=True)
    client.force_login(admin)
    history = client.get(reverse("structures:history", args=[structure.uuid])).content.decode()
    assert "compte supprimé" in history and "Benali" not in history


def test_an_account_without_password_confirms_with_its_address():
    from cadre.accounts.forms import ErasureForm

    user = UserFactory(email="agent@prefecture.gouv.fr")
    user.set_unusable_password()
    assert not ErasureForm({"confirmation": "autre@prefecture.gouv.fr"}, user=user).is_valid()
    assert ErasureForm({"confirmation": " Agent@Prefecture.gouv.fr "}, user=user).is_valid()


def test_the_last_administrator_cannot_erase_their_account(client):
    admin = UserFactory(email="seule-admin@exemple.fr", is_superuser=True)
    client.force_login(admin)
    response = client.post(reverse("accounts:erase"), {"confirmation": "demo-cadre"})
    assert "nommez-en un autre avant de supprimer votre compte" in response.content.decode()
    admin.refresh_from_db()
    assert admin.is_active and admin.erased_at is None


# Unused accounts -----------------------------------------------------------------------------------------------


def test_an_unused_account_is_warned_a_month_ahead_then_deactivated(settings):
    settings.CADRE_INACTIVE_ACCOUNT_MONTHS = 12
    now = timezone.now()
    dormant = UserFactory(email="dormant@exemple.fr", last_login=months_before(now, 11) - datetime.timedelta(days=2))
    active = UserFactory(email="actif@exemple.fr", last_login=now - datetime.timedelta(days=3))
    _, secret = ApiToken.issue(dormant, "script")

    assert expire_accounts(now) == (1, 0, 0)
    assert [m.to for m in mail.outbox] == [["dormant@exemple.fr"]]
    assert "sera désactivé le" in mail.outbox[0].subject
    assert "/compte/connexion/" in mail.outbox[0].body
    # Run again the same day: no second e-mail.
    assert expire_accounts(now + datetime.timedelta(hours=1)) == (0, 0, 0)
    assert len(mail.outbox) == 1

    later = now + datetime.timedelta(days=31)
    warned, deactivated, _ = expire_accounts(later)
    dormant.refresh_from_db()
    active.refresh_from_db()
    assert deactivated == 1 and not dormant.is_active and active.is_active
    assert ApiToken.objects.authenticate(secret) is None
    assert dormant.account_events.filter(kind=AccountEventKind.DEACTIVATED).exists()


def test_nobody_is_deactivated_without_the_month_of_notice(settings):
    """An account unused for two years when the command first runs is warned, not deactivated at once; signing in
    after the warning keeps it."""
    now = timezone.now()
    old = UserFactory(email="ancien@exemple.fr", last_login=now - datetime.timedelta(days=730))
    assert expire_accounts(now) == (1, 0, 0)
    old.refresh_from_db()
    assert old.is_active
    User.objects.filter(pk=old.pk).update(last_login=now + datetime.timedelta(days=10))
    assert expire_accounts(now + datetime.timedelta(days=40))[:2] == (0, 0)
    old.refresh_from_db()
    assert old.is_active


def test_the_sign_in_journal_is_kept_a_year_and_the_command_reports_in_french(settings):
    user = UserFactory(email="journal@exemple.fr", last_login=timezone.now())
    old = AccountEvent.record(user, AccountEventKind.LOGIN)
    AccountEvent.objects.filter(pk=old.pk).update(at=timezone.now() - datetime.timedelta(days=400))
    recent = AccountEvent.record(user, AccountEventKind.LOGIN)
    from io import StringIO

    out = StringIO()
    call_command("expire_accounts", stdout=out)
    assert list(user.account_events.values_list("pk", flat=True)) == [recent.pk]
    assert "0 compte prévenu, 0 compte désactivé après 12 mois sans connexion, 1 événement du journal effacé." in (
        out.getvalue()
    )


# Contacts ------------------------------------------------------------------------------------------------------


def test_the_data_manager_finds_exports_and_erases_a_contact_history_included(client):
    admin = UserFactory(email="dpo@exemple.fr", is_superuser=True)
    structure = StructureFactory(name="EVS du Tonkin")
    partner = PartnerFactory(name="Ville de Villeurbanne")
    structure.contacts.create(name="Marie Durand", position="coordinatrice", email="Marie.Durand@evs.fr")
    contact = structure.contacts.get()
    contact.phone = "04 78 00 00 00"
    contact.save_tracked(user=admin)
    partner.contacts.create(name="Marie Durand", email="marie.durand@evs.fr")
    StructureContact.objects.create(structure=structure, name="Paul Petit", email="paul@evs.fr")
    client.force_login(admin)
    url = reverse("structures:contact_requests")

    page = client.get(url, {"q": "marie.durand@evs.fr"}).content.decode()
    assert "2 contacts trouvés" in page and "EVS du Tonkin" in page and "Ville de Villeurbanne" in page
    data = json.loads(client.get(url, {"q": "marie.durand@evs.fr", "format": "json"}).content)
    assert {c["organisation"] for c in data["contacts"]} == {"EVS du Tonkin", "Ville de Villeurbanne"}

    # Without the confirmation, nothing is erased.
    response = client.post(url, {"q": "marie.durand@evs.fr"}, follow=True)
    assert "Cochez la case de confirmation" in response.content.decode()
    assert StructureContact.objects.filter(email__iexact="marie.durand@evs.fr").exists()

    response = client.post(url, {"q": "marie.durand@evs.fr", "confirm": "yes"}, follow=True)
    assert "2 contacts effacés" in response.content.decode()
    assert not StructureContact.objects.filter(name="Marie Durand").exists()
    assert not PartnerContact.objects.filter(name="Marie Durand").exists()
    history = StructureContact.history.model.objects
    assert not history.filter(email__iexact="marie.durand@evs.fr").exists()
    assert not history.filter(phone="04 78 00 00 00").exists()
    assert history.filter(name="Contact supprimé").exists()
    assert StructureContact.objects.filter(name="Paul Petit").exists()


def test_only_the_data_manager_handles_contact_requests(client):
    caf = UserFactory(email="conseillere@caf.fr")
    member(caf, PartnerFactory(departments=["69"]), Role.MANAGER)
    client.force_login(caf)
    assert client.get(reverse("structures:contact_requests"), {"q": "x@y.fr"}).status_code == 403
    assert client.post(reverse("structures:contact_requests"), {"q": "x@y.fr", "confirm": "yes"}).status_code == 403
