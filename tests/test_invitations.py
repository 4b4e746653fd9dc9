"""Teams managed by the people in charge: invitations (one-time links that expire), roles, removal."""

import datetime
import re

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from cadre.accounts.models import Invitation, Membership, Role, User
from cadre.accounts.privacy import expire_accounts
from cadre.partners.models import PartnerKind
from tests.factories import PartnerFactory, StructureFactory, UserFactory, member

pytestmark = pytest.mark.django_db


def team_url(organisation):
    app = "partners" if organisation._meta.model_name == "partner" else "structures"
    return reverse(f"{app}:members", args=[organisation.uuid])


def invite(client, organisation, email, role="editor"):
    return client.post(team_url(organisation), {"action": "invite", "email": email, "role": role}, follow=True)


def link_in(message):
    return re.search(r"https?://\S+/compte/invitation/\S+/", message.body).group(0).replace("http://testserver", "")


@pytest.fixture
def admin():
    return UserFactory(email="admin@exemple.fr", is_superuser=True)


@pytest.fixture
def centre():
    return StructureFactory(name="Centre social des Buers")


def test_an_administrator_invites_a_manager_who_creates_their_account_and_sees_their_access(client, admin, centre):
    client.force_login(admin)
    page = invite(client, centre, "Directrice@CS-Buers.fr", "manager").content.decode()
    assert "Invitation envoyée à directrice@cs-buers.fr (responsable)" in page
    assert "directrice@cs-buers.fr" in page and "valable jusqu’au" in page
    assert mail.outbox[0].to == ["directrice@cs-buers.fr"]
    assert "« Centre social des Buers »" in mail.outbox[0].body and "« responsable »" in mail.outbox[0].body
    link = link_in(mail.outbox[0])
    # The account waits, inactive, for the link (or for ProConnect under that address).
    waiting = User.objects.get(email="directrice@cs-buers.fr")
    assert not waiting.is_active and not waiting.has_usable_password()

    client.logout()
    form = client.get(link).content.decode()
    assert "Créer votre compte" in form and "Centre social des Buers" in form
    mismatch = client.post(
        link, {"first_name": "Élodie", "last_name": "Roux", "password1": "Un-secret-2026!", "password2": "autre"}
    )
    assert "Les deux mots de passe ne sont pas identiques." in mismatch.content.decode()
    assert not Membership.objects.filter(user=waiting).exists()

    response = client.post(
        link,
        {"first_name": "Élodie", "last_name": "Roux", "password1": "Un-secret-2026!", "password2": "Un-secret-2026!"},
    )
    assert response.status_code == 302 and response.url == reverse("accounts:welcome")
    welcome = client.get(reverse("accounts:welcome")).content.decode()
    assert "Centre social des Buers" in welcome and "responsable" in welcome
    waiting.refresh_from_db()
    assert waiting.is_active and waiting.check_password("Un-secret-2026!") and waiting.first_name == "Élodie"
    membership = Membership.objects.get(user=waiting, structure=centre)
    assert membership.role == Role.MANAGER
    assert membership.history.first().history_user == admin  # the history names who invited

    # The link served once.
    client.logout()
    again = client.get(link)
    assert again.status_code == 410 and "déjà été utilisée" in again.content.decode()


def test_a_manager_invites_colleagues_changes_a_role_and_removes_them(client, centre):
    manager = member(UserFactory(email="direction@cs.fr"), centre, Role.MANAGER)
    client.force_login(manager)
    invite(client, centre, "compta@cs.fr", "editor")
    colleague = User.objects.get(email="compta@cs.fr")
    client.logout()
    link = link_in(mail.outbox[-1])
    client.post(
        link, {"first_name": "Paul", "last_name": "Petit", "password1": "Compta-2026!x", "password2": "Compta-2026!x"}
    )
    assert client.get(reverse("structures:detail", args=[centre.uuid])).status_code == 200

    client.force_login(manager)
    membership = Membership.objects.get(user=colleague, structure=centre)
    page = client.get(team_url(centre)).content.decode()
    assert "Paul Petit" in page and "Dernière connexion" in page

    # A role changed meanwhile by someone else is not silently overwritten.
    stale = client.post(
        team_url(centre),
        {"action": "role", "membership": membership.pk, "role": "viewer", "seen_role": "manager"},
        follow=True,
    )
    assert "a été changé entre-temps" in stale.content.decode()
    assert Membership.objects.get(pk=membership.pk).role == Role.EDITOR
    client.post(
        team_url(centre), {"action": "role", "membership": membership.pk, "role": "viewer", "seen_role": "editor"}
    )
    assert Membership.objects.get(pk=membership.pk).role == Role.VIEWER

    client.post(team_url(centre), {"action": "remove", "membership": membership.pk})
    assert not Membership.objects.filter(pk=membership.pk).exists()
    # Access ends on the next request; the history still names the person.
    colleague.refresh_from_db()
    client.force_login(colleague)
    assert client.get(reverse("structures:detail", args=[centre.uuid])).status_code == 404
    assert Membership.history.filter(user=colleague, history_type="-").exists()


def test_nobody_gives_a_right_they_do_not_hold(client, centre):
    editor = member(UserFactory(email="animatrice@cs.fr"), centre, Role.EDITOR)
    other = StructureFactory(name="Autre centre")
    manager = member(UserFactory(email="direction@cs.fr"), centre, Role.MANAGER)
    caf = member(UserFactory(email="conseil@caf.fr"), PartnerFactory(departments=["69"]), Role.MANAGER)

    # An editor sees the team but may invite nobody.
    client.force_login(editor)
    page = client.get(team_url(centre)).content.decode()
    assert "direction@cs.fr" in page and "Inviter une personne" not in page
    assert invite(client, centre, "x@cs.fr").status_code == 403
    # A Caf manager manages the Caf's team, not a centre's.
    client.force_login(caf)
    assert invite(client, centre, "x@cs.fr").status_code == 403
    # A centre's manager manages that centre only; a role outside the list is refused at the field.
    client.force_login(manager)
    assert client.get(team_url(other)).status_code == 404  # not even visible to them
    page = invite(client, centre, "x@cs.fr", "admin").content.decode()
    assert "Sélectionnez un choix valide" in page
    assert not Invitation.objects.exists() and not mail.outbox


def test_an_address_already_in_the_team_or_already_invited_gets_a_french_message(client, admin, centre):
    member(UserFactory(email="deja@cs.fr"), centre, Role.VIEWER)
    client.force_login(admin)
    page = invite(client, centre, "DEJA@cs.fr").content.decode()
    assert "deja@cs.fr fait déjà partie de l’équipe" in page
    invite(client, centre, "nouvelle@cs.fr")
    page = invite(client, centre, "nouvelle@cs.fr").content.decode()
    assert "Une invitation attend déjà nouvelle@cs.fr : renvoyez-la depuis la liste." in page
    assert Invitation.objects.count() == 1 and len(mail.outbox) == 1


def test_an_expired_link_is_refused_and_resending_makes_a_new_one(client, admin, centre):
    client.force_login(admin)
    invite(client, centre, "tard@cs.fr")
    old_link = link_in(mail.outbox[-1])
    invitation = Invitation.objects.get()
    Invitation.objects.filter(pk=invitation.pk).update(expires_at=timezone.now() - datetime.timedelta(minutes=1))
    client.logout()
    response = client.get(old_link)
    assert response.status_code == 410 and "a expiré le" in response.content.decode()

    client.force_login(admin)
    assert "expirée le" in client.get(team_url(centre)).content.decode()
    client.post(team_url(centre), {"action": "resend", "invitation": invitation.uuid})
    new_link = link_in(mail.outbox[-1])
    client.logout()
    assert client.get(old_link).status_code == 404
    assert "Créer votre compte" in client.get(new_link).content.decode()


def test_a_cancelled_invitation_stops_its_link_and_its_unused_account(client, admin, centre):
    client.force_login(admin)
    invite(client, centre, "erreur@cs.fr")
    link = link_in(mail.outbox[-1])
    invitation = Invitation.objects.get()
    client.post(team_url(centre), {"action": "cancel", "invitation": invitation.uuid})
    client.logout()
    response = client.get(link)
    assert response.status_code == 410 and "a été annulée" in response.content.decode()
    assert not User.objects.filter(email="erreur@cs.fr").exists()


def test_a_person_with_an_account_signs_in_then_accepts_and_sees_each_membership(client, admin, centre):
    city = PartnerFactory(name="Ville de Villeurbanne", kind=PartnerKind.COMMUNE, communes=["69266"])
    agent = member(UserFactory(email="agent@villeurbanne.fr"), city, Role.VIEWER)
    client.force_login(admin)
    invite(client, centre, "agent@villeurbanne.fr", "viewer")
    link = link_in(mail.outbox[-1])
    client.logout()
    page = client.get(link).content.decode()
    assert "connectez-vous pour accepter" in page and "Créer votre compte" not in page
    # Signed in as someone else: told so, nothing accepted.
    client.force_login(admin)
    assert "vous êtes connecté·e en tant que admin@exemple.fr" in client.get(link).content.decode()
    client.force_login(agent)
    assert client.post(link).status_code == 302
    profile = client.get(reverse("accounts:profile")).content.decode()
    assert "Ville de Villeurbanne" in profile and "Centre social des Buers" in profile


def test_the_last_manager_stays(client, admin, centre):
    manager = member(UserFactory(email="seul@cs.fr"), centre, Role.MANAGER)
    membership = Membership.objects.get(user=manager)
    client.force_login(manager)
    page = client.post(team_url(centre), {"action": "remove", "membership": membership.pk}, follow=True)
    assert "seule responsable de l’équipe" in page.content.decode()
    client.post(
        team_url(centre), {"action": "role", "membership": membership.pk, "role": "editor", "seen_role": "manager"}
    )
    assert Membership.objects.get(pk=membership.pk).role == Role.MANAGER


def test_invitations_expired_a_month_ago_are_deleted_by_the_daily_round(client, admin, centre):
    client.force_login(admin)
    invite(client, centre, "oubli@cs.fr")
    Invitation.objects.update(expires_at=timezone.now() - datetime.timedelta(days=31))
    expire_accounts()
    assert not Invitation.objects.exists()
    assert not User.objects.filter(email="oubli@cs.fr").exists()
