from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse_lazy
from django.views.decorators.http import require_POST

from cadre.accounts.forms import ApiTokenForm, LoginForm, PasswordChangeForm, PasswordResetForm, SetPasswordForm
from cadre.accounts.models import ApiToken


class LoginView(auth_views.LoginView):
    form_class = LoginForm
    template_name = "accounts/login.html"
    redirect_authenticated_user = True
    extra_context = {"title": "Connexion"}


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


class PasswordResetCompleteView(auth_views.PasswordResetCompleteView):
    template_name = "accounts/password_reset_complete.html"
    extra_context = {"title": "Mot de passe modifié"}


class PasswordChangeView(auth_views.PasswordChangeView):
    form_class = PasswordChangeForm
    template_name = "accounts/password_form.html"
    success_url = reverse_lazy("accounts:profile")
    extra_context = {"title": "Changer de mot de passe"}

    def form_valid(self, form):
        messages.success(self.request, "Votre mot de passe a été changé.")
        return super().form_valid(form)


def profile(request):
    form = ApiTokenForm(request.POST or None)
    new_secret = None
    if request.method == "POST" and form.is_valid():
        _, new_secret = ApiToken.issue(request.user, form.cleaned_data["name"])
        form = ApiTokenForm()
    context = {
        "memberships": request.user.active_memberships,
        "tokens": request.user.api_tokens.all(),
        "form": form,
        "new_secret": new_secret,
        "title": "Mon compte",
        "breadcrumb": [("Mon compte", None)],
    }
    return render(request, "accounts/profile.html", context)


@require_POST
def revoke_token(request, uuid):
    token = get_object_or_404(request.user.api_tokens.filter(revoked_at__isnull=True), uuid=uuid)
    token.revoke()
    messages.success(request, f"Le jeton « {token.name} » a été révoqué : il ne donne plus accès à l'API.")
    return redirect("accounts:profile")
