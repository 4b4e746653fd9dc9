"""Keep cached scopes right: whatever changes what a user reaches gives them a new scope key.

Bulk writes (`bulk_create`, `update`) send no signal: code that changes memberships or partner
territories that way calls `refresh_scopes` itself.

Sign-ins also pass here: each one settles the session's second factor, and refused passwords are recorded.
"""

from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.db.models.signals import m2m_changed, post_delete, post_save

from cadre.accounts.models import AccountEvent, AccountEventKind, Membership, User, refresh_scopes
from cadre.partners.models import Partner


def membership_changed(sender, instance, **kwargs):
    refresh_scopes(User.objects.filter(pk=instance.user_id))


def partner_saved(sender, instance, created, raw=False, **kwargs):
    # Its kind decides what its members reach; a new partner has no members yet.
    if not created and not raw:
        refresh_scopes(User.objects.filter(memberships__partner=instance))


def partner_territory_changed(sender, instance, action, reverse, pk_set, **kwargs):
    if not action.startswith("post_"):
        return
    if not reverse:
        users = User.objects.filter(memberships__partner=instance)
    elif pk_set is None:  # a département's or commune's partners were all removed
        users = User.objects.filter(memberships__partner__isnull=False)
    else:
        users = User.objects.filter(memberships__partner__in=pk_set)
    refresh_scopes(users)


def signed_in(sender, request, user, **kwargs):
    """Every sign-in, whatever its path: the second factor is settled afresh (see cadre.accounts.two_factor)."""
    from cadre.accounts import two_factor

    if request is None or not hasattr(request, "session"):
        return
    method = "proconnect" if getattr(user, "backend", "").endswith(".ProConnectBackend") else "password"
    two_factor.on_login(request, user, method)


def sign_in_failed(sender, credentials, request=None, **kwargs):
    """A refused password, recorded on the account it names (unknown addresses are axes' business only)."""
    email = credentials.get("username")
    if request is None or not email:
        return
    user = User.objects.filter(email__iexact=email).first()
    if user is not None:
        locked = getattr(request, "axes_locked_out", False)
        detail = "trop de tentatives : connexion bloquée" if locked else "mot de passe erroné"
        AccountEvent.record(user, AccountEventKind.LOGIN_FAILED, request=request, detail=detail)


def connect():
    user_logged_in.connect(signed_in, dispatch_uid="accounts-signed-in")
    user_login_failed.connect(sign_in_failed, dispatch_uid="accounts-sign-in-failed")
    post_save.connect(membership_changed, sender=Membership, dispatch_uid="scope-membership-saved")
    post_delete.connect(membership_changed, sender=Membership, dispatch_uid="scope-membership-deleted")
    post_save.connect(partner_saved, sender=Partner, dispatch_uid="scope-partner-saved")
    for through in (Partner.departments.through, Partner.communes.through):
        m2m_changed.connect(partner_territory_changed, sender=through, dispatch_uid=f"scope-{through.__name__}")
