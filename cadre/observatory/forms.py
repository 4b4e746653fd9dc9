"""Forms of the observatory: campaigns, correspondants, review comments."""

import decimal

from django import forms

from cadre.accounts.models import WRITE_ROLES, User
from cadre.core.forms import CadreForm, FastSelect
from cadre.observatory.models import Campaign, Correspondent, Questionnaire
from cadre.territories.models import Department
from cadre.territories.reference import department_names


class CampaignForm(CadreForm, forms.ModelForm):
    change_percent = forms.DecimalField(
        label="Évolution sur un an qui fait relire une réponse (en %)",
        min_value=1,
        max_value=1000,
        decimal_places=1,
        initial=50,
        help_text="Une réponse numérique qui change de plus de cette part depuis l’an passé devient un point à "
        "vérifier (sauf si la question fixe son propre seuil).",
    )

    class Meta:
        model = Campaign
        fields = ["year", "title", "questionnaire", "opens_on", "closes_on"]
        widgets = {
            "opens_on": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
            "closes_on": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        }
        help_texts = {"year": "L’année que décrivent les réponses (l’année civile précédant la saisie)."}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["questionnaire"].queryset = Questionnaire.objects.order_by("code", "-version")
        if self.instance.pk:
            self.initial["change_percent"] = (self.instance.change_threshold * 100).normalize()
            if self.instance.opened_at is not None:
                # Once opened, the questions and the year are what the structures answer: frozen.
                for name in ("year", "questionnaire"):
                    self.fields[name].disabled = True
                    self.fields[name].help_text = "Fixé à l’ouverture de la campagne."

    def clean_year(self):
        year = self.cleaned_data["year"]
        if year < 2000 or year > 2100:
            raise forms.ValidationError("Indiquez une année entre 2000 et 2100.")
        if Campaign.objects.filter(year=year).exclude(pk=self.instance.pk).exists():
            raise forms.ValidationError(f"Une campagne existe déjà pour l’année {year}.")
        return year

    def clean(self):
        cleaned = super().clean()
        opens, closes = cleaned.get("opens_on"), cleaned.get("closes_on")
        if opens and closes and closes < opens:
            self.add_error("closes_on", "La clôture doit suivre l’ouverture.")
        return cleaned

    def save(self, commit=True):
        self.instance.change_threshold = self.cleaned_data["change_percent"] / decimal.Decimal(100)
        return super().save(commit)


class CorrespondentForm(CadreForm, forms.ModelForm):
    class Meta:
        model = Correspondent
        fields = ["user", "department"]
        # Hundreds of accounts and a hundred départements: options written in Python, read in one plain query.
        widgets = {"user": FastSelect, "department": FastSelect}
        help_texts = {"user": "Personnel d’un partenaire (Caf, fédération…) pouvant écrire."}

    def __init__(self, *args, campaign, **kwargs):
        super().__init__(*args, **kwargs)
        self.instance.campaign = campaign
        self.fields["user"].queryset = (
            User.objects.filter(is_active=True, memberships__partner__isnull=False, memberships__role__in=WRITE_ROLES)
            .distinct()
            .order_by("last_name", "first_name", "email")
            .only("pk", "first_name", "last_name", "email", "erased_at")  # what the choices show: hundreds of accounts
        )
        self.fields["user"].label_from_instance = lambda u: f"{u.display_name} ({u.email})"
        self.fields["department"].queryset = Department.objects.order_by("code")
        # Offered from the geography read once per process (checked against the table when posted).
        self.fields["department"].choices = [
            ("", self.fields["department"].empty_label),
            *((code, f"{name} ({code})") for code, name in department_names().items()),
        ]

    def clean(self):
        cleaned = super().clean()
        user, department = cleaned.get("user"), cleaned.get("department")
        if (
            user
            and department
            and Correspondent.objects.filter(campaign=self.instance.campaign, user=user, department=department).exists()
        ):
            self.add_error("user", f"{user.display_name} est déjà correspondant pour {department}.")
        return cleaned


class CommentForm(CadreForm):
    comment = forms.CharField(
        label="Commentaire",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=5000,
    )
    version = forms.IntegerField(widget=forms.HiddenInput)


class ReasonForm(CommentForm):
    comment = forms.CharField(
        label="Raison de la réouverture",
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=5000,
        help_text="Montrée à la structure et gardée dans l’historique du questionnaire.",
    )


class AnomalyTextForm(CadreForm):
    text = forms.CharField(label="Texte", widget=forms.Textarea(attrs={"rows": 3}), max_length=5000)
