from django import forms
from django.contrib.auth import forms as auth_forms

from cadre.accounts.models import Role
from cadre.core.forms import CadreForm


class LoginForm(CadreForm, auth_forms.AuthenticationForm):
    error_messages = {
        "invalid_login": "Adresse électronique ou mot de passe incorrect.",
        "inactive": "Ce compte est désactivé.",
    }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["username"].label = "Adresse électronique"
        self.fields["username"].widget.attrs.update(type="email", autocomplete="email")


class PasswordResetForm(CadreForm, auth_forms.PasswordResetForm):
    pass


class SetPasswordForm(CadreForm, auth_forms.SetPasswordForm):
    pass


class PasswordChangeForm(CadreForm, auth_forms.PasswordChangeForm):
    pass


class ApiTokenForm(CadreForm):
    name = forms.CharField(
        label="Nom du jeton", max_length=100, help_text="À quoi il sert, par exemple : « script d'import mensuel »."
    )


class OneTimeCodeForm(CadreForm):
    """A code from the authenticator app (6 digits), or at sign-in one of the recovery codes."""

    code = forms.CharField(
        label="Code de vérification",
        max_length=32,
        help_text="Les 6 chiffres affichés par votre application d’authentification.",
        error_messages={"required": "Saisissez le code affiché par votre application d’authentification."},
    )

    def __init__(self, *args, allow_recovery=False, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["code"].widget.attrs.update(autocomplete="one-time-code", spellcheck="false", autocapitalize="off")
        if allow_recovery:
            self.fields["code"].help_text = (
                "Les 6 chiffres affichés par votre application d’authentification, "
                "ou l’un de vos codes de secours (par exemple : abcd-efgh)."
            )
        else:
            self.fields["code"].widget.attrs.update(inputmode="numeric")
        self._bound_fields_cache.clear()  # CadreForm read the fields already: bind them again, help text included


class ErasureForm(CadreForm):
    """Confirms the erasure of one's own account: the password, or for an account without one (ProConnect only)
    its e-mail address typed again."""

    confirmation = forms.CharField(label="Mot de passe", widget=forms.PasswordInput(attrs={"autocomplete": "off"}))

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        if not user.has_usable_password():
            self.fields["confirmation"] = forms.CharField(
                label="Votre adresse électronique",
                help_text=f"Saisissez « {user.email} » pour confirmer.",
                widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
            )
        self.fields["confirmation"].error_messages["required"] = "Confirmez la suppression pour continuer."

    def clean_confirmation(self):
        value = self.cleaned_data["confirmation"]
        if self.user.has_usable_password():
            if not self.user.check_password(value):
                raise forms.ValidationError("Mot de passe incorrect : votre compte n’a pas été supprimé.")
        elif value.strip().lower() != self.user.email.lower():
            raise forms.ValidationError("Cette adresse n’est pas celle de votre compte : il n’a pas été supprimé.")
        return value


class InvitationAcceptForm(CadreForm):
    """A new account's names and password, chosen when the invitation is accepted."""

    first_name = forms.CharField(label="Prénom", max_length=150)
    last_name = forms.CharField(label="Nom", max_length=150)
    password1 = forms.CharField(
        label="Mot de passe",
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        strip=False,
        help_text="8 caractères au moins ; ni seulement des chiffres, ni un mot de passe courant ou proche du nom.",
    )
    password2 = forms.CharField(
        label="Confirmation du mot de passe",
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        strip=False,
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user

    def clean(self):
        from django.contrib.auth import password_validation

        cleaned = super().clean()
        first, second = cleaned.get("password1"), cleaned.get("password2")
        if first and second and first != second:
            self.add_error("password2", "Les deux mots de passe ne sont pas identiques.")
        elif first:
            self.user.first_name = cleaned.get("first_name", "")
            self.user.last_name = cleaned.get("last_name", "")
            try:
                password_validation.validate_password(first, self.user)
            except forms.ValidationError as error:
                self.add_error("password1", error)
        return cleaned


class InviteForm(CadreForm):
    email = forms.EmailField(label="Adresse électronique", help_text="Format attendu : nom@domaine.fr")
    role = forms.ChoiceField(label="Rôle")

    def __init__(self, *args, roles, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["role"].choices = [(role.value, role.label.capitalize()) for role in roles]
        self.fields["role"].initial = Role.EDITOR if Role.EDITOR in roles else roles[0]
