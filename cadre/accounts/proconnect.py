"""ProConnect sign-in (OpenID Connect, authorization code flow) through mozilla-django-oidc.

On when the operator sets CADRE_PROCONNECT_ISSUER, _CLIENT_ID and _CLIENT_SECRET; the endpoints come from
`<issuer>/.well-known/openid-configuration` (kept an hour per process). What this module adds to the library:
- the ID token is checked in full (OpenID Connect Core 3.1.3.7): signature by a key of the provider's JWKS with
  the registered algorithm, issuer, audience, expiry and issue time, nonce; the userinfo answer (a signed JWT at
  ProConnect) is checked the same way and must speak of the same `sub`;
- nobody is given an account: a ProConnect identity is linked to an existing or invited account by its verified
  e-mail (`link_by_proconnect`), and an unknown person is told whom to ask for an invitation;
- ProConnect's own multi-factor sign-in (`amr` containing « mfa ») counts as the second factor; otherwise an
  account that owes one gives its Cadre code after ProConnect, as after a password;
- logging out ends the ProConnect session too (end-session endpoint with `id_token_hint`).
"""

import json
import logging
import secrets
import time

import jwt
import requests
from django.conf import settings
from django.contrib import auth, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import SuspiciousOperation
from django.db import transaction
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from django.utils.http import urlencode
from django.views.generic import View
from mozilla_django_oidc.auth import OIDCAuthenticationBackend
from mozilla_django_oidc.utils import import_from_settings
from mozilla_django_oidc.views import OIDCAuthenticationCallbackView, OIDCAuthenticationRequestView

from cadre.accounts import two_factor
from cadre.accounts.models import AccountEvent, AccountEventKind, ProConnectIdentity

log = logging.getLogger(__name__)

DISCOVERY_SECONDS = 3600
LEEWAY_SECONDS = 60
# `amr` values by which ProConnect says the person used two factors.
MFA_AMR = {"mfa"}
LOGOUT_STATE_SESSION_KEY = "proconnect_logout_state"
ID_TOKEN_SESSION_KEY = "oidc_id_token"

# Why a sign-in is refused, as the person reads it (and the HTTP status of that page).
REFUSALS = {
    "unavailable": (
        503,
        "ProConnect ne répond pas pour le moment. Réessayez dans quelques minutes, "
        "ou connectez-vous avec votre adresse électronique et votre mot de passe.",
    ),
    "denied": (400, "La connexion avec ProConnect a été interrompue ou refusée par ProConnect."),
    "state": (
        400,
        "La connexion avec ProConnect n’a pas abouti : sa réponse ne correspond à aucune demande partie de ce "
        "navigateur, ou la demande a expiré. Recommencez depuis la page de connexion.",
    ),
    "nonce": (
        400,
        "La réponse de ProConnect ne correspond pas à la demande de ce navigateur (jeton rejoué ou détourné). "
        "Par sécurité, la connexion est refusée : recommencez depuis la page de connexion.",
    ),
    "expired": (400, "La réponse de ProConnect a expiré. Recommencez depuis la page de connexion."),
    "token": (
        400,
        "La réponse de ProConnect n’a pas pu être vérifiée (signature, émetteur ou destinataire). Par sécurité, "
        "la connexion est refusée : recommencez depuis la page de connexion.",
    ),
    "no_email": (403, "ProConnect n’a pas transmis d’adresse électronique : Cadre ne peut pas retrouver votre compte."),
    "unverified_email": (
        403,
        "ProConnect indique que l’adresse {email} n’a pas été vérifiée : Cadre ne la rapproche d’aucun compte. "
        "Faites-la vérifier auprès de votre fournisseur d’identité, ou connectez-vous avec votre mot de passe.",
    ),
    "unknown": (
        403,
        "Aucun compte Cadre n’est ouvert pour l’adresse {email}. Cadre ne crée pas de compte de lui-même : "
        "demandez une invitation au ou à la responsable de votre organisme dans Cadre (partenaire ou "
        "fédération), ou écrivez à {contact}.",
    ),
    "inactive": (
        403,
        "Le compte Cadre de l’adresse {email} est désactivé. Adressez-vous au ou à la responsable de votre "
        "organisme dans Cadre, ou écrivez à {contact}.",
    ),
}


class ProConnectError(Exception):
    """A refused sign-in; `reason` is a key of REFUSALS."""

    def __init__(self, reason, detail="", email=""):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.email = email


def config():
    return settings.CADRE_PROCONNECT


def enabled():
    conf = config()
    return bool(conf.get("issuer") and conf.get("client_id") and conf.get("client_secret"))


_metadata = {}


def provider_metadata():
    """The provider's discovery document (checked: same issuer, the endpoints Cadre calls)."""
    issuer = config()["issuer"].rstrip("/")
    cached = _metadata.get(issuer)
    if cached is not None and cached[0] > time.monotonic():
        return cached[1]
    try:
        response = requests.get(f"{issuer}/.well-known/openid-configuration", timeout=config()["timeout"])
        response.raise_for_status()
        document = response.json()
    except (requests.RequestException, ValueError) as error:
        raise ProConnectError("unavailable", f"discovery: {error}")
    if not isinstance(document, dict) or str(document.get("issuer", "")).rstrip("/") != issuer:
        raise ProConnectError("unavailable", "discovery: another issuer")
    missing = [
        k for k in ("authorization_endpoint", "token_endpoint", "userinfo_endpoint", "jwks_uri") if not document.get(k)
    ]
    if missing:
        raise ProConnectError("unavailable", f"discovery: no {', '.join(missing)}")
    _metadata[issuer] = (time.monotonic() + DISCOVERY_SECONDS, document)
    return document


ENDPOINTS = {
    "OIDC_OP_AUTHORIZATION_ENDPOINT": "authorization_endpoint",
    "OIDC_OP_TOKEN_ENDPOINT": "token_endpoint",
    "OIDC_OP_USER_ENDPOINT": "userinfo_endpoint",
    "OIDC_OP_JWKS_ENDPOINT": "jwks_uri",
}


def oidc_setting(attr, *args):
    """mozilla-django-oidc's settings, from CADRE_PROCONNECT and the discovery document."""
    if attr in ENDPOINTS:
        return provider_metadata()[ENDPOINTS[attr]]
    conf = config()
    extra = {"claims": json.dumps({"id_token": {"amr": {"essential": True}}})}
    if conf.get("acr_values"):
        extra["acr_values"] = conf["acr_values"]
    values = {
        "OIDC_RP_CLIENT_ID": conf["client_id"],
        "OIDC_RP_CLIENT_SECRET": conf["client_secret"],
        "OIDC_RP_SIGN_ALGO": conf["sign_algo"],
        "OIDC_RP_SCOPES": conf["scopes"],
        "OIDC_RP_IDP_SIGN_KEY": None,
        "OIDC_AUTH_REQUEST_EXTRA_PARAMS": extra,
        "OIDC_USE_NONCE": True,
        # ProConnect refuses any authorization parameter it does not list (code_challenge among them).
        "OIDC_USE_PKCE": False,
        "OIDC_STORE_ID_TOKEN": True,
        "OIDC_STORE_ACCESS_TOKEN": False,
        "OIDC_CREATE_USER": False,
        "OIDC_ALLOW_UNSECURED_JWT": False,
        "OIDC_VERIFY_KID": True,
        "OIDC_VERIFY_SSL": True,
        "OIDC_PROXY": None,
        "OIDC_TOKEN_USE_BASIC_AUTH": False,
        "OIDC_TIMEOUT": conf["timeout"],
        "OIDC_AUTHENTICATION_CALLBACK_URL": "accounts:proconnect_callback",
        "OIDC_REDIRECT_FIELD_NAME": "next",
    }
    if attr in values:
        return values[attr]
    return import_from_settings(attr, *args)


def asserts_mfa(id_claims):
    amr = id_claims.get("amr") or []
    if isinstance(amr, str):
        amr = amr.split()
    return bool(MFA_AMR & set(amr))


# Linking an identity to an account -------------------------------------------------------------------------------


def link_by_proconnect(*, issuer, claims, request=None):
    """The account a ProConnect identity signs in to: the one it was linked to, else the existing or invited
    account of its verified e-mail (linked now). Never creates an account; raises ProConnectError."""
    User = get_user_model()
    email = str(claims.get("email") or "").strip().lower()
    if not email:
        raise ProConnectError("no_email")
    if claims.get("email_verified") in (False, "false", 0):
        raise ProConnectError("unverified_email", email=email)
    identity = ProConnectIdentity.objects.select_related("user").filter(issuer=issuer, subject=claims["sub"]).first()
    user = identity.user if identity is not None else User.objects.filter(email__iexact=email).first()
    if user is None:
        raise ProConnectError("unknown", email=email)
    # An inactive account that never signed in is an invitation not yet accepted; one that did was deactivated.
    if not user.is_active and user.last_login is not None:
        AccountEvent.record(
            user, AccountEventKind.LOGIN_FAILED, request=request, detail="ProConnect : compte désactivé"
        )
        raise ProConnectError("inactive", email=email)
    return link_proconnect_identity(user, issuer=issuer, claims=claims, request=request)


def link_proconnect_identity(user, *, issuer, claims, request=None):
    """Link (or refresh) the ProConnect identity `claims` to `user`, activating an invited account and filling
    its empty names. The invitation module calls this when an invitation is accepted through ProConnect."""
    with transaction.atomic():
        identity, created = ProConnectIdentity.objects.update_or_create(
            issuer=issuer,
            subject=claims["sub"],
            defaults={
                "user": user,
                "email": str(claims.get("email") or user.email).lower(),
                "siret": str(claims.get("siret") or "")[:14],
                "idp_id": str(claims.get("idp_id") or "")[:255],
                "last_login_at": timezone.now(),
            },
        )
        changed = []
        if not user.is_active:
            user.is_active = True
            changed.append("is_active")
        for field, claim in (("first_name", "given_name"), ("last_name", "usual_name")):
            if not getattr(user, field) and claims.get(claim):
                setattr(user, field, str(claims[claim])[:150])
                changed.append(field)
        if changed:
            user.save(update_fields=changed)
        if created:
            siret = f" — SIRET {identity.siret}" if identity.siret else ""
            AccountEvent.record(
                user, AccountEventKind.PROCONNECT_LINKED, request=request, detail=f"{identity.email}{siret}"
            )
    return user


# The authentication backend -------------------------------------------------------------------------------------


class ProConnectBackend(OIDCAuthenticationBackend):
    """Answers only the callback's `authenticate(request, nonce=…)`: a password sign-in never reaches it (its
    arguments do not match), and with ProConnect off it answers nothing."""

    def __init__(self, *args, **kwargs):
        # Django builds its backends at every sign-in and session load: read nothing from the network here.
        self.UserModel = get_user_model()

    get_settings = staticmethod(oidc_setting)
    OIDC_RP_IDP_SIGN_KEY = None
    OIDC_OP_TOKEN_ENDPOINT = property(lambda self: self.get_settings("OIDC_OP_TOKEN_ENDPOINT"))
    OIDC_OP_USER_ENDPOINT = property(lambda self: self.get_settings("OIDC_OP_USER_ENDPOINT"))
    OIDC_OP_JWKS_ENDPOINT = property(lambda self: self.get_settings("OIDC_OP_JWKS_ENDPOINT"))
    OIDC_RP_CLIENT_ID = property(lambda self: self.get_settings("OIDC_RP_CLIENT_ID"))
    OIDC_RP_CLIENT_SECRET = property(lambda self: self.get_settings("OIDC_RP_CLIENT_SECRET"))
    OIDC_RP_SIGN_ALGO = property(lambda self: self.get_settings("OIDC_RP_SIGN_ALGO"))

    def authenticate(self, request, nonce, code_verifier=None):
        if request is None or not enabled():
            return None
        try:
            return super().authenticate(request, nonce=nonce, code_verifier=code_verifier)
        except requests.RequestException as error:
            raise ProConnectError("unavailable", str(error))

    def get_user(self, user_id):
        # The library's version would keep a deactivated account signed in.
        return ModelBackend.get_user(self, user_id)

    def signing_key(self, token):
        algorithm = self.OIDC_RP_SIGN_ALGO
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as error:
            raise ProConnectError("token", f"header: {error}")
        if header.get("alg") != algorithm:
            raise ProConnectError("token", f"algorithm {header.get('alg')!r}, expected {algorithm}")
        if algorithm.startswith("HS"):
            return self.OIDC_RP_CLIENT_SECRET
        try:
            return self.retrieve_matching_jwk(token)
        except SuspiciousOperation as error:
            raise ProConnectError("token", str(error))
        except (KeyError, jwt.PyJWTError) as error:
            raise ProConnectError("token", f"jwks: {error}")

    def decode(self, token, *, strict):
        """A signed JWT's claims. `strict` (the ID token): issuer, audience, expiry, issue time and subject are
        required; otherwise (userinfo) those present are checked."""
        key = self.signing_key(token)
        issuer = provider_metadata()["issuer"]
        required = ["iss", "aud", "exp", "iat", "sub"] if strict else ["sub"]
        try:
            present = jwt.decode(token, options={"verify_signature": False}) if not strict else {}
            return jwt.decode(
                token,
                key,
                algorithms=[self.OIDC_RP_SIGN_ALGO],
                audience=self.OIDC_RP_CLIENT_ID if strict or "aud" in present else None,
                issuer=issuer if strict or "iss" in present else None,
                leeway=LEEWAY_SECONDS,
                options={"require": required, "verify_aud": strict or "aud" in present},
            )
        except jwt.ExpiredSignatureError:
            raise ProConnectError("expired")
        except jwt.PyJWTError as error:
            raise ProConnectError("token", str(error))

    def verify_token(self, token, **kwargs):
        """The ID token (OpenID Connect Core 3.1.3.7), and its nonce against the one kept in the session."""
        if not token:
            raise ProConnectError("token", "no id_token")
        claims = self.decode(token, strict=True)
        nonce = kwargs.get("nonce")
        if not nonce or not constant_time_compare(str(claims.get("nonce", "")), str(nonce)):
            raise ProConnectError("nonce")
        return claims

    def get_userinfo(self, access_token, id_token, payload):
        response = requests.get(
            self.OIDC_OP_USER_ENDPOINT,
            headers={"Authorization": f"Bearer {access_token}"},
            timeout=config()["timeout"],
        )
        response.raise_for_status()
        if response.headers.get("content-type", "").lower().startswith("application/jwt"):
            claims = self.decode(response.text, strict=False)
        else:
            claims = response.json()
        if not isinstance(claims, dict) or claims.get("sub") != payload.get("sub"):
            raise ProConnectError("token", "userinfo for another subject")
        return claims

    def get_or_create_user(self, access_token, id_token, payload):
        claims = self.get_userinfo(access_token, id_token, payload)
        user = link_by_proconnect(issuer=payload["iss"], claims=claims, request=self.request)
        user.proconnect_mfa = asserts_mfa(payload)
        return user


# Views ----------------------------------------------------------------------------------------------------------


def refusal(request, error):
    status, message = REFUSALS.get(error.reason, REFUSALS["token"])
    log.warning("ProConnect sign-in refused: %s", error)
    request.session.pop(ID_TOKEN_SESSION_KEY, None)
    message = message.format(email=error.email, contact=settings.CADRE_OPERATOR["contact_email"])
    context = {"title": "Connexion avec ProConnect impossible", "message": message, "reason": error.reason}
    return render(request, "accounts/proconnect_refused.html", context, status=status)


class ProConnectLoginView(OIDCAuthenticationRequestView):
    """« S’identifier avec ProConnect »: off → 404; a signed-in visitor goes home."""

    def __init__(self, **kwargs):
        View.__init__(self, **kwargs)

    get_settings = staticmethod(oidc_setting)
    OIDC_OP_AUTH_ENDPOINT = property(lambda self: self.get_settings("OIDC_OP_AUTHORIZATION_ENDPOINT"))
    OIDC_RP_CLIENT_ID = property(lambda self: self.get_settings("OIDC_RP_CLIENT_ID"))

    def get(self, request):
        if not enabled():
            raise Http404("ProConnect n'est pas activé.")
        if request.user.is_authenticated:
            return redirect(settings.LOGIN_REDIRECT_URL)
        try:
            return super().get(request)
        except ProConnectError as error:
            return refusal(request, error)


class ProConnectCallbackView(OIDCAuthenticationCallbackView):
    """The redirect_uri: checks the state, then the backend checks the tokens and finds the account."""

    get_settings = staticmethod(oidc_setting)

    def get(self, request):
        if not enabled():
            raise Http404("ProConnect n'est pas activé.")
        try:
            return super().get(request)
        except SuspiciousOperation as error:  # a state that no request of this browser sent
            return refusal(request, ProConnectError("state", str(error)))
        except ProConnectError as error:
            return refusal(request, error)

    def login_failure(self):
        request = self.request
        if request.GET.get("error"):
            reason = "denied"
        elif "oidc_states" not in request.session:
            reason = "state"
        else:
            reason = "token"
        return refusal(request, ProConnectError(reason, request.GET.get("error", "")))

    def login_success(self):
        request = self.request
        auth.login(request, self.user)  # the sign-in signal notes whether a Cadre code is still owed
        if getattr(self.user, "proconnect_mfa", False):
            two_factor.mark_verified(request, "proconnect")
            two_factor.login_completed(request, "proconnect")
        return HttpResponseRedirect(self.success_url)


def end_session_url(request, id_token):
    """Where to send the browser so that ProConnect ends its session too (None if it has no such endpoint)."""
    try:
        endpoint = provider_metadata().get("end_session_endpoint")
    except ProConnectError as error:
        log.warning("ProConnect logout skipped: %s", error)
        return None
    if not endpoint:
        return None
    state = secrets.token_urlsafe(32)
    request.session[LOGOUT_STATE_SESSION_KEY] = state
    params = {
        "id_token_hint": id_token,
        "state": state,
        "post_logout_redirect_uri": request.build_absolute_uri(reverse("accounts:proconnect_logged_out")),
    }
    return f"{endpoint}?{urlencode(params)}"


def logged_out(request):
    """post_logout_redirect_uri: ProConnect sends the browser back here with the state it was given."""
    if not enabled():
        raise Http404("ProConnect n'est pas activé.")
    expected = request.session.pop(LOGOUT_STATE_SESSION_KEY, None)
    if expected and constant_time_compare(expected, request.GET.get("state", "")):
        messages.success(request, "Vous êtes déconnecté de Cadre et de ProConnect.")
    return redirect(settings.LOGOUT_REDIRECT_URL)
