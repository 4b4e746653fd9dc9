"""Two-factor authentication: who must use it, enrolment with a server-made QR code, codes at sign-in, the lock
after wrong codes, recovery codes, an administrator's reset, the account's history, and what is left alone (API
tokens). Sign-ins go through the pages here: `force_login`'s shortcut (tests/conftest.py) is taken off."""

import datetime
import io

import pytest
from django.core import mail
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from cadre.accounts import two_factor
from cadre.accounts.models import AccountEvent, AccountEventKind, ApiToken, Role
from cadre.partners.models import PartnerKind
from tests.factories import PartnerFactory, StructureFactory, UserFactory, member
from tests.otp import authenticator, code

pytestmark = pytest.mark.django_db

PASSWORD = "demo-cadre"
SETUP = reverse("accounts:two_factor_setup")
VERIFY = reverse("accounts:two_factor_verify")


@pytest.fixture
def advisor():
    """A Caf advisor: writes on every structure of the Rhône, so two-factor is required."""
    return member(UserFactory(email="conseillere@caf69.example.fr"), PartnerFactory(kind=PartnerKind.CAF))


@pytest.fixture
def director():
    """A structure's director: writes on one structure, two-factor is offered."""
    return member(UserFactory(email="directrice@centre.example.fr"), StructureFactory())


def sign_in(client, user, next_url=""):
    url = reverse("accounts:login") + (f"?next={next_url}" if next_url else "")
    response = client.post(url, {"username": user.email, "password": PASSWORD, "next": next_url})
    assert response.status_code == 302, response.content.decode()[:500]
    return response


def give_code(client, value, next_url=""):
    return client.post(VERIFY, {"code": value, "next": next_url})


def events(user):
    return list(AccountEvent.objects.filter(user=user).order_by("at", "pk").values_list("kind", flat=True))


def unverified(client):
    """The session as before two-factor existed: signed in, second factor never given."""
    session = client.session
    session.pop(two_factor.VERIFIED_SESSION_KEY, None)
    session.save()


# Who must use it -------------------------------------------------------------------------------------------------


def test_required_of_administrators_and_of_whoever_writes_on_more_than_one_structure(settings):
    partner = PartnerFactory(kind=PartnerKind.DEPARTMENT)
    federation = PartnerFactory(kind=PartnerKind.FEDERATION)
    first, second = StructureFactory(), StructureFactory()

    def user(*memberships, **fields):
        account = UserFactory(**fields)
        for organisation, role in memberships:
            member(account, organisation, role=role)
        return account

    required = {
        "administrator": user(is_superuser=True, is_staff=True),
        "technical staff": user(is_staff=True),
        "partner editor": user((partner, Role.EDITOR)),
        "partner manager": user((partner, Role.MANAGER)),
        "federation editor": user((federation, Role.EDITOR)),
        "editor of two structures": user((first, Role.EDITOR), (second, Role.MANAGER)),
    }
    offered = {
        "partner viewer": user((partner, Role.VIEWER)),
        "structure editor": user((first, Role.EDITOR)),
        "structure manager and viewer of another": user((first, Role.MANAGER), (second, Role.VIEWER)),
        "no membership": user(),
    }
    assert [name for name, u in required.items() if not u.requires_two_factor] == []
    assert [name for name, u in offered.items() if u.requires_two_factor] == []
    settings.CADRE_TWO_FACTOR_REQUIRED = False
    assert not any(u.requires_two_factor for u in required.values())


# Enrolment at the first sign-in ----------------------------------------------------------------------------------


def test_a_required_account_enrols_before_reaching_anything(client, advisor):
    sign_in(client, advisor, next_url="/structures/")
    for path in ["/structures/", "/", reverse("accounts:profile"), "/partenaires/", "/admin-technique/"]:
        response = client.get(path)
        assert response.status_code == 302 and response["Location"].startswith(SETUP), path
    # Nor through the API with the browser's session, nor by making an API token on « Mon compte ».
    assert client.get("/api/v1/structures").status_code == 401
    assert client.post(reverse("accounts:profile"), {"name": "contournement"}).status_code == 302
    assert not ApiToken.objects.exists()
    # htmx fragments are told to load the page instead.
    response = client.get("/structures/", HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and response["HX-Redirect"].startswith(SETUP)

    page = client.get(f"{SETUP}?next=/structures/")
    assert page.status_code == 200 and "breadcrumb" not in page.context  # « Mon compte » waits for the code
    html = page.content.decode()
    assert "<svg" in html and "Code QR à scanner avec votre application d’authentification" in html
    device = TOTPDevice.objects.get(user=advisor)
    assert not device.confirmed
    assert page.context["provisioning"].secret.replace(" ", "") in device.config_url
    assert "issuer=Cadre" in device.config_url
    assert client.get(SETUP).context["provisioning"].uri == device.config_url  # same QR code when reloaded

    # A wrong code: a clear French message, nothing saved.
    response = client.post(SETUP, {"code": "000000", "next": "/structures/"})
    assert response.status_code == 200
    assert "Code incorrect : saisissez le code à 6 chiffres" in response.content.decode()
    device.refresh_from_db()
    assert not device.confirmed and not StaticToken.objects.exists()
    assert AccountEvent.objects.filter(kind=AccountEventKind.TWO_FACTOR_ENABLED).count() == 0

    response = client.post(SETUP, {"code": code(device), "next": "/structures/"})
    assert response.status_code == 200
    codes = response.context["codes"]
    assert len(codes) == 10 and len(set(codes)) == 10 and all(len(c) == 9 and c[4] == "-" for c in codes)
    assert response.context["continue_url"] == "/structures/"
    device.refresh_from_db()
    assert device.confirmed
    assert client.get("/structures/").status_code == 200
    assert events(advisor) == [AccountEventKind.TWO_FACTOR_ENABLED, AccountEventKind.LOGIN]
    login = AccountEvent.objects.get(user=advisor, kind=AccountEventKind.LOGIN)
    assert login.detail == "mot de passe + code de l’application d’authentification"
    assert login.ip_address == "127.0.0.1"


def test_a_session_owing_its_code_cannot_enrol_another_authenticator(client, advisor):
    authenticator(advisor)
    sign_in(client, advisor)
    response = client.get(SETUP)
    assert response.status_code == 302 and response["Location"].startswith(VERIFY)
    response = client.post(SETUP, {"code": "123456"})
    assert response.status_code == 302 and TOTPDevice.objects.filter(user=advisor).count() == 1


def test_an_existing_session_of_a_required_account_enrols_first(client, advisor, director):
    client.force_login(advisor)
    unverified(client)  # a session opened before two-factor existed
    response = client.get("/structures/")
    assert response.status_code == 302 and response["Location"].startswith(SETUP)
    client.force_login(director)
    unverified(client)
    assert client.get("/structures/").status_code == 200


# Codes at sign-in ------------------------------------------------------------------------------------------------


def test_sign_in_with_a_code_goes_where_it_was_going(client, advisor):
    device = authenticator(advisor)
    sign_in(client, advisor, next_url="/partenaires/")
    response = client.get("/partenaires/")
    assert response["Location"] == f"{VERIFY}?next=%2Fpartenaires%2F"
    page = client.get(response["Location"]).content.decode()
    assert "Votre mot de passe est vérifié. Saisissez le code à 6 chiffres" in " ".join(page.split())
    assert "ou l’un de vos codes de secours (par exemple : abcd-efgh)" in page
    response = give_code(client, code(device), next_url="/partenaires/")
    assert response.status_code == 302 and response["Location"] == "/partenaires/"
    assert client.get("/partenaires/").status_code == 200
    # The same code is not accepted twice (a second sign-in in the same 30 seconds takes the next one).
    client.post(reverse("accounts:logout"))
    sign_in(client, advisor)
    assert give_code(client, code(device, steps=0)).status_code == 200
    assert give_code(client, code(device, steps=1)).status_code == 302


def test_an_offered_authenticator_is_asked_for_too(client, director):
    device = authenticator(director)
    sign_in(client, director)
    assert client.get("/structures/")["Location"].startswith(VERIFY)
    give_code(client, code(device))
    assert client.get("/structures/").status_code == 200


def test_a_wrong_code_is_explained_and_counted(client, advisor):
    authenticator(advisor)
    sign_in(client, advisor)
    response = give_code(client, "123 456")
    assert response.status_code == 200
    page = response.content.decode()
    assert "Code incorrect : saisissez le code affiché en ce moment par votre application" in page
    assert "Rien n’a été enregistré." in page
    assert client.get("/structures/").status_code == 302
    assert events(advisor) == [AccountEventKind.OTP_FAILED]
    assert AccountEvent.objects.get(user=advisor).detail == "à la connexion"
    response = give_code(client, "")
    assert "Saisissez le code affiché par votre application d’authentification." in response.content.decode()


def test_five_wrong_codes_lock_two_factor_sign_in_for_a_while(client, advisor, settings):
    device = authenticator(advisor)
    sign_in(client, advisor)
    for _ in range(settings.CADRE_TWO_FACTOR_FAILURE_LIMIT - 1):
        assert "Code incorrect" in give_code(client, "000000").content.decode()
    response = give_code(client, "000000")
    page = response.content.decode()
    assert "Double authentification temporairement bloquée" in page and 'name="code"' not in page
    # The right code is refused while locked, in this session and in a new one.
    response = give_code(client, code(device))
    assert "temporairement bloquée" in response.content.decode()
    assert client.get("/structures/").status_code == 302
    client.post(reverse("accounts:logout"))
    sign_in(client, advisor)
    assert "temporairement bloquée" in client.get(VERIFY).content.decode()
    assert events(advisor).count(AccountEventKind.OTP_LOCKED) == 1
    # The lock ends after CADRE_TWO_FACTOR_LOCK_MINUTES.
    AccountEvent.objects.filter(user=advisor).update(at=timezone.now() - datetime.timedelta(minutes=16))
    assert give_code(client, code(device)).status_code == 302
    assert client.get("/structures/").status_code == 200


def test_a_recovery_code_replaces_a_lost_phone_once(client, advisor):
    authenticator(advisor)
    codes = two_factor.new_recovery_codes(advisor)
    sign_in(client, advisor)
    response = give_code(client, f"  {codes[3].upper().replace('-', ' ')} ")
    assert response.status_code == 302
    response = client.get("/", follow=True)
    assert "il vous en reste 9" in response.content.decode()
    assert events(advisor)[-2:] == [AccountEventKind.LOGIN, AccountEventKind.RECOVERY_CODE_USED]
    assert AccountEvent.objects.get(kind=AccountEventKind.LOGIN).detail == "mot de passe + code de secours"
    client.post(reverse("accounts:logout"))
    sign_in(client, advisor)
    assert "Code incorrect" in give_code(client, codes[3]).content.decode()


# « Mon compte » ---------------------------------------------------------------------------------------------------


def test_an_offered_account_enrols_from_its_page_and_may_turn_it_off(client, director):
    client.force_login(director)
    page = client.get(reverse("accounts:profile")).content.decode()
    assert "Non activée" in page and SETUP in page
    client.get(SETUP)
    device = TOTPDevice.objects.get(user=director)
    response = client.post(SETUP, {"code": code(device)})
    assert response.status_code == 200 and len(response.context["codes"]) == 10
    assert response.context["continue_url"] == "/"
    page = client.get(reverse("accounts:profile")).content.decode()
    assert "Activée" in page and "Il vous reste 10 codes de secours." in page
    assert reverse("accounts:two_factor_disable") in page

    # Turning it off takes a current code; a wrong one changes nothing.
    disable = reverse("accounts:two_factor_disable")
    response = client.post(disable, {"code": "000000"})
    assert "Code incorrect" in response.content.decode() and two_factor.has_two_factor(director)
    response = client.post(disable, {"code": code(device, steps=1)})
    assert response.status_code == 302 and not two_factor.has_two_factor(director)
    assert not StaticToken.objects.exists()
    assert events(director)[-1] == AccountEventKind.TWO_FACTOR_DISABLED
    assert client.get(disable).status_code == 404


def test_a_required_account_cannot_turn_it_off(client, advisor):
    authenticator(advisor)
    client.force_login(advisor)
    page = client.get(reverse("accounts:profile")).content.decode()
    assert "obligatoire pour votre compte" in page
    assert reverse("accounts:two_factor_disable") not in page
    assert client.get(reverse("accounts:two_factor_disable")).status_code == 403


def test_new_recovery_codes_replace_the_old_ones(client, advisor):
    authenticator(advisor)
    old = two_factor.new_recovery_codes(advisor)
    client.force_login(advisor)
    response = client.post(reverse("accounts:two_factor_recovery_codes"))
    new = response.context["codes"]
    assert len(new) == 10 and not set(new) & set(old)
    assert two_factor.verify_code(advisor, old[0]) is None
    assert two_factor.verify_code(advisor, new[0]) == "recovery"
    assert events(advisor)[-1] == AccountEventKind.RECOVERY_CODES


def test_changing_phone_keeps_the_old_one_until_the_new_one_works(client, advisor):
    old = authenticator(advisor)
    client.force_login(advisor)
    client.get(SETUP)
    new = TOTPDevice.objects.get(user=advisor, confirmed=False)
    client.post(SETUP, {"code": "000000"})
    assert TOTPDevice.objects.get(user=advisor, confirmed=True) == old
    client.post(SETUP, {"code": code(new)})
    assert list(TOTPDevice.objects.filter(user=advisor)) == [new]
    assert events(advisor)[-1] == AccountEventKind.TWO_FACTOR_DEVICE_CHANGED


def test_sign_ins_refusals_password_and_two_factor_changes_are_on_mon_compte(client, director):
    client.post(reverse("accounts:login"), {"username": director.email.upper(), "password": "faux"})
    sign_in(client, director)
    client.post(
        reverse("accounts:password_change"),
        {
            "old_password": PASSWORD,
            "new_password1": "Un-nouveau-secret-2026",
            "new_password2": "Un-nouveau-secret-2026",
        },
    )
    client.post(reverse("accounts:logout"))
    client.post(reverse("accounts:password_reset"), {"email": director.email})
    link = next(line for line in mail.outbox[0].body.splitlines() if "/compte/mot-de-passe/" in line)
    form_url = client.get(link.replace("http://testserver", ""), follow=True).redirect_chain[-1][0]
    client.post(form_url, {"new_password1": "Encore-un-secret-2026", "new_password2": "Encore-un-secret-2026"})
    client.post(reverse("accounts:login"), {"username": director.email, "password": "Encore-un-secret-2026"})
    assert events(director) == [
        AccountEventKind.LOGIN_FAILED,
        AccountEventKind.LOGIN,
        AccountEventKind.PASSWORD_CHANGED,
        AccountEventKind.PASSWORD_RESET,
        AccountEventKind.LOGIN,
    ]
    page = client.get(reverse("accounts:profile")).content.decode()
    for words in ["Connexion refusée", "mot de passe erroné", "Mot de passe changé", "Mot de passe réinitialisé"]:
        assert words in page, words
    assert "127.0.0.1" in page


# An administrator's reset ----------------------------------------------------------------------------------------


def test_an_administrator_resets_a_lost_device_and_it_is_in_the_history(client, advisor):
    authenticator(advisor)
    two_factor.new_recovery_codes(advisor)
    admin = UserFactory(email="admin@exemple.fr", first_name="Ada", last_name="Admin", is_superuser=True, is_staff=True)
    client.force_login(admin)
    response = client.post(
        reverse("admin:accounts_user_changelist"),
        {"action": "reset_two_factor", "_selected_action": [advisor.pk]},
        follow=True,
    )
    assert "Double authentification réinitialisée pour 1 compte(s)" in response.content.decode()
    assert not two_factor.has_two_factor(advisor) and not StaticToken.objects.filter(device__user=advisor).exists()
    reset = AccountEvent.objects.get(user=advisor, kind=AccountEventKind.TWO_FACTOR_RESET)
    assert reset.actor == admin and reset.detail == "par Ada Admin"
    # The history is on the user's page in the technical admin and on their « Mon compte ».
    assert (
        "réinitialisée par un administrateur"
        in client.get(reverse("admin:accounts_user_change", args=[advisor.pk])).content.decode()
    )
    client.force_login(advisor)
    assert "par Ada Admin" in client.get(reverse("accounts:profile")).content.decode()
    # At the next sign-in the advisor enrols a new phone.
    client.post(reverse("accounts:logout"))
    sign_in(client, advisor)
    assert client.get("/structures/")["Location"].startswith(SETUP)


def test_the_last_administrator_can_be_reset_from_the_command_line(advisor):
    authenticator(advisor)
    output = io.StringIO()
    call_command("reset_two_factor", advisor.email.upper(), stdout=output)
    assert "réinitialisée" in output.getvalue()
    assert not two_factor.has_two_factor(advisor)
    assert AccountEvent.objects.get(user=advisor).detail == "en ligne de commande"


# What is left alone ----------------------------------------------------------------------------------------------


def test_api_tokens_are_unaffected(client, advisor):
    _, secret = ApiToken.issue(advisor, "script")
    authenticator(advisor)
    headers = {"HTTP_AUTHORIZATION": f"Bearer {secret}"}
    assert client.get("/api/v1/structures", **headers).status_code == 200
    sign_in(client, advisor)  # a session owing its code does not stop the token either
    assert client.get("/api/v1/structures", **headers).status_code == 200
    assert client.get("/api/v1/structures").status_code == 401


def test_off_for_everyone_when_the_operator_says_so(client, advisor, settings):
    settings.CADRE_TWO_FACTOR_REQUIRED = False
    sign_in(client, advisor)
    assert client.get("/structures/").status_code == 200
