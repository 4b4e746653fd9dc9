from django import forms
from dsfr.forms import DsfrBaseForm

from cadre.agreements.models import AgreementStatus, ItemStatus, RoadmapItem
from cadre.core.forms import FrenchDecimalField, VersionedModelForm
from cadre.partners.models import Partner


def date_input():
    return forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class AmendmentForm(DsfrBaseForm):
    """An avenant and what it changes; actions.amend checks it against the agreement and applies it."""

    signed_on = forms.DateField(label="Signé le", widget=date_input())
    purpose = forms.CharField(label="Objet", max_length=250)
    new_end = forms.DateField(
        label="Nouvelle fin", required=False, widget=date_input(), help_text="si l'avenant prolonge la période"
    )
    joined = forms.ModelMultipleChoiceField(
        label="Signataires qui entrent",
        queryset=Partner.objects.order_by("name"),
        required=False,
        widget=forms.SelectMultiple(attrs={"size": 6}),
    )
    left = forms.ModelMultipleChoiceField(
        label="Signataires qui sortent",
        queryset=Partner.objects.none(),
        required=False,
        widget=forms.SelectMultiple(attrs={"size": 6}),
    )
    amount_change = FrenchDecimalField(
        label="Variation des montants (€)",
        required=False,
        max_digits=12,
        decimal_places=2,
        help_text="par exemple -2500,00",
    )
    description = forms.CharField(label="Ce qui change", required=False, widget=forms.Textarea(attrs={"rows": 4}))

    def __init__(self, *args, signing, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["left"].queryset = signing
        self.fields["joined"].queryset = Partner.objects.exclude(pk__in=signing.values("pk")).order_by("name")


class StatusForm(DsfrBaseForm):
    status = forms.ChoiceField(label="Nouvel état", choices=AgreementStatus.choices)
    signed_on = forms.DateField(
        label="Date de signature", required=False, widget=date_input(), help_text="pour une signature"
    )

    def __init__(self, *args, steps, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["status"].choices = [(s.value, s.label) for s in AgreementStatus if s in steps]


class RoadmapItemForm(VersionedModelForm):
    note = forms.CharField(
        label="Note d'avancement",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="datée du jour, signée de votre nom",
    )

    class Meta:
        model = RoadmapItem
        fields = ["status", "due"]
        widgets = {"due": date_input()}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["status"].choices = ItemStatus.choices
