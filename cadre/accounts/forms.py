from django import forms
from django.contrib.auth import forms as auth_forms
from dsfr.forms import DsfrBaseForm


class LoginForm(DsfrBaseForm, auth_forms.AuthenticationForm):
    error_messages = {
        "invalid_login": "Adresse électronique ou mot de passe incorrect.",
        "inactive": "Ce compte est désactivé.",
    }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["username"].label = "Adresse électronique"
        self.fields["username"].widget.attrs.update(type="email", autocomplete="email")


class PasswordResetForm(DsfrBaseForm, auth_forms.PasswordResetForm):
    pass


class SetPasswordForm(DsfrBaseForm, auth_forms.SetPasswordForm):
    pass


class PasswordChangeForm(DsfrBaseForm, auth_forms.PasswordChangeForm):
    pass


class ApiTokenForm(DsfrBaseForm):
    name = forms.CharField(
        label="Nom du jeton", max_length=100, help_text="À quoi il sert, par exemple : « script d'import mensuel »."
    )
