from django import forms
from django.db.models import Q

from cadre.core.forms import CadreForm, FastSelectMultiple, VersionedModelForm
from cadre.partners.models import Partner, PartnerContact
from cadre.territories.forms import resolve_commune
from cadre.territories.models import Department


class PartnerForm(VersionedModelForm):
    departments = forms.ModelMultipleChoiceField(
        label="Départements couverts",
        queryset=Department.objects.all(),
        required=False,
        widget=FastSelectMultiple(attrs={"size": 8}),
        help_text="Tout le département est dans le territoire du partenaire (Ctrl ou Maj pour en choisir plusieurs).",
    )
    commune_codes = forms.CharField(
        label="Communes couvertes",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="En plus des départements entiers : codes INSEE séparés par des virgules, par exemple 69266, 69123.",
    )

    class Meta:
        model = Partner
        fields = ["name", "short_name", "kind", "siret", "departments", "address", "email", "phone", "website"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial["commune_codes"] = ", ".join(c.code for c in self.instance.communes.all())

    def clean_commune_codes(self):
        tokens = [t.strip() for t in self.cleaned_data["commune_codes"].replace(";", ",").replace("\n", ",").split(",")]
        communes, errors = [], []
        for token in filter(None, tokens):
            try:
                communes.append(resolve_commune(token))
            except forms.ValidationError as error:
                errors.extend(error.messages)
        if errors:
            raise forms.ValidationError(errors)
        return communes

    def save_relations(self):
        self.save_m2m()
        self.instance.communes.set(self.cleaned_data["commune_codes"])


class PartnerContactForm(VersionedModelForm):
    class Meta:
        model = PartnerContact
        fields = ["name", "position", "email", "phone"]


class PartnerFilterForm(CadreForm):
    is_filter_form = True

    q = forms.CharField(label="Rechercher", required=False)
    kind = forms.ChoiceField(
        label="Type", required=False, choices=[("", "Tous"), *Partner._meta.get_field("kind").choices]
    )
    department = forms.ModelChoiceField(
        label="Département", queryset=Department.objects.all(), required=False, empty_label="Tous", to_field_name="code"
    )

    def apply(self, queryset):
        if not self.is_valid():
            return queryset.none()
        data = self.cleaned_data
        if data["q"]:
            queryset = queryset.filter(name__icontains=data["q"].strip())
        if data["kind"]:
            queryset = queryset.filter(kind=data["kind"])
        if data["department"]:
            department = data["department"]
            queryset = queryset.filter(
                Q(pk__in=Partner.departments.through.objects.filter(department=department).values("partner_id"))
                | Q(pk__in=Partner.communes.through.objects.filter(commune__department=department).values("partner_id"))
            )
        return queryset.order_by("name", "pk")
