"""Forms of the early warning: the rule administrators edit (a signal, a comparison and a threshold chosen in lists
and fields, never an expression typed as text; the threshold's meaning is checked by AlertRule.clean()), the
alerts list's filters, and a partner's acknowledgement of an alert."""

from django import forms
from django.db.models import Case, IntegerField, Value, When
from django.db.models.functions import Lower
from django.utils import timezone

from cadre.core.forms import CadreForm, FastInput, FastSelect, VersionedModelForm, french_decimals
from cadre.core.sorting import ASCENDING, DESCENDING, SortColumn, SortOrder
from cadre.monitoring.alert_models import LEVEL_RANK, SIGNALS, AlertAcknowledgement, AlertRule, HealthLevel
from cadre.structures.models import StructureKind, areas_in_scope
from cadre.territories.forms import AreaChoiceField


class AlertRuleForm(VersionedModelForm):
    class Meta:
        model = AlertRule
        fields = ["name", "signal", "comparison", "threshold", "consecutive_years", "severity", "active", "source"]
        formfield_callback = french_decimals

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Each signal says its unit, so the threshold is typed in it.
        self.fields["signal"].choices = [
            ("", "---------"),
            *((signal.code, f"{signal.label} ({signal.unit})") for signal in SIGNALS.values()),
        ]


_RANK = Case(*(When(level=level, then=Value(rank)) for level, rank in LEVEL_RANK.items()), output_field=IntegerField())
# The values of the `sort` parameter: set by the list's column headers (ALERT_COLUMNS), read by the page, its htmx
# fragment and its exports alike. The first five are those of the former select, kept for the links made with it.
SORTS = {
    "level": ("Gravité (alerte d'abord)", [_RANK.desc(), Lower("structure__name")]),
    "name": ("Nom de la structure (A → Z)", [Lower("structure__name"), "-year"]),
    "department": ("Département", ["structure__commune__department_id", Lower("structure__name")]),
    "-year": ("Exercice le plus récent", ["-year", _RANK.desc(), Lower("structure__name")]),
    "-computed": ("Calculés récemment", ["-level_since", Lower("structure__name")]),
    "-level": ("Gravité (vert d'abord)", [_RANK.asc(), Lower("structure__name")]),
    "-name": ("Nom de la structure (Z → A)", [Lower("structure__name").desc(), "-year"]),
    "-department": ("Département (décroissant)", ["-structure__commune__department_id", Lower("structure__name")]),
    "year": ("Exercice le plus ancien", ["year", _RANK.desc(), Lower("structure__name")]),
}
ALERT_COLUMNS = [
    SortColumn("Structure", (SortOrder("name", ASCENDING, "de A à Z"), SortOrder("-name", DESCENDING, "de Z à A"))),
    SortColumn(
        "Commune",
        (
            SortOrder("department", ASCENDING, "par département croissant"),
            SortOrder("-department", DESCENDING, "par département décroissant"),
        ),
    ),
    SortColumn(
        "Exercice",
        (
            SortOrder("-year", DESCENDING, "le plus récent d'abord"),
            SortOrder("year", ASCENDING, "le plus ancien d'abord"),
        ),
    ),
    SortColumn(
        "État", (SortOrder("level", DESCENDING, "alerte d'abord"), SortOrder("-level", ASCENDING, "vert d'abord"))
    ),
    SortColumn("Faits"),
    SortColumn("Prise en compte"),
]
LEVELS = [
    ("", "Vigilance et alerte"),
    (HealthLevel.ALERT, "Alerte"),
    (HealthLevel.VIGILANCE, "Vigilance"),
    (HealthLevel.GREEN, "Vert"),
    ("all", "Tous les états"),
]
ACKNOWLEDGED = [("", "Toutes"), ("no", "Non prises en compte"), ("yes", "Prises en compte")]
YEARS_OFFERED = 10  # the years the filter offers, this one and those before


def _years():
    this_year = timezone.localdate().year
    return [
        ("", "Les deux derniers"),
        *((str(y), str(y)) for y in range(this_year, this_year - YEARS_OFFERED, -1)),
    ]


class AlertFilterForm(CadreForm):
    """Filters of the alerts list, shared by the page and its exports."""

    is_filter_form = True

    q = forms.CharField(label="Rechercher", required=False, help_text="nom de la structure", widget=FastInput)
    department = AreaChoiceField("department", "Tous", label="Département", required=False)
    level = forms.ChoiceField(label="État", choices=LEVELS, required=False, widget=FastSelect)
    year = forms.TypedChoiceField(
        label="Exercice",
        help_text="par défaut, le plus grave des deux derniers",
        choices=_years,
        coerce=int,
        empty_value=None,
        required=False,
        widget=FastSelect,
    )
    kind = forms.ChoiceField(
        label="Type de structure", choices=[("", "Tous"), *StructureKind.choices], required=False, widget=FastSelect
    )
    acknowledged = forms.ChoiceField(label="Prise en compte", choices=ACKNOWLEDGED, required=False, widget=FastSelect)
    # Chosen by the column headers; a hidden input of the results (form="alert-filters") keeps it when a filter
    # changes.
    sort = forms.ChoiceField(
        label="Trier par", choices=[(k, v[0]) for k, v in SORTS.items()], required=False, widget=forms.HiddenInput
    )

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        areas = areas_in_scope(user) if user is not None else None
        if areas is not None:
            self.fields["department"].limit_to(areas[1])

    @property
    def sort_key(self):
        """The sort applied: the one asked for when valid, else the default."""
        sort = self.cleaned_data.get("sort") if self.is_valid() else None
        return sort or "level"

    def apply(self, queryset):
        """Filter and sort HealthStatus `queryset` (already scoped); an invalid filter narrows to nothing."""
        if not self.is_valid():
            return queryset.none()
        data = self.cleaned_data
        if data.get("year"):
            queryset = queryset.filter(year=data["year"])
        else:
            queryset = queryset.current(timezone.localdate())
        level = data.get("level")
        if not level:
            queryset = queryset.exclude(level=HealthLevel.GREEN)
        elif level != "all":
            queryset = queryset.filter(level=level)
        if data.get("q"):
            queryset = queryset.filter(structure__name__icontains=data["q"].strip())
        if data.get("department"):
            queryset = queryset.filter(structure__commune__department_id=data["department"])
        if data.get("kind"):
            queryset = queryset.filter(structure__kind=data["kind"])
        queryset = queryset.with_acknowledgement()
        if data.get("acknowledged") == "yes":
            queryset = queryset.filter(acknowledged=True)
        elif data.get("acknowledged") == "no":
            queryset = queryset.filter(acknowledged=False)
        # The primary key breaks ties, so that no status shows on two pages.
        return queryset.order_by(*SORTS[self.sort_key][1], "pk")


class AcknowledgementForm(CadreForm, forms.ModelForm):
    comment = forms.CharField(
        label="Commentaire",
        help_text="Ce que vous savez de la situation, ce qui est fait ou prévu (visible des autres partenaires).",
        widget=forms.Textarea(attrs={"rows": 4}),
        max_length=2000,
        error_messages={"required": "Écrivez un commentaire : il dit aux autres partenaires ce qui est fait."},
    )

    class Meta:
        model = AlertAcknowledgement
        fields = ["comment"]

    def clean_comment(self):
        comment = self.cleaned_data["comment"].strip()
        if not comment:
            raise forms.ValidationError("Écrivez un commentaire : il dit aux autres partenaires ce qui est fait.")
        return comment
