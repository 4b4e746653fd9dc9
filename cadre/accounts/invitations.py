"""Teams managed by the people in charge: invitations by e-mail, roles changed, members removed.

The rules: an administrator manages every team; a manager (« responsable ») of a partner or a structure manages
that team and nobody else's; nobody gives a right they do not hold (a manager gives at most « responsable » in
their own team). An invitation is a one-time link (its secret is never stored) that expires after
CADRE_INVITATION_DAYS days; the invited address gets an account at once, inactive until the link is used, so that
signing in with ProConnect under that address also opens it (cadre.accounts.proconnect)."""

import datetime
import hashlib
import secrets

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from cadre.accounts.models import Invitation, Membership, Role, User

ROLE_RANK = {Role.VIEWER: 1, Role.EDITOR: 2, Role.MANAGER: 3}


def _field(organisation):
    """« partner » or « structure »: the Membership and Invitation field that names `organisation`."""
    return "partner" if organisation._meta.model_name == "partner" else "structure"


def role_in(user, organisation):
    """The user's role in `organisation`'s team, or None."""
    field = _field(organisation)
    for partner, _, structure, role in user.scope.memberships:
        if (partner if field == "partner" else structure) == organisation.pk:
            return role
    return None


def can_view_members(user, organisation):
    return user.is_authenticated and user.is_active and (user.is_administrator or role_in(user, organisation))


def can_manage_members(user, organisation):
    return (
        user.is_authenticated
        and user.is_active
        and (user.is_administrator or role_in(user, organisation) == Role.MANAGER)
    )


def grantable_roles(user, organisation):
    """The roles `user` may give in `organisation`'s team: none above their own."""
    if not can_manage_members(user, organisation):
        return []
    if user.is_administrator:
        return list(Role)
    ceiling = ROLE_RANK[role_in(user, organisation)]
    return [role for role in Role if ROLE_RANK[role] <= ceiling]


def _digest(secret):
    return hashlib.sha256(secret.encode()).hexdigest()


def find(secret):
    return (
        Invitation.objects.select_related("user", "partner", "structure", "invited_by")
        .filter(digest=_digest(secret))
        .first()
    )


def _check_role(by, organisation, role):
    if role not in grantable_roles(by, organisation):
        raise ValidationError({"role": "Vous ne pouvez pas donner un rôle plus élevé que le vôtre dans cette équipe."})


def _send(invitation, secret, request):
    link = request.build_absolute_uri(reverse("accounts:invitation", args=[secret]))
    context = {
        "invitation": invitation,
        "link": link,
        "by": invitation.invited_by,
        "service_title": settings.CADRE_OPERATOR["service_title"],
    }
    send_mail(
        f"Invitation à rejoindre {invitation.organisation} sur {settings.CADRE_OPERATOR['service_title']}",
        render_to_string("accounts/email/invitation.txt", context),
        None,
        [invitation.email],
    )


def _new_secret(invitation):
    secret = secrets.token_urlsafe(32)
    now = timezone.now()
    invitation.digest = _digest(secret)
    invitation.sent_at = now
    invitation.expires_at = now + datetime.timedelta(days=settings.CADRE_INVITATION_DAYS)
    return secret


def invite(*, by, organisation, email, role, request):
    """Invite `email` into `organisation`'s team with `role`; raises ValidationError (French, by field)."""
    email = User.objects.normalize_email(email.strip()).lower()
    _check_role(by, organisation, role)
    field = _field(organisation)
    user = User.objects.filter(email__iexact=email).first()
    if user is not None and user.erased_at is not None:
        user = None
    if user is not None and Membership.objects.filter(user=user, **{field: organisation}).exists():
        raise ValidationError({"email": f"{email} fait déjà partie de l’équipe : changez son rôle dans la liste."})
    if Invitation.objects.pending().filter(email__iexact=email, **{field: organisation}).exists():
        raise ValidationError({"email": f"Une invitation attend déjà {email} : renvoyez-la depuis la liste."})
    with transaction.atomic():
        if user is None:
            user = User.objects.create_user(email, password=None, is_active=False)
        invitation = Invitation(email=email, role=role, user=user, invited_by=by, **{field: organisation})
        secret = _new_secret(invitation)
        invitation.save()
        # Sent inside the transaction: if the mail server refuses it, no invitation is left without its e-mail.
        _send(invitation, secret, request)
    return invitation


def resend(invitation, *, by, request):
    """A new link (the old one stops working) and a new deadline."""
    if invitation.accepted_at or invitation.cancelled_at:
        raise ValidationError("Cette invitation n’est plus en attente : rien n’a été renvoyé.")
    secret = _new_secret(invitation)
    invitation.invited_by = by
    invitation.save(update_fields=["digest", "sent_at", "expires_at", "invited_by"])
    _send(invitation, secret, request)


def cancel(invitation):
    if invitation.accepted_at:
        raise ValidationError("Cette invitation a déjà été acceptée : retirez la personne de l’équipe.")
    with transaction.atomic():
        invitation.cancelled_at = timezone.now()
        invitation.save(update_fields=["cancelled_at"])
        forget_unused_account(invitation.user)


def forget_unused_account(user):
    """An account made for invitations that were never used, with none left pending, is deleted."""
    if (
        not user.is_active
        and user.last_login is None
        and not user.memberships.exists()
        and not user.invitations.pending().exists()
        and not user.invitations.filter(accepted_at__isnull=False).exists()
    ):
        user.delete()


def refusal(invitation, user=None):
    """Why `invitation` cannot be used (by `user`, when signed in), in French; None when it can."""
    if invitation is None:
        return "Ce lien d’invitation n’est pas valide : il a peut-être été remplacé par un envoi plus récent."
    if invitation.accepted_at:
        return "Cette invitation a déjà été utilisée. Connectez-vous avec votre adresse électronique."
    if invitation.cancelled_at:
        return "Cette invitation a été annulée. Demandez-en une nouvelle à la personne qui vous a invité·e."
    if invitation.expires_at <= timezone.now():
        return (
            f"Cette invitation a expiré le {timezone.localtime(invitation.expires_at):%d/%m/%Y}. "
            "Demandez à la personne qui vous a invité·e de vous la renvoyer."
        )
    if user is not None and user.is_authenticated and user.pk != invitation.user_id:
        return (
            f"Cette invitation est adressée à {invitation.email}, et vous êtes connecté·e en tant que {user.email}. "
            "Déconnectez-vous, puis ouvrez de nouveau le lien."
        )
    return None


def accept(invitation, *, user=None, first_name="", last_name="", password=None):
    """Use the invitation: the membership is made (its history says by whom the person was invited) and the
    account is activated; a new account gets its names and password here."""
    user = user or invitation.user
    with transaction.atomic():
        locked = Invitation.objects.select_for_update().get(pk=invitation.pk)
        if refusal(locked) is not None:
            raise ValidationError(refusal(locked))
        if password is not None:
            user.set_password(password)
        if first_name or last_name:
            user.first_name, user.last_name = first_name, last_name
        user.is_active = True
        user.save()
        field = _field(invitation.organisation)
        membership = Membership.objects.filter(user=user, **{field: invitation.organisation}).first()
        if membership is None:
            membership = Membership(user=user, role=invitation.role, **{field: invitation.organisation})
            membership._history_user = invitation.invited_by
            membership.save()
        locked.accepted_at = timezone.now()
        locked.save(update_fields=["accepted_at"])
    user.forget_scope()
    return membership


def change_role(membership, role, *, by):
    organisation = membership.organisation
    _check_role(by, organisation, role)
    if membership.role == Role.MANAGER and role != Role.MANAGER:
        _keep_a_manager(membership)
    membership.role = role
    membership._history_user = by
    membership.save()


def remove(membership, *, by):
    if membership.role == Role.MANAGER:
        _keep_a_manager(membership)
    if not can_manage_members(by, membership.organisation):
        raise ValidationError("Vous ne gérez pas cette équipe.")
    if ROLE_RANK[membership.role] > max(
        (ROLE_RANK[r] for r in grantable_roles(by, membership.organisation)), default=0
    ):
        raise ValidationError("Vous ne pouvez pas retirer une personne dont le rôle est plus élevé que le vôtre.")
    membership._history_user = by
    membership.delete()


def _keep_a_manager(membership):
    field = _field(membership.organisation)
    others = Membership.objects.filter(role=Role.MANAGER, **{field: membership.organisation}).exclude(pk=membership.pk)
    if not others.exists():
        raise ValidationError(
            f"{membership.user} est le ou la seule responsable de l’équipe : nommez d’abord un autre responsable."
        )


def delete_expired(now=None):
    """Invitations expired for more than a month are deleted, with the accounts made for them alone."""
    cutoff = (now or timezone.now()) - datetime.timedelta(days=30)
    expired = list(Invitation.objects.filter(accepted_at__isnull=True, expires_at__lt=cutoff).select_related("user"))
    expired += list(Invitation.objects.filter(cancelled_at__lt=cutoff).select_related("user"))
    users = {invitation.user for invitation in expired}
    Invitation.objects.filter(pk__in=[invitation.pk for invitation in expired]).delete()
    for user in users:
        forget_unused_account(user)
    return len(expired)
