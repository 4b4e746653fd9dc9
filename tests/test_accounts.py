"""Accounts: e-mail login, throttling, password reset, API tokens on the account page, cached scopes."""

import pytest
from django.core import mail
from django.urls import reverse

from cadre.accounts.models import ApiToken, User
from cadre.partners.models import PartnerKind
from tests.factories import PartnerFactory, StructureFactory, UserFactory, member

pytestmark = pytest.mark.django_db


def test_login_with_email_is_case_insensitive(client):
    UserFactory(email="directrice@exemple.fr")
    response = client.post(reverse("accounts:login"), {"username": "Directrice@Exemple.fr", "password": "demo-cadre"})
    assert response.status_code == 302
    assert client.get(reverse("accounts:profile")).status_code == 200


def test_wrong_password_message_is_french_and_repeated_failures_lock(client, settings):
    UserFactory(email="cible@exemple.fr")
    url = reverse("accounts:login")
    response = client.post(url, {"username": "cible@exemple.fr", "password": "faux"})
    assert "Adresse électronique ou mot de passe incorrect." in response.content.decode()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        response = client.post(url, {"username": "cible@exemple.fr", "password": "faux"})
    assert "Connexion temporairement bloquée" in response.content.decode()
    # Even the right password is refused while locked.
    response = client.post(url, {"username": "cible@exemple.fr", "password": "demo-cadre"})
    assert "Connexion temporairement bloquée" in response.content.decode()


def test_password_reset_sends_a_working_link(client):
    UserFactory(email="oubli@exemple.fr")
    client.post(reverse("accounts:password_reset"), {"email": "oubli@exemple.fr"})
    assert len(mail.outbox) == 1
    link = next(line for line in mail.outbox[0].body.splitlines() if "/compte/mot-de-passe/" in line)
    response = client.get(link.replace("http://testserver", ""), follow=True)
    form_url = response.redirect_chain[-1][0]
    response = client.post(
        form_url, {"new_password1": "Un-nouveau-secret-2026", "new_password2": "Un-nouveau-secret-2026"}
    )
    assert response.status_code == 302
    assert (
        client.post(
            reverse("accounts:login"), {"username": "oubli@exemple.fr", "password": "Un-nouveau-secret-2026"}
        ).status_code
        == 302
    )


def test_token_created_once_then_revoked(client):
    user = UserFactory()
    client.force_login(user)
    response = client.post(reverse("accounts:profile"), {"name": "script mensuel"})
    secret = response.context["new_secret"]
    assert secret.startswith("cadre_")
    assert ApiToken.objects.authenticate(secret).user == user
    # The secret is shown once: the next page does not contain it.
    assert secret not in client.get(reverse("accounts:profile")).content.decode()
    token = user.api_tokens.get()
    client.post(reverse("accounts:revoke_token", args=[token.uuid]))
    assert ApiToken.objects.authenticate(secret) is None


class TestCachedScope:
    """A user's scope is cached between requests; every change to what they reach is seen at once."""

    @pytest.fixture
    def caf(self):
        return PartnerFactory(kind=PartnerKind.CAF, departments=["69"])

    @pytest.fixture
    def advisor(self, caf):
        return member(UserFactory(), caf)

    def sees(self, client, user, structure):
        client.force_login(user)
        return client.get(reverse("structures:detail", args=[structure.uuid])).status_code == 200

    def test_removed_membership_takes_effect_on_the_next_request(self, client, advisor):
        structure = StructureFactory()
        assert self.sees(client, advisor, structure)
        advisor.memberships.get().delete()
        assert not self.sees(client, advisor, structure)

    def test_partner_territory_change_reaches_its_members(self, client, caf, advisor):
        lyon = StructureFactory()
        marseille = StructureFactory(commune_id="13055")
        assert self.sees(client, advisor, lyon) and not self.sees(client, advisor, marseille)
        caf.departments.set(["13"])
        assert not self.sees(client, advisor, lyon) and self.sees(client, advisor, marseille)
        caf.departments.clear()
        caf.communes.add("69266")
        assert self.sees(client, advisor, lyon)

    def test_partner_kind_change_reaches_its_members(self, client, caf, advisor):
        client.force_login(advisor)
        create = reverse("structures:create")
        assert client.get(create).status_code == 200
        caf.kind = PartnerKind.DEPARTMENT
        caf.save()
        assert client.get(create).status_code == 403

    def test_an_older_copy_of_the_user_saved_later_keeps_the_new_scope(self, client, advisor):
        structure = StructureFactory()
        stale = User.objects.get(pk=advisor.pk)
        assert self.sees(client, stale, structure)
        advisor.memberships.get().delete()
        stale.first_name = "Renommée"
        stale.save()
        assert not self.sees(client, User.objects.get(pk=advisor.pk), structure)
        assert User.objects.get(pk=advisor.pk).first_name == "Renommée"
