from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login, logout
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render, resolve_url
from django.urls import reverse, reverse_lazy
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.views.decorators.http import require_POST

from cadre.accounts import invitations, privacy, proconnect, two_factor
from cadre.accounts.forms import (
    ApiTokenForm,
    ErasureForm,
    InvitationAcceptForm,
    LoginForm,
    OneTimeCodeForm,
    PasswordChangeForm,
    PasswordResetForm,
    SetPasswordForm,
)
from cadre.accounts.models import AccountEvent, AccountEventKind, ApiToken

RECENT_EVENTS = 20
MY_DATA_ROWS = 50  # rows per list on the readable page; the JSON file has them all


class LoginView(auth_views.LoginView):
    form_class = LoginForm
    template_name = "accounts/login.html"
    redirect_authenticated_user = True
    extra_context = {"title": "Connexion"}

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["proconnect_enabled"] = proconnect.enabled()
        return context


class LogoutView(auth_views.LogoutView):
    """Signs out of Cadre and, after a ProConnect sign-in, of ProConnect too (end-session with id_token_hint)."""

    def post(self, request, *args, **kwargs):
        id_token = request.session.get(proconnect.ID_TOKEN_SESSION_KEY)
        response = super().post(request, *args, **kwargs)
        if id_token and proconnect.enabled():
            url = proconnect.end_session_url(request, id_token)
            if url:
                return HttpResponseRedirect(url)
        return response


class PasswordResetView(auth_views.PasswordResetView):
    form_class = PasswordResetForm
    template_name = "accounts/password_form.html"
    email_template_name = "accounts/email/password_reset.txt"
    subject_template_name = "accounts/email/password_reset_subject.txt"
    success_url = reverse_lazy("accounts:password_reset_done")
    extra_context = {
        "title": "Mot de passe oublié",
        "intro": "Indiquez l'adresse électronique de votre compte : "
        "vous recevrez un lien pour choisir un nouveau mot de passe.",
    }


class PasswordResetDoneView(auth_views.PasswordResetDoneView):
    template_name = "accounts/password_reset_done.html"
    extra_context = {"title": "Courriel envoyé"}


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    form_class = SetPasswordForm
    template_name = "accounts/password_form.html"
    success_url = reverse_lazy("accounts:password_reset_complete")
    extra_context = {"title": "Nouveau mot de passe"}

    def form_valid(self, form):
        response = super().form_valid(form)
        AccountEvent.record(form.user, AccountEventKind.PASSWORD_RESET, request=self.request, detail="par courriel")
        return response


class PasswordResetCompleteView(auth_views.PasswordResetCompleteView):
    template_name = "accounts/password_reset_complete.html"
    extra_context = {"title": "Mot de passe modifié"}


class PasswordChangeView(auth_views.PasswordChangeView):
    form_class = PasswordChangeForm
    template_name = "accounts/password_form.html"
    success_url = reverse_lazy("accounts:profile")
    extra_context = {"title": "Changer de mot de passe"}

    def form_valid(self, form):
        response = super().form_valid(form)
        AccountEvent.record(self.request.user, AccountEventKind.PASSWORD_CHANGED, request=self.request)
        messages.success(self.request, "Votre mot de passe a été changé.")
        return response


def profile(request):
    form = ApiTokenForm(request.POST or None)
    new_secret = None
    if request.method == "POST" and form.is_valid():
        _, new_secret = ApiToken.issue(request.user, form.cleaned_data["name"])
        form = ApiTokenForm()
    user = request.user
    device = two_factor.confirmed_device(user)
    context = {
        "memberships": user.active_memberships,
        "tokens": user.api_tokens.all(),
        "form": form,
        "new_secret": new_secret,
        "two_factor_device": device,
        "recovery_codes_left": two_factor.recovery_codes_left(user) if device else 0,
        "two_factor_required": user.requires_two_factor,
        "proconnect_enabled": proconnect.enabled(),
        "proconnect_identities": user.proconnect_identities.all(),
        "events": user.account_events.select_related("actor")[:RECENT_EVENTS],
        "title": "Mon compte",
        "breadcrumb": [("Mon compte", None)],
    }
    return render(request, "accounts/profile.html", context)


def my_data(request):
    """Everything Cadre keeps about the signed-in person, readable; the same as a JSON file with ?format=json."""
    data = privacy.personal_data(request.user)
    if request.GET.get("format") == "json":
        AccountEvent.record(request.user, AccountEventKind.DATA_EXPORTED, request=request, detail="JSON")
        response = JsonResponse(data, json_dumps_params={"ensure_ascii": False, "indent": 2})
        response["Content-Disposition"] = 'attachment; filename="mes-donnees-cadre.json"'
        return response
    context = {
        "sections": privacy.readable_sections(data, limit=MY_DATA_ROWS),
        "title": "Mes données personnelles",
        "breadcrumb": [("Mon compte", reverse("accounts:profile")), ("Mes données personnelles", None)],
    }
    return render(request, "accounts/my_data.html", context)


def erase(request):
    """The person deletes their own account: anonymised at once, signed out."""
    form = ErasureForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            privacy.erase_account(request.user)
        except privacy.ErasureRefused as refusal:
            form.add_error(None, str(refusal))
        else:
            logout(request)
            messages.success(request, "Votre compte a été supprimé : plus rien ne vous identifie dans Cadre.")
            return redirect("core:home")
    context = {
        "form": form,
        "title": "Supprimer mon compte",
        "breadcrumb": [("Mon compte", reverse("accounts:profile")), ("Supprimer mon compte", None)],
    }
    return render(request, "accounts/erase.html", context)


@require_POST
def revoke_token(request, uuid):
    token = get_object_or_404(request.user.api_tokens.filter(revoked_at__isnull=True), uuid=uuid)
    token.revoke()
    messages.success(request, f"Le jeton « {token.name} » a été révoqué : il ne donne plus accès à l'API.")
    return redirect("accounts:profile")


# Two-factor authentication --------------------------------------------------------------------------------------


def next_url(request):
    """Where to go once the second factor is given: a safe `next`, else the home page."""
    candidate = request.POST.get("next") or request.GET.get("next")
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return resolve_url(settings.LOGIN_REDIRECT_URL)


def with_next(url, request):
    target = request.POST.get("next") or request.GET.get("next")
    return f"{url}?{urlencode({'next': target})}" if target else url


def two_factor_verify(request):
    """Sign-in, second step: a code from the authenticator, or a recovery code."""
    user = request.user
    if not two_factor.owes_second_factor(request):
        return redirect(next_url(request))
    if not two_factor.has_two_factor(user):
        return redirect(with_next(reverse("accounts:two_factor_setup"), request))
    locked = two_factor.locked_until(user)
    form = OneTimeCodeForm(request.POST or None, allow_recovery=True)
    if request.method == "POST" and locked is None and form.is_valid():
        method = two_factor.verify_code(user, form.cleaned_data["code"])
        if method is not None:
            two_factor.mark_verified(request, method)
            two_factor.login_completed(request, method)
            if method == "recovery":
                left = two_factor.recovery_codes_left(user)
                AccountEvent.record(
                    user, AccountEventKind.RECOVERY_CODE_USED, request=request, detail=f"{left} restant(s)"
                )
                messages.warning(
                    request,
                    f"Vous vous êtes connecté avec un code de secours ; il vous en reste {left}. "
                    "Si vous avez perdu votre téléphone, installez une nouvelle application d’authentification "
                    "depuis « Mon compte ».",
                )
            return redirect(next_url(request))
        locked = record_wrong_code(request, "à la connexion")
        if locked is None:
            form.add_error("code", WRONG_CODE)
    context = {
        "form": form,
        "locked_until": locked,
        "next": request.POST.get("next") or request.GET.get("next", ""),
        "first_factor": request.session.get(two_factor.METHOD_SESSION_KEY),
        "title": "Vérification en deux étapes",
    }
    return render(request, "accounts/two_factor_verify.html", context)


WRONG_CODE = (
    "Code incorrect : saisissez le code affiché en ce moment par votre application d’authentification "
    "(il change toutes les 30 secondes), ou l’un de vos codes de secours."
)
WRONG_SETUP_CODE = (
    "Code incorrect : saisissez le code à 6 chiffres affiché en ce moment par l’application où vous venez "
    "d’ajouter Cadre. Si l’erreur se répète, vérifiez que l’heure de votre téléphone est à l’heure automatique."
)


def record_wrong_code(request, where):
    """A wrong code counts towards the lock; returns when the lock ends if this one closed it."""
    user = request.user
    AccountEvent.record(user, AccountEventKind.OTP_FAILED, request=request, detail=where)
    locked = two_factor.locked_until(user)
    if locked is not None:
        AccountEvent.record(
            user,
            AccountEventKind.OTP_LOCKED,
            request=request,
            detail=f"{settings.CADRE_TWO_FACTOR_FAILURE_LIMIT} codes erronés",
        )
    return locked


def two_factor_setup(request):
    """Enrol (or replace) the authenticator: QR code made on the server, then a first code to confirm it."""
    user = request.user
    if two_factor.owes_second_factor(request) and two_factor.has_two_factor(user):
        # Owing a code is no way to enrol another authenticator: give the code first.
        return redirect(with_next(reverse("accounts:two_factor_verify"), request))
    device = two_factor.pending_device(user)
    form = OneTimeCodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        confirmed = two_factor.confirm_device(user, device, form.cleaned_data["code"])
        if confirmed is not None:
            codes, kind = confirmed
            AccountEvent.record(user, kind, request=request)
            if not two_factor.is_verified(request):
                two_factor.mark_verified(request, "totp")
                two_factor.login_completed(request, "totp")
            return render(
                request,
                "accounts/recovery_codes.html",
                {
                    "codes": codes,
                    "enrolled": True,
                    "continue_url": next_url(request),
                    "title": "Double authentification activée",
                },
            )
        form.add_error("code", WRONG_SETUP_CODE)
    context = {
        "form": form,
        "provisioning": two_factor.provisioning(device),
        "replacing": two_factor.has_two_factor(user),
        "required": user.requires_two_factor,
        "owing": two_factor.owes_second_factor(request),
        "next": request.POST.get("next") or request.GET.get("next", ""),
        "title": "Activer la double authentification",
    }
    if not context["owing"]:  # « Mon compte » opens once the second factor is given
        context["breadcrumb"] = [("Mon compte", reverse("accounts:profile")), ("Double authentification", None)]
    return render(request, "accounts/two_factor_setup.html", context)


@require_POST
def two_factor_recovery_codes(request):
    """New recovery codes (the former ones stop working), shown once."""
    user = request.user
    if not two_factor.has_two_factor(user):
        raise Http404("Pas de double authentification sur ce compte.")
    codes = two_factor.new_recovery_codes(user)
    AccountEvent.record(user, AccountEventKind.RECOVERY_CODES, request=request)
    return render(
        request,
        "accounts/recovery_codes.html",
        {"codes": codes, "continue_url": reverse("accounts:profile"), "title": "Nouveaux codes de secours"},
    )


def two_factor_disable(request):
    """Turn two-factor off (offered accounts only), after a current code."""
    user = request.user
    if not two_factor.has_two_factor(user):
        raise Http404("Pas de double authentification sur ce compte.")
    if user.requires_two_factor:
        raise PermissionDenied("La double authentification est obligatoire pour ce compte.")
    locked = two_factor.locked_until(user)
    form = OneTimeCodeForm(request.POST or None, allow_recovery=True)
    if request.method == "POST" and locked is None and form.is_valid():
        if two_factor.verify_code(user, form.cleaned_data["code"]) is not None:
            two_factor.remove_two_factor(user)
            AccountEvent.record(user, AccountEventKind.TWO_FACTOR_DISABLED, request=request)
            messages.success(request, "La double authentification est désactivée pour votre compte.")
            return redirect("accounts:profile")
        locked = record_wrong_code(request, "pour désactiver la double authentification")
        if locked is None:
            form.add_error("code", WRONG_CODE)
    context = {
        "form": form,
        "locked_until": locked,
        "title": "Désactiver la double authentification",
        "breadcrumb": [("Mon compte", reverse("accounts:profile")), ("Désactiver la double authentification", None)],
    }
    return render(request, "accounts/two_factor_disable.html", context)


# Invitations ----------------------------------------------------------------------------------------------------


@login_not_required
def invitation(request, secret):
    """The link of an invitation e-mail: a new person chooses their names and password (or ProConnect); someone
    with an account signs in, then accepts."""
    found = invitations.find(secret)
    problem = invitations.refusal(found, request.user)
    context = {"invitation": found, "problem": problem, "title": "Invitation"}
    if problem:
        return render(request, "accounts/invitation.html", context, status=404 if found is None else 410)
    invited = found.user
    new_account = not invited.is_active and invited.last_login is None and not request.user.is_authenticated
    form = InvitationAcceptForm(request.POST or None, user=invited) if new_account else None
    if request.method == "POST" and (request.user.is_authenticated or form.is_valid()):
        try:
            if request.user.is_authenticated:
                invitations.accept(found, user=request.user)
            else:
                invitations.accept(
                    found,
                    first_name=form.cleaned_data["first_name"],
                    last_name=form.cleaned_data["last_name"],
                    password=form.cleaned_data["password1"],
                )
                login(request, invited, backend="django.contrib.auth.backends.ModelBackend")
        except ValidationError as error:
            context["problem"] = " ".join(error.messages)
            return render(request, "accounts/invitation.html", context, status=410)
        return redirect("accounts:welcome")
    context.update(
        form=form,
        new_account=new_account,
        proconnect_enabled=proconnect.enabled(),
        login_url=f"{reverse('accounts:login')}?{urlencode({'next': request.path})}",
        proconnect_url=f"{reverse('accounts:proconnect_login')}?{urlencode({'next': request.path})}",
    )
    return render(request, "accounts/invitation.html", context)


def welcome(request):
    """Where an accepted invitation lands: what the person may now reach."""
    context = {
        "memberships": request.user.active_memberships,
        "title": "Bienvenue",
        "breadcrumb": [("Bienvenue", None)],
    }
    return render(request, "accounts/welcome.html", context)
