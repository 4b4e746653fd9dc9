"""ProConnect sign-in against a real OpenID Connect provider started on 127.0.0.1 (tests/oidc_provider.py).

The browser's part is played by the test client (Cadre's pages) and `requests` (the provider's authorization
endpoint, which signs the person in at once); Cadre's server side talks HTTP to the provider as in production.
"""

import json
import time
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.urls import reverse

from cadre.accounts import proconnect, two_factor
from cadre.accounts.models import AccountEvent, AccountEventKind, ProConnectIdentity, Role, User
from cadre.partners.models import PartnerKind
from tests.factories import PartnerFactory, UserFactory, member
from tests.oidc_provider import AGENT, CLIENT_ID, LocalProvider

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def provider():
    started = LocalProvider().start()
    yield started
    started.stop()


@pytest.fixture
def op(provider, settings, monkeypatch):
    """ProConnect on, pointing at the local provider (reset for each test)."""
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    provider.reset()
    settings.CADRE_PROCONNECT = provider.settings()
    proconnect._metadata.clear()
    yield provider
    proconnect._metadata.clear()


@pytest.fixture
def agent():
    return UserFactory(email=AGENT["email"], first_name="", last_name="")


def start(client, next_url=None):
    """Click « S’identifier avec ProConnect »: Cadre sends the browser to the authorization endpoint."""
    url = reverse("accounts:proconnect_login") + (f"?next={next_url}" if next_url else "")
    response = client.get(url)
    assert response.status_code == 302, response.content[:500]
    return response["Location"]


def authorize(url):
    """The provider signs the person in and sends the browser back to Cadre's redirect_uri."""
    response = requests.get(url, allow_redirects=False, timeout=5)
    assert response.status_code == 302, response.text
    return response.headers["Location"]


def back_to_cadre(client, location):
    parts = urlsplit(location)
    assert parts.netloc == "testserver" and parts.path == reverse("accounts:proconnect_callback")
    return client.get(f"{parts.path}?{parts.query}")


def sign_in(client, next_url=None):
    return back_to_cadre(client, authorize(start(client, next_url)))


def signed_in_user(client):
    response = client.get(reverse("accounts:profile"))
    if response.status_code != 200:
        return None
    return response.context["user"]


def refused(response, status, words):
    page = response.content.decode()
    assert response.status_code == status, page[:800]
    assert "Connexion avec ProConnect impossible" in page
    assert words in page, page
    return page


# Off by default --------------------------------------------------------------------------------------------------


def test_off_until_the_operator_configures_it(client):
    assert "ProConnect" not in client.get(reverse("accounts:login")).content.decode()
    for name in ("accounts:proconnect_login", "accounts:proconnect_callback", "accounts:proconnect_logged_out"):
        assert client.get(reverse(name)).status_code == 404


# The flow --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("algorithm", ["RS256", "ES256"])
def test_an_existing_account_signs_in_and_its_identity_is_linked(client, op, agent, settings, algorithm):
    op.algorithm = algorithm
    settings.CADRE_PROCONNECT = op.settings()
    assert "S’identifier avec" in client.get(reverse("accounts:login")).content.decode()

    authorization = start(client, next_url="/structures/")
    params = {k: v[0] for k, v in parse_qs(urlsplit(authorization).query).items()}
    assert authorization.startswith(f"{op.issuer}/authorize?")
    assert params["client_id"] == CLIENT_ID and params["response_type"] == "code"
    assert params["scope"] == "openid email given_name usual_name siret idp_id"
    assert params["acr_values"] == "eidas1"
    assert json.loads(params["claims"]) == {"id_token": {"amr": {"essential": True}}}
    assert params["redirect_uri"] == "http://testserver/compte/proconnect/retour/"
    assert len(params["state"]) >= 32 and len(params["nonce"]) >= 32
    assert "code_challenge" not in params  # ProConnect refuses unlisted parameters

    response = back_to_cadre(client, authorize(authorization))
    assert response.status_code == 302 and response["Location"] == "/structures/"
    assert signed_in_user(client) == agent
    [token_call] = op.calls("/token")
    assert token_call["redirect_uri"] == params["redirect_uri"] and token_call["grant_type"] == "authorization_code"
    assert client.session[proconnect.ID_TOKEN_SESSION_KEY] == op.issued_id_tokens[-1]

    identity = ProConnectIdentity.objects.get()
    assert (identity.user, identity.issuer, identity.subject) == (agent, op.issuer, AGENT["sub"])
    assert (identity.siret, identity.idp_id) == (AGENT["siret"], AGENT["idp_id"])
    agent.refresh_from_db()
    assert (agent.first_name, agent.last_name) == ("Camille", "Martin")  # empty names filled, never overwritten
    kinds = list(AccountEvent.objects.filter(user=agent).order_by("at", "pk").values_list("kind", "detail"))
    assert kinds == [
        (AccountEventKind.PROCONNECT_LINKED, f"{AGENT['email']} — SIRET {AGENT['siret']}"),
        (AccountEventKind.LOGIN, "ProConnect"),
    ]
    page = client.get(reverse("accounts:profile")).content.decode()
    assert "Identité ProConnect agente@caf69.example.fr (SIRET 77566600100016)" in page


def test_the_identity_is_found_again_by_its_subject_when_the_email_changes(client, op, agent):
    sign_in(client)
    client.post(reverse("accounts:logout"))
    op.person["email"] = "camille.martin@autre.example.fr"
    assert sign_in(client).status_code == 302
    assert signed_in_user(client) == agent
    assert ProConnectIdentity.objects.count() == 1


def test_an_invited_account_is_activated_by_its_first_sign_in(client, op):
    invited = UserFactory(email=AGENT["email"].upper(), first_name="", is_active=False, last_login=None)
    assert sign_in(client).status_code == 302
    invited.refresh_from_db()
    assert invited.is_active and signed_in_user(client) == invited
    assert invited.first_name == "Camille" and invited.last_name.startswith("Martin")


def test_a_deactivated_account_is_refused(client, op):
    gone = UserFactory(email=AGENT["email"], is_active=False)
    User.objects.filter(pk=gone.pk).update(last_login="2025-01-01T10:00:00+01:00")
    refused(sign_in(client), 403, "est désactivé")
    assert signed_in_user(client) is None
    gone.refresh_from_db()
    assert not gone.is_active and not ProConnectIdentity.objects.exists()
    assert AccountEvent.objects.get(user=gone).kind == AccountEventKind.LOGIN_FAILED


def test_an_unknown_person_is_told_to_ask_for_an_invitation_and_gets_no_account(client, op):
    users = User.objects.count()
    page = refused(sign_in(client), 403, "Aucun compte Cadre n’est ouvert pour l’adresse agente@caf69.example.fr")
    assert "demandez une invitation au ou à la responsable de votre organisme" in page
    assert User.objects.count() == users and not ProConnectIdentity.objects.exists()
    assert signed_in_user(client) is None
    assert proconnect.ID_TOKEN_SESSION_KEY not in client.session


def test_a_password_sign_in_never_reaches_the_provider(client, op, agent):
    # Even with a code and a state in the address, the password form does not start a token exchange.
    url = reverse("accounts:login") + "?code=vole&state=" + "s" * 32
    response = client.post(url, {"username": agent.email, "password": "demo-cadre"})
    assert response.status_code == 302 and signed_in_user(client) == agent
    assert op.requests == []
    client.post(reverse("accounts:logout"))
    assert op.requests == []  # no ProConnect session to end


# Failure cases ---------------------------------------------------------------------------------------------------


def test_a_wrong_state_is_refused_before_any_token_is_asked(client, op, agent):
    location = authorize(start(client))
    tampered = location.replace("state=", "state=X")
    refused(back_to_cadre(client, tampered), 400, "ne correspond à aucune demande partie de ce navigateur")
    assert op.calls("/token") == [] and signed_in_user(client) is None


def test_a_callback_from_another_browser_is_refused(client, op, agent):
    from django.test import Client

    location = authorize(start(client))
    refused(back_to_cadre(Client(), location), 400, "ne correspond à aucune demande")
    assert op.calls("/token") == []


def test_a_replayed_callback_is_refused(client, op, agent):
    location = authorize(start(client))
    assert back_to_cadre(client, location).status_code == 302
    client.post(reverse("accounts:logout"))
    refused(back_to_cadre(client, location), 400, "ne correspond à aucune demande")


def test_a_wrong_nonce_is_refused(client, op, agent):
    op.id_token_claims = {"nonce": "n" * 43}
    refused(sign_in(client), 400, "jeton rejoué ou détourné")
    assert signed_in_user(client) is None and not ProConnectIdentity.objects.exists()
    assert proconnect.ID_TOKEN_SESSION_KEY not in client.session


def test_a_missing_nonce_is_refused(client, op, agent):
    op.id_token_claims = {"nonce": None}
    refused(sign_in(client), 400, "jeton rejoué ou détourné")


def test_an_expired_id_token_is_refused(client, op, agent):
    now = int(time.time())
    op.id_token_claims = {"iat": now - 3600, "exp": now - 600}
    refused(sign_in(client), 400, "La réponse de ProConnect a expiré")
    assert signed_in_user(client) is None and not ProConnectIdentity.objects.exists()


def test_an_id_token_without_expiry_is_refused(client, op, agent):
    op.id_token_claims = {"exp": None}
    refused(sign_in(client), 400, "n’a pas pu être vérifiée")


def test_an_unverified_email_is_not_linked(client, op, agent):
    op.userinfo_claims = {"email_verified": False}
    refused(sign_in(client), 403, "ProConnect indique que l’adresse agente@caf69.example.fr n’a pas été vérifiée")
    assert signed_in_user(client) is None and not ProConnectIdentity.objects.exists()


@pytest.mark.parametrize(
    "tampering",
    [
        {"id_token_claims": {"aud": "un-autre-service"}},
        {"id_token_claims": {"iss": "https://ailleurs.example/api/v2"}},
        {"sign_with_foreign_key": True},
        {"userinfo_claims": {"sub": "quelqu-un-d-autre"}},
    ],
    ids=["other-audience", "other-issuer", "forged-signature", "userinfo-of-another-subject"],
)
def test_a_token_that_fails_verification_is_refused(client, op, agent, tampering):
    for attribute, value in tampering.items():
        setattr(op, attribute, value)
    refused(sign_in(client), 400, "n’a pas pu être vérifiée")
    assert signed_in_user(client) is None and not ProConnectIdentity.objects.exists()


def test_a_token_signed_with_another_algorithm_is_refused(client, op, agent, settings):
    op.algorithm = "ES256"  # registered as RS256
    refused(sign_in(client), 400, "n’a pas pu être vérifiée")


def test_the_provider_saying_no_is_explained(client, op, agent):
    op.deny = True
    refused(sign_in(client), 400, "interrompue ou refusée par ProConnect")


def test_an_unreachable_provider_is_explained(client, op, settings):
    settings.CADRE_PROCONNECT = {**op.settings(), "issuer": "http://127.0.0.1:9/api/v2", "timeout": 2.0}
    response = client.get(reverse("accounts:proconnect_login"))
    refused(response, 503, "ProConnect ne répond pas pour le moment")


# Two-factor and ProConnect ---------------------------------------------------------------------------------------


@pytest.fixture
def caf_agent(agent):
    return member(agent, PartnerFactory(kind=PartnerKind.CAF, departments=["69"]), role=Role.EDITOR)


def test_proconnect_multi_factor_counts_as_the_second_factor(client, op, caf_agent):
    assert caf_agent.requires_two_factor
    op.id_token_claims = {"amr": ["pwd", "totp", "mfa"]}
    sign_in(client)
    assert signed_in_user(client) == caf_agent
    assert client.session[two_factor.VERIFIED_SESSION_KEY] == "proconnect"
    assert AccountEvent.objects.filter(user=caf_agent, kind=AccountEventKind.LOGIN).get().detail == (
        "ProConnect + double authentification ProConnect"
    )


def test_proconnect_with_a_password_only_still_asks_for_the_cadre_code(client, op, caf_agent):
    op.id_token_claims = {"amr": ["pwd"]}
    response = sign_in(client, next_url="/structures/")
    assert response["Location"] == "/structures/"
    response = client.get("/structures/")
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:two_factor_setup") + "?next=")
    assert not AccountEvent.objects.filter(user=caf_agent, kind=AccountEventKind.LOGIN).exists()


# Logout ----------------------------------------------------------------------------------------------------------


def test_logout_ends_the_proconnect_session_with_the_id_token_hint(client, op, agent):
    sign_in(client)
    id_token = op.issued_id_tokens[-1]
    response = client.post(reverse("accounts:logout"))
    assert response.status_code == 302
    end_session = response["Location"]
    assert end_session.startswith(f"{op.issuer}/session/end?")
    params = {k: v[0] for k, v in parse_qs(urlsplit(end_session).query).items()}
    assert params["id_token_hint"] == id_token
    assert params["post_logout_redirect_uri"] == "http://testserver/compte/proconnect/deconnexion/"
    assert len(params["state"]) >= 32
    assert signed_in_user(client) is None  # signed out of Cadre before leaving

    back = requests.get(end_session, allow_redirects=False, timeout=5)
    assert back.status_code == 303
    parts = urlsplit(back.headers["Location"])
    response = client.get(f"{parts.path}?{parts.query}", follow=True)
    assert "Vous êtes déconnecté de Cadre et de ProConnect." in response.content.decode()
    # A forged return says nothing.
    response = client.get(reverse("accounts:proconnect_logged_out") + "?state=faux", follow=True)
    assert "déconnecté de Cadre et de ProConnect" not in response.content.decode()


def test_an_invitation_is_accepted_through_proconnect(client, op):
    """The invited agent chooses ProConnect on the invitation page: ProConnect opens the account made for the
    invitation (same e-mail), the person comes back to the invitation and accepts it."""
    from django.core import mail

    from cadre.accounts.models import Membership

    admin = UserFactory(email="admin@exemple.fr", is_superuser=True)
    prefecture = PartnerFactory(name="Préfecture du Rhône", kind=PartnerKind.STATE, departments=["69"])
    client.force_login(admin)
    client.post(
        reverse("partners:members", args=[prefecture.uuid]),
        {"action": "invite", "email": AGENT["email"], "role": "viewer"},
    )
    client.logout()
    link = next(line for line in mail.outbox[-1].body.splitlines() if "/compte/invitation/" in line)
    path = link.strip().replace("http://testserver", "")
    assert "S’identifier avec" in client.get(path).content.decode()

    response = sign_in(client, next_url=path)
    assert response.status_code == 302 and response["Location"] == path
    invited = User.objects.get(email__iexact=AGENT["email"])
    assert invited.is_active and signed_in_user(client) == invited
    assert client.post(path).status_code == 302
    assert Membership.objects.get(user=invited).partner == prefecture
    assert "Préfecture du Rhône" in client.get(reverse("accounts:welcome")).content.decode()
