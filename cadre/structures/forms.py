"""Forms of the registry: structure identity card, approvals, contacts, list filters."""

from django import forms
from django.db.models import F, Q
from django.db.models.functions import Lower
from django.urls import reverse

from cadre.core.forms import CadreForm, FastInput, FastSelect, FieldsetsMixin, VersionedModelForm
from cadre.core.sorting import ASCENDING, DESCENDING, SortColumn, SortOrder
from cadre.partners.models import Partner
from cadre.structures.models import (
    MAX_PROJECT_AXES,
    Approval,
    Management,
    PriorityAreaStatus,
    Structure,
    StructureContact,
    StructureKind,
    areas_in_scope,
    normalise_rna,
    validate_rna,
)
from cadre.territories.forms import AreaChoiceField, CommuneField, PriorityAreaChoiceField, resolve_commune
from cadre.territories.models import NEIGHBOUR_RADIUS_KM, Commune


class StructureForm(FieldsetsMixin, VersionedModelForm):
    commune = CommuneField(label="Commune d'implantation")
    priority_areas = PriorityAreaChoiceField(
        label="QPV concernés",
        help_text=(
            "Au moins un si la structure est en lien avec un QPV. Ceux de la commune d'abord, puis ceux des "
            f"communes voisines du département (à moins de {NEIGHBOUR_RADIUS_KM} km), avec le nom de leur commune."
        ),
    )
    # Longer than the stored 10 characters: « w 691 012 345 » is accepted and stored « W691012345 ».
    rna = forms.CharField(
        label="Numéro RNA",
        required=False,
        max_length=16,
        help_text="Associations : W suivi de 9 chiffres (Répertoire national des associations).",
        widget=forms.TextInput(attrs={"autocapitalize": "characters", "spellcheck": "false"}),
    )
    project_axes_text = forms.CharField(
        label="Axes du projet",
        required=False,
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text=f"Un axe par ligne, {MAX_PROJECT_AXES} au plus.",
    )

    class Meta:
        model = Structure
        fields = [
            "name",
            "kind",
            "siret",
            "rna",
            "manager_name",
            "management",
            "address",
            "address_complement",
            "postal_code",
            "commune",
            "served_population",
            "territory_type",
            "territory_size",
            "priority_area_status",
            "federation",
            "serves_travellers",
            "multi_site",
            "itinerant",
            "first_approval_date",
            "email",
            "phone",
            "website",
            "closed_on",
        ]
        widgets = {
            "federation": FastSelect,
            "first_approval_date": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
            "closed_on": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        }

    fieldsets = [
        ("Identité", ["name", "kind", "siret", "rna", "manager_name", "management", "federation", "closed_on"]),
        ("Adresse", ["address", "address_complement", "postal_code", "commune"]),
        ("Territoire d'intervention", ["served_population", "territory_type", "territory_size"]),
        ("Politique de la ville", ["priority_area_status", "priority_areas"]),
        (
            "Projet",
            ["first_approval_date", "project_axes_text", "serves_travellers", "multi_site", "itinerant"],
        ),
        ("Coordonnées publiques", ["email", "phone", "website"]),
    ]

    def __init__(self, *args, **kwargs):
        given = kwargs.get("initial") or {}
        super().__init__(*args, **kwargs)
        self.fields["federation"].queryset = Partner.objects.federations().only("pk", "name")  # what a choice shows
        self.fields["siret"].widget.attrs.update(inputmode="numeric", maxlength="17")
        linked = []
        if self.instance.pk:
            linked = list(self.instance.priority_areas.all())
            self.initial["project_axes_text"] = "\n".join(self.instance.project_axes)
            # The QPV fragment redraws the field for another commune and the QPV ticked on the page.
            self.initial["priority_areas"] = given.get("priority_areas", [a.code for a in linked])
            self.initial["commune"] = given.get("commune", self.instance.commune)
        self.fields["priority_areas"].propose(self._chosen_commune(), kept=linked)
        self.fields["priority_areas"].redraw_url = reverse("structures:priority_area_choices") + (
            f"?structure={self.instance.uuid}" if self.instance.pk else ""
        )

    def _chosen_commune(self):
        """The commune whose QPV to propose: the one typed (when it names one), else the initial one."""
        commune = self.data.get(self.add_prefix("commune")) if self.is_bound else self.initial.get("commune")
        if isinstance(commune, Commune):
            return commune
        if not str(commune or "").strip():
            return None
        try:
            return resolve_commune(str(commune).strip())
        except forms.ValidationError:
            return None

    def clean_siret(self):
        return "".join(ch for ch in self.cleaned_data.get("siret", "") if not ch.isspace())

    def clean_rna(self):
        rna = normalise_rna(self.cleaned_data.get("rna", ""))
        validate_rna(rna)  # before the model's length check: one clear message
        return rna

    def clean_project_axes_text(self):
        axes = [line.strip() for line in self.cleaned_data.get("project_axes_text", "").splitlines() if line.strip()]
        if len(axes) > MAX_PROJECT_AXES:
            raise forms.ValidationError(f"Au plus {MAX_PROJECT_AXES} axes (vous en avez saisi {len(axes)}).")
        if any(len(a) > 200 for a in axes):
            raise forms.ValidationError("Un axe tient en 200 caractères au plus.")
        return axes

    def clean(self):
        cleaned = super().clean()
        self.instance.project_axes = cleaned.get("project_axes_text", [])
        status = cleaned.get("priority_area_status")
        areas = cleaned.get("priority_areas")
        commune = cleaned.get("commune")
        if "commune" in self.errors:
            # No commune, no QPV to offer: the commune's own message says what to fix first.
            self.errors.pop("priority_areas", None)
        if status and areas is not None and commune is not None:
            probe = Structure(priority_area_status=status, commune=commune)
            error = probe.check_priority_areas(areas)
            if error:
                self.add_error("priority_areas", error)
        return cleaned

    def save_relations(self):
        self.instance.priority_areas.set(self.cleaned_data["priority_areas"])


class ApprovalForm(VersionedModelForm):
    class Meta:
        model = Approval
        fields = ["kind", "starts", "ends", "board_decision_date", "notes"]
        widgets = {
            "starts": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
            "ends": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
            "board_decision_date": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
            "notes": forms.Textarea(attrs={"rows": 3}),
        }

    def __init__(self, *args, structure, **kwargs):
        super().__init__(*args, **kwargs)
        self.instance.structure = structure
        allowed = {
            StructureKind.CENTRE_SOCIAL: ["social_project", "family_project"],
            StructureKind.EVS: ["evs"],
        }[structure.kind]
        self.fields["kind"].choices = [c for c in self.fields["kind"].choices if c[0] in allowed]


class StructureContactForm(VersionedModelForm):
    class Meta:
        model = StructureContact
        fields = ["name", "position", "email", "phone", "is_public"]


SORTS = {
    "name": ("Nom (A → Z)", [Lower("name")]),
    "-name": ("Nom (Z → A)", [Lower("name").desc()]),
    "commune": ("Commune (A → Z)", ["commune__name", Lower("name")]),
    "-commune": ("Commune (Z → A)", [F("commune__name").desc(), Lower("name")]),
    "department": ("Département", ["commune__department_id", "commune__name", Lower("name")]),
    "approval": ("Fin d'agrément la plus proche", [F("approval_ends").asc(nulls_last=True), Lower("name")]),
    "-approval": ("Fin d'agrément la plus lointaine", [F("approval_ends").desc(nulls_last=True), Lower("name")]),
    "-updated": ("Modifiées récemment", ["-updated_at"]),
}
# The list's column headers that sort it (the « Trier par » select offers the same orders and more).
COLUMNS = [
    SortColumn("Nom", (SortOrder("name", ASCENDING, "de A à Z"), SortOrder("-name", DESCENDING, "de Z à A"))),
    SortColumn("Type"),
    SortColumn("Commune", (SortOrder("commune", ASCENDING, "de A à Z"), SortOrder("-commune", DESCENDING, "de Z à A"))),
    SortColumn("Gestion"),
    SortColumn("QPV"),
    SortColumn(
        "Fin d’agrément",
        (
            SortOrder("approval", ASCENDING, "la plus proche d'abord"),
            SortOrder("-approval", DESCENDING, "la plus lointaine d'abord"),
        ),
    ),
]
QPV_CHOICES = [
    ("", "Toutes"),
    ("yes", "En lien avec un QPV"),
    ("in_area", "Implantées en QPV"),
    ("no", "Sans lien avec un QPV"),
]
APPROVAL_CHOICES = [
    ("", "Peu importe"),
    ("3", "dans les 3 mois"),
    ("6", "dans les 6 mois"),
    ("12", "dans les 12 mois"),
    ("18", "dans les 18 mois"),
]


class StructureFilterForm(CadreForm):
    """Filters of the structure list, shared by the page, its exports and the API."""

    is_filter_form = True

    q = forms.CharField(
        label="Rechercher", required=False, help_text="nom, gestionnaire, commune ou SIRET", widget=FastInput
    )
    region = AreaChoiceField("region", "Toutes", label="Région", required=False)
    department = AreaChoiceField("department", "Tous", label="Département", required=False)
    commune = CommuneField(label="Commune", required=False, help_text="")
    kind = forms.ChoiceField(
        label="Type", choices=[("", "Tous"), *StructureKind.choices], required=False, widget=FastSelect
    )
    management = forms.ChoiceField(
        label="Mode de gestion", choices=[("", "Tous"), *Management.choices], required=False, widget=FastSelect
    )
    qpv = forms.ChoiceField(label="Politique de la ville", choices=QPV_CHOICES, required=False, widget=FastSelect)
    approval_ending = forms.ChoiceField(
        label="Agrément se terminant", choices=APPROVAL_CHOICES, required=False, widget=FastSelect
    )
    sort = forms.ChoiceField(
        label="Trier par", choices=[(k, v[0]) for k, v in SORTS.items()], required=False, widget=FastSelect
    )

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        areas = areas_in_scope(user) if user is not None else None
        if areas is not None:
            regions, departments = areas
            self.fields["region"].limit_to(regions)
            self.fields["department"].limit_to(departments)

    def apply(self, queryset):
        """Filter and sort `queryset`; an invalid filter narrows to nothing rather than ignoring it."""
        if not self.is_valid():
            return queryset.none()
        data = self.cleaned_data
        if data.get("q"):
            text = data.get("q").strip()
            compact = text.replace(" ", "")
            condition = Q(name__icontains=text) | Q(manager_name__icontains=text) | Q(commune__name__icontains=text)
            if compact.isdigit():
                condition |= Q(siret__startswith=compact) | Q(postal_code=compact)
            queryset = queryset.filter(condition)
        if data.get("region"):
            queryset = queryset.filter(commune__department__region_id=data.get("region"))
        if data.get("department"):
            queryset = queryset.filter(commune__department_id=data.get("department"))
        if data.get("commune"):
            commune = data.get("commune")
            queryset = queryset.filter(Q(commune=commune) | Q(commune__parent=commune))
        if data.get("kind"):
            queryset = queryset.filter(kind=data.get("kind"))
        if data.get("management"):
            queryset = queryset.filter(management=data.get("management"))
        if data.get("qpv") == "yes":
            queryset = queryset.exclude(priority_area_status=PriorityAreaStatus.NONE)
        elif data.get("qpv") == "in_area":
            queryset = queryset.filter(priority_area_status=PriorityAreaStatus.IN_AREA)
        elif data.get("qpv") == "no":
            queryset = queryset.filter(priority_area_status=PriorityAreaStatus.NONE)
        if data.get("approval_ending"):
            queryset = queryset.approval_ending_within(int(data.get("approval_ending")))
        queryset = queryset.with_current_approval_end()
        # The primary key breaks ties, so that no structure shows on two pages.
        return queryset.order_by(*SORTS[self.sort_key][1], "pk")

    @property
    def sort_key(self):
        return (self.cleaned_data.get("sort") if self.is_valid() else None) or "name"


class PublicStructureFilterForm(StructureFilterForm):
    """The public directory's filters: nothing about management or approvals."""

    management = None
    approval_ending = None
