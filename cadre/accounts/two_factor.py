"""Two-factor authentication: time-based one-time codes (django-otp's TOTP device) and recovery codes
(its static device), the session's second-factor state, and the lock after repeated wrong codes.

A session reaches the site once its account's second factor is settled:
- at every sign-in (password, ProConnect, the technical admin's form…) `on_login` forgets any earlier
  verification and notes whether this account owes a code (it has an authenticator, or its rights require one);
- `mark_verified` records how the second factor was given (code, recovery code, ProConnect's own MFA);
- `TwoFactorMiddleware` sends a session that owes a code, or whose account requires one and has none yet, to the
  code or enrolment page, whatever the way the session was opened.
"""

import datetime
import re
from types import SimpleNamespace

import segno
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from cadre.accounts.models import AccountEvent, AccountEventKind

VERIFIED_SESSION_KEY = "cadre_second_factor"
PENDING_SESSION_KEY = "cadre_second_factor_pending"
METHOD_SESSION_KEY = "cadre_login_method"
RECOVERY_CODE_COUNT = 10
DEVICE_NAME = "Application d’authentification"

# What a session's second factor was, as the history says it.
SECOND_FACTORS = {
    "totp": "code de l’application d’authentification",
    "recovery": "code de secours",
    "proconnect": "double authentification ProConnect",
}
LOGIN_METHODS = {"password": "mot de passe", "proconnect": "ProConnect"}


def confirmed_device(user):
    return TOTPDevice.objects.filter(user=user, confirmed=True).order_by("-pk").first()


def has_two_factor(user):
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def recovery_codes_left(user):
    return StaticToken.objects.filter(device__user=user, device__confirmed=True).count()


# The session -------------------------------------------------------------------------------------------------


def on_login(request, user, method):
    """A new sign-in: nothing verified yet; a code is owed if the account has an authenticator or must have one."""
    session = request.session
    session.pop(VERIFIED_SESSION_KEY, None)
    session[METHOD_SESSION_KEY] = method
    if user.requires_two_factor or has_two_factor(user):
        session[PENDING_SESSION_KEY] = True
    else:
        session.pop(PENDING_SESSION_KEY, None)
        AccountEvent.record(user, AccountEventKind.LOGIN, request=request, detail=LOGIN_METHODS.get(method, method))


def mark_verified(request, method):
    """The second factor is given: the session reaches the site (its key changes, as at sign-in)."""
    session = request.session
    session.cycle_key()
    session[VERIFIED_SESSION_KEY] = method
    session.pop(PENDING_SESSION_KEY, None)


def login_completed(request, second_factor):
    """Record the sign-in that the second factor completed."""
    first = LOGIN_METHODS.get(request.session.get(METHOD_SESSION_KEY), "mot de passe")
    AccountEvent.record(
        request.user,
        AccountEventKind.LOGIN,
        request=request,
        detail=f"{first} + {SECOND_FACTORS[second_factor]}",
    )


def is_verified(request):
    return bool(request.session.get(VERIFIED_SESSION_KEY))


def owes_second_factor(request):
    """True when the signed-in user must give a code (or enrol) before reaching anything."""
    user = request.user
    if not user.is_authenticated or is_verified(request):
        return False
    return bool(request.session.get(PENDING_SESSION_KEY)) or user.requires_two_factor


# Lock after wrong codes ----------------------------------------------------------------------------------------


def locked_until(user):
    """When two-factor sign-in opens again after too many wrong codes; None when it is open."""
    window = datetime.timedelta(minutes=settings.CADRE_TWO_FACTOR_LOCK_MINUTES)
    failures = AccountEvent.objects.failed_codes_since_last_success(user, timezone.now() - window)
    if failures.count() < settings.CADRE_TWO_FACTOR_FAILURE_LIMIT:
        return None
    oldest = failures.order_by("-at").values_list("at", flat=True)[settings.CADRE_TWO_FACTOR_FAILURE_LIMIT - 1]
    return oldest + window


# Codes ----------------------------------------------------------------------------------------------------------


def normalise(code):
    return re.sub(r"[\s\-]", "", code or "").lower()


def verify_code(user, code):
    """The method a code proves ("totp" or "recovery"), or None. A recovery code is used up."""
    code = normalise(code)
    if not code:
        return None
    with transaction.atomic():
        if code.isdigit() and len(code) == 6:
            for device in TOTPDevice.objects.select_for_update().filter(user=user, confirmed=True):
                if device.verify_token(code):
                    return "totp"
            return None
        for device in StaticDevice.objects.select_for_update().filter(user=user, confirmed=True):
            if device.verify_token(code):
                return "recovery"
    return None


def pending_device(user):
    """The authenticator being enrolled (kept between page loads, so that the QR code stays the same)."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("-pk").first()
    return device or TOTPDevice.objects.create(user=user, name=DEVICE_NAME, confirmed=False)


def confirm_device(user, device, code):
    """Enrolment: the first code proves the authenticator works. Returns the new recovery codes, or None."""
    with transaction.atomic():
        device = TOTPDevice.objects.select_for_update().get(pk=device.pk, user=user, confirmed=False)
        if not device.verify_token(normalise(code)):
            return None
        replaced = TOTPDevice.objects.filter(user=user, confirmed=True).exclude(pk=device.pk)
        changed = replaced.exists()
        replaced.delete()
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        codes = new_recovery_codes(user)
    kind = AccountEventKind.TWO_FACTOR_DEVICE_CHANGED if changed else AccountEventKind.TWO_FACTOR_ENABLED
    return codes, kind


def new_recovery_codes(user):
    """Replace the recovery codes; returns them (shown once, as « abcd-efgh »)."""
    with transaction.atomic():
        StaticDevice.objects.filter(user=user).delete()
        device = StaticDevice.objects.create(user=user, name="Codes de secours", confirmed=True)
        codes = [StaticToken.random_token() for _ in range(RECOVERY_CODE_COUNT)]
        StaticToken.objects.bulk_create(StaticToken(device=device, token=code) for code in codes)
    return [f"{code[:4]}-{code[4:]}" for code in codes]


def remove_two_factor(user):
    """Delete the user's authenticators and recovery codes (disabling, or an administrator's reset)."""
    with transaction.atomic():
        removed = TOTPDevice.objects.filter(user=user).delete()[0]
        removed += StaticDevice.objects.filter(user=user).delete()[0]
    return removed


def reset_two_factor(user, *, actor, request=None):
    """An administrator's reset after a lost device: the user enrols again at their next sign-in."""
    remove_two_factor(user)
    AccountEvent.record(
        user,
        AccountEventKind.TWO_FACTOR_RESET,
        request=request,
        actor=actor,
        detail=f"par {actor.display_name}" if actor is not None else "en ligne de commande",
    )


# Enrolment page -------------------------------------------------------------------------------------------------


def provisioning(device):
    """What the enrolment page shows: the QR code (SVG made here) and the secret typed by hand."""
    uri = device.config_url
    # A fixed mask pattern: any of the eight reads the same in authenticator apps, and trying all eight to keep
    # the best-scoring one took three quarters of the page's time.
    svg = segno.make(uri, error="m", micro=False, mask=0).svg_inline(
        scale=5,
        border=4,
        dark="#000",
        light="#fff",
        title="Code QR à scanner avec votre application d’authentification",
    )
    secret = uri.split("secret=", 1)[1].split("&", 1)[0]
    grouped = " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))
    return SimpleNamespace(svg=svg, secret=grouped, uri=uri)
