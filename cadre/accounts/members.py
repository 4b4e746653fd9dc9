"""The team page of a partner or a structure (members, pending invitations, invite, change a role, remove),
shared by both apps: each gives its organisation, already checked visible, and its breadcrumb."""

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect, render

from cadre.accounts import invitations
from cadre.accounts.forms import InviteForm
from cadre.accounts.models import Invitation, Membership, Role


def _message(error):
    return " ".join(error.messages)


def members_page(request, organisation, *, breadcrumb):
    user = request.user
    if not invitations.can_view_members(user, organisation):
        raise PermissionDenied
    field = invitations._field(organisation)
    manage = invitations.can_manage_members(user, organisation)
    roles = invitations.grantable_roles(user, organisation)
    form = InviteForm(roles=roles or list(Role))
    if request.method == "POST":
        if not manage:
            raise PermissionDenied
        action = request.POST.get("action")
        if action == "invite":
            form = InviteForm(request.POST, roles=roles)
            if form.is_valid():
                try:
                    invitation = invitations.invite(
                        by=user,
                        organisation=organisation,
                        email=form.cleaned_data["email"],
                        role=form.cleaned_data["role"],
                        request=request,
                    )
                except ValidationError as error:
                    for name, errors in error.message_dict.items():
                        form.add_error(name if name in form.fields else None, errors)
                else:
                    messages.success(
                        request,
                        f"Invitation envoyée à {invitation.email} ({invitation.get_role_display()}) : "
                        f"le lien vaut jusqu’au {invitation.expires_at:%d/%m/%Y}.",
                    )
                    return redirect(request.path)
        else:
            _act(request, organisation, field, action)
            return redirect(request.path)
    members = Membership.objects.filter(**{field: organisation}).select_related("user")
    members = sorted(members, key=lambda m: (-invitations.ROLE_RANK[m.role], m.user.last_name, m.user.email))
    pending = Invitation.objects.filter(**{field: organisation}, accepted_at__isnull=True, cancelled_at__isnull=True)
    context = {
        "organisation": organisation,
        "members": members,
        "invitations": pending.select_related("invited_by").order_by("-sent_at"),
        "can_manage": manage,
        "roles": roles,
        "form": form,
        "invitation_days": settings.CADRE_INVITATION_DAYS,
        "title": f"Équipe de {organisation}",
        "breadcrumb": [*breadcrumb, ("Équipe", None)],
    }
    return render(request, "accounts/members.html", context)


def _act(request, organisation, field, action):
    """Change a role, remove a member, resend or cancel an invitation; errors come back as messages."""
    user = request.user
    try:
        if action in ("role", "remove"):
            membership = get_object_or_404(
                Membership.objects.select_related("user"), pk=request.POST.get("membership"), **{field: organisation}
            )
            if action == "role":
                role = request.POST.get("role")
                # The role the manager saw: someone may have changed it since the page was opened.
                if request.POST.get("seen_role") != membership.role:
                    raise ValidationError(
                        f"Le rôle de {membership.user} a été changé entre-temps : il est maintenant "
                        f"« {membership.get_role_display()} ». Rien n’a été modifié ; choisissez de nouveau."
                    )
                invitations.change_role(membership, role, by=user)
                messages.success(request, f"{membership.user} est maintenant « {membership.get_role_display()} ».")
            else:
                invitations.remove(membership, by=user)
                messages.success(request, f"{membership.user} ne fait plus partie de l’équipe.")
        elif action in ("resend", "cancel"):
            invitation = get_object_or_404(Invitation, uuid=request.POST.get("invitation"), **{field: organisation})
            if action == "resend":
                invitations.resend(invitation, by=user, request=request)
                messages.success(request, f"Invitation renvoyée à {invitation.email}, avec un nouveau lien.")
            else:
                invitations.cancel(invitation)
                messages.success(request, f"Invitation de {invitation.email} annulée : son lien ne fonctionne plus.")
        else:
            raise ValidationError("Action inconnue.")
    except (ValidationError, ValueError) as error:
        messages.error(request, _message(error) if isinstance(error, ValidationError) else str(error))
