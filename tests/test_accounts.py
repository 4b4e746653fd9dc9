"""Accounts: e-mail login, throttling, password reset, API tokens on the account page."""

import pytest
from django.core import mail
from django.urls import reverse

from cadre.accounts.models import ApiToken
from tests.factories import UserFactory

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
