"""The form in which administrators define an indicator: every choice is a list built from the
questionnaires and the registry, nothing is typed that gets evaluated. Saving goes through
`define_indicator`, which checks the definition (French messages by field) and keeps the old version."""

import decimal

from django import forms
from django.db.models import Prefetch
from django.utils import timezone
from django.utils.html import conditional_escape
from django.utils.safestring import mark_safe

from cadre.core.forms import CadreForm, FastSelect, FieldsetsMixin, FrenchDecimalField, html_attributes
from cadre.indicators.actions import DEFINING_FIELDS
from cadre.indicators.models import (
    REGISTRY_FIELDS,
    STRUCTURES,
    AreaFilter,
    Indicator,
    IndicatorKind,
    Operator,
    Theme,
)
from cadre.observatory.models import NUMERIC_KINDS, Question, QuestionKind, Questionnaire, Section
from cadre.structures.models import ApprovalKind, Management, StructureKind

COMPARISONS = {Operator.GT, Operator.GTE, Operator.LT, Operator.LTE}
LABEL_LENGTH = 90
# The fields of the « calcul » block, refreshed (htmx, or the no-JS button) when the kind, the source or
# the operator changes: what is shown depends on them.
CALCULATION_FIELDS = ["kind", "source", "operator", "threshold", "choice_codes", "denominator"]
REFRESHING_FIELDS = ["kind", "source", "operator"]
LIST_FIELDS = ["choice_codes", "structure_kinds", "managements", "approval_kinds"]


def _short(text):
    return text if len(text) <= LABEL_LENGTH else text[: LABEL_LENGTH - 1].rstrip() + "…"


class Sources:
    """What an indicator may read: the questions of the questionnaires (by questionnaire and section,
    each code once, from its latest version) and the registry facts, with their kind and choices."""

    def __init__(self):
        self.kinds = {}
        self.choices = {}
        self.groups = []
        self.numeric_groups = []
        seen = set()
        questionnaires = Questionnaire.objects.order_by("code", "-version").prefetch_related(
            Prefetch(
                "sections",
                queryset=Section.objects.order_by("position").prefetch_related(
                    Prefetch("questions", queryset=Question.objects.order_by("position"))
                ),
            )
        )
        for questionnaire in questionnaires:
            for section in questionnaire.sections.all():
                options, numeric = [], []
                for question in section.questions.all():
                    if question.code in seen:
                        continue
                    seen.add(question.code)
                    value = f"question:{question.code}"
                    label = f"{question.code} — {_short(question.label)} ({question.get_kind_display()})"
                    self.kinds[value] = question.kind
                    self.choices[value] = [(c["code"], c["label"]) for c in question.choices] or None
                    options.append((value, label))
                    if question.kind in NUMERIC_KINDS:
                        numeric.append((value, label))
                group = f"{questionnaire.title} (version {questionnaire.version}) — {section.title}"
                if options:
                    self.groups.append((group, options))
                if numeric:
                    self.numeric_groups.append((group, numeric))
        registry, registry_numeric = [], []
        for name, (label, kind, choices) in REGISTRY_FIELDS.items():
            value = f"registry:{name}"
            option = (value, f"{name} — {label.removesuffix(' (répertoire)')} ({QuestionKind(kind).label})")
            self.kinds[value] = kind
            self.choices[value] = [(str(c), str(text)) for c, text in choices.choices] if choices else None
            registry.append(option)
            if kind in NUMERIC_KINDS:
                registry_numeric.append(option)
        self.groups.append(("Répertoire des structures", registry))
        if registry_numeric:
            self.numeric_groups.append(("Répertoire des structures", registry_numeric))

    _current = (None, None)  # (stamp of the questionnaires, their Sources), per process

    @classmethod
    def current(cls):
        """The Sources of the questionnaires loaded now, built once per state of them: a questionnaire's
        questions change only with a new row (a new version, or a version replaced, before any campaign
        used it, by a new one with its new digest)."""
        stamp = tuple(Questionnaire.objects.order_by("pk").values_list("pk", "digest"))
        if cls._current[0] != stamp:
            cls._current = (stamp, cls())
        return cls._current[1]

    def source_choices(self):
        return [("", "— choisir —"), *self.groups]

    def denominator_choices(self):
        return [("", "—"), (STRUCTURES, "Les structures (leur nombre)"), *self.numeric_groups]


class OptionsInPython:
    """Each option of a list of checkboxes or radio buttons written in plain Python, in the DSFR markup (its input,
    then its label): the template per option, with Django's input.html inside it, cost a third of the form.

    django-dsfr's snippet draws the field option by option (`{{ subwidget }}`), which renders the option template
    through `_render`; that template is written here instead."""

    option_template_name = "indicators/definitions/_option.html"  # in Django's own drawing of the whole widget
    option_group = ""

    def _render(self, template_name, context, renderer=None):
        if template_name != self.option_template_name:
            return super()._render(template_name, context, renderer)
        option = context["widget"]
        attrs = {"type": option["type"], "name": option["name"]}
        if option["value"] is not None:
            attrs["value"] = option["value"]
        for name, value in option["attrs"].items():
            attrs.setdefault(name, value)
        label_for, label = conditional_escape(option["attrs"]["id"]), conditional_escape(option["label"])
        return mark_safe(
            f'<div class="{self.option_group} {self.option_group}--sm">\n  <input{html_attributes(attrs)}>\n'
            f'  <label class="fr-label" for="{label_for}">{label}</label>\n</div>'
        )


class Checkboxes(OptionsInPython, forms.CheckboxSelectMultiple):
    """Checkboxes in the DSFR markup (the field is drawn by django-dsfr's snippet for checkbox lists)."""

    option_group = "fr-checkbox-group"


class RadioButtons(OptionsInPython, forms.RadioSelect):
    option_group = "fr-radio-group"


class InlineCheckboxes(Checkboxes):
    inline = True


class InlineRadioButtons(RadioButtons):
    inline = True


CHECKBOXES = {"widget": Checkboxes, "template_name": "dsfr/form_field_snippets/checkboxselectmultiple_snippet.html"}
INLINE_CHECKBOXES = {**CHECKBOXES, "widget": InlineCheckboxes}
INLINE_RADIOS = {"widget": InlineRadioButtons, "template_name": "dsfr/form_field_snippets/radioselect_snippet.html"}


class ChoiceCodesField(forms.MultipleChoiceField):
    """The choices kept by « comprend l'un des choix »: the checkboxes are the chosen source's choices;
    codes are checked against the question by the model (« Choix inconnus de cette question »)."""

    def valid_value(self, value):
        return True


def _plain_decimal(value):
    """1000.0000 → 1000, 2.5000 → 2.5 (as a person writes it in the form)."""
    if value is None:
        return None
    return value.quantize(decimal.Decimal(1)) if value == value.to_integral_value() else value.normalize()


class IndicatorForm(FieldsetsMixin, CadreForm):
    code = forms.SlugField(
        label="Code",
        max_length=60,
        help_text="Identifiant stable de l'indicateur : lettres minuscules, chiffres et tirets bas ; il ne change "
        "plus d'une version à l'autre.",
    )
    title = forms.CharField(label="Intitulé", max_length=200)
    theme = forms.ChoiceField(label="Thème", choices=[("", "— choisir —"), *Theme.choices])
    position = forms.IntegerField(label="Ordre dans le thème", min_value=0, max_value=10000, initial=0)
    unit = forms.CharField(
        label="Unité", max_length=30, required=False, help_text="Par exemple : %, €, ETP, personnes."
    )
    decimals = forms.IntegerField(label="Décimales affichées", min_value=0, max_value=6, initial=0)
    method = forms.CharField(
        label="Méthode",
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="Ce que mesure l'indicateur et comment, en français courant : ce texte accompagne chaque valeur.",
    )
    is_public = forms.BooleanField(
        label="Publié en données ouvertes",
        required=False,
        help_text="Les valeurs reposant sur trop peu de structures restent couvertes par le secret statistique.",
    )
    kind = forms.ChoiceField(label="Calcul", choices=[("", "— choisir —"), *IndicatorKind.choices])
    source = forms.ChoiceField(
        label="Donnée lue",
        required=False,
        widget=FastSelect,  # every question of the questionnaires
        help_text="Une question des questionnaires (code — libellé, type) ou une donnée du répertoire.",
    )
    operator = forms.ChoiceField(
        label="Condition",
        required=False,
        choices=[("", "— choisir —"), *Operator.choices],
        help_text="Pour une part : ce que remplissent les structures comptées au numérateur.",
    )
    threshold = FrenchDecimalField(
        label="Seuil",
        required=False,
        max_digits=16,
        decimal_places=4,
        localize=True,
        help_text="Pour une comparaison (supérieure, inférieure…) ; par exemple 1 000 ou 0,5.",
    )
    choice_codes = ChoiceCodesField(
        label="Choix retenus",
        required=False,
        **CHECKBOXES,
        help_text="Pour « comprend l'un des choix » : une structure est comptée si sa réponse est l'un d'eux.",
    )
    denominator = forms.ChoiceField(
        label="Dénominateur",
        required=False,
        widget=FastSelect,
        help_text="Pour un rapport : une réponse chiffrée, ou les structures (leur nombre).",
    )
    structure_kinds = forms.MultipleChoiceField(
        label="Types de structure",
        required=False,
        choices=StructureKind.choices,
        **INLINE_CHECKBOXES,
        help_text="Aucun coché : tous les types.",
    )
    managements = forms.MultipleChoiceField(
        label="Modes de gestion",
        required=False,
        choices=Management.choices,
        **INLINE_CHECKBOXES,
        help_text="Aucun coché : tous les modes de gestion.",
    )
    priority_area = forms.ChoiceField(
        label="Quartiers prioritaires (QPV)",
        required=False,
        choices=AreaFilter.choices,
        **INLINE_RADIOS,
    )
    approval_kinds = forms.MultipleChoiceField(
        label="Agréments",
        required=False,
        choices=ApprovalKind.choices,
        **INLINE_CHECKBOXES,
        help_text="Aucun coché : quel que soit l'agrément.",
    )
    # The source whose choices were shown as checkboxes: a change of source voids the codes checked.
    choices_for = forms.CharField(widget=forms.HiddenInput, required=False)
    # The version the definition was read at: a newer one saved meanwhile is never silently replaced.
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    fieldsets = [
        ("Présentation", ["code", "title", "theme", "position", "unit", "decimals", "method", "is_public"]),
        ("Calcul", CALCULATION_FIELDS),
        (
            "Population : les structures dont le questionnaire de l'année est validé, puis ces filtres",
            ["structure_kinds", "managements", "priority_area", "approval_kinds"],
        ),
    ]

    def __init__(self, data=None, *, indicator=None, refresh_url="", sources=None, **kwargs):
        self.indicator = indicator
        if indicator is not None:
            initial = {name: getattr(indicator, name) for name in DEFINING_FIELDS}
            initial["threshold"] = _plain_decimal(indicator.threshold)
            initial["version"] = indicator.version
            kwargs["initial"] = {**initial, **kwargs.get("initial", {})}
        super().__init__(data, **kwargs)
        self.sources = sources or Sources.current()
        if indicator is not None:
            del self.fields["code"]
        self.fields["source"].choices = self.sources.source_choices()
        self.fields["denominator"].choices = self.sources.denominator_choices()
        if indicator is not None:
            # A stored source no longer offered stays selected, so that the check says what is wrong with it.
            for name in ("source", "denominator"):
                stored = getattr(indicator, name)
                if stored and stored != STRUCTURES and stored not in self.sources.kinds:
                    self.fields[name].choices = [
                        *self.fields[name].choices,
                        ("Donnée enregistrée, introuvable aujourd'hui", [(stored, f"{stored} (introuvable)")]),
                    ]
        source = self._value("source")
        self.fields["choice_codes"].choices = self.sources.choices.get(source) or []
        self._require_what_applies()
        self.posted_choices_for = self.data.get("choices_for") if self.is_bound else None
        self.initial["choices_for"] = source
        if self.is_bound:
            # The checkboxes shown from now on are those of the source as posted.
            self.data = self.data.copy()
            self.data["choices_for"] = source
        if refresh_url:
            for name in REFRESHING_FIELDS:
                self.fields[name].widget.attrs.update(
                    {
                        "hx-post": refresh_url,
                        "hx-trigger": "change",
                        "hx-target": "#definition-calculation",
                        "hx-swap": "outerHTML",
                        "hx-include": "closest form",
                        "hx-vals": '{"refresh": "1"}',
                        "hx-sync": "closest form:replace",
                    }
                )
        self.conflict = None

    def _require_what_applies(self):
        """Mark as required the calculation fields that the chosen kind and condition need (the model checks
        them, see full_clean)."""
        kind, operator = self._value("kind"), self._value("operator")
        needed = []
        if kind and kind != IndicatorKind.COUNT:
            needed.append("source")
        if kind == IndicatorKind.SHARE:
            needed.append("operator")
            if operator in COMPARISONS:
                needed.append("threshold")
            if operator == Operator.ANY_OF and self.fields["choice_codes"].choices:
                needed.append("choice_codes")
        if kind == IndicatorKind.RATIO:
            needed.append("denominator")
        self.marked_required = needed
        for name in needed:
            self.fields[name].required = True

    def full_clean(self):
        # Required in the page only: Indicator.clean() says what is missing, with every other problem at once.
        for name in self.marked_required:
            self.fields[name].required = False
        try:
            super().full_clean()
        finally:
            for name in self.marked_required:
                self.fields[name].required = True

    @classmethod
    def refreshed(cls, data, **kwargs):
        """The form as posted, unbound (nothing checked, no error shown): after a change of kind, source or
        operator, the calculation block shows the fields and the choices that now apply."""
        probe = cls(data, **kwargs)
        initial = {
            name: field.widget.value_from_datadict(probe.data, probe.files, probe.add_prefix(name))
            for name, field in probe.fields.items()
        }
        if (initial.get("source") or "") != (probe.posted_choices_for or ""):
            initial["choice_codes"] = []  # the checkboxes were another source's
        kwargs["sources"] = probe.sources
        return cls(initial=initial, **kwargs)

    def _value(self, name):
        if name not in self.fields:
            return None
        return self[name].value() or ""

    # -- what is shown ---------------------------------------------------------------------------

    def shown_calculation_fields(self):
        """The calculation fields that apply to the kind and the condition chosen (all of them while they are not)."""
        kind = self._value("kind")
        shown = ["kind"]
        if kind != IndicatorKind.COUNT:
            shown.append("source")
        if kind in ("", IndicatorKind.SHARE):
            operator = self._value("operator")
            shown.append("operator")
            if operator in ("", *COMPARISONS):
                shown.append("threshold")
            if operator in ("", Operator.ANY_OF) and self.fields["choice_codes"].choices:
                shown.append("choice_codes")
        if kind in ("", IndicatorKind.RATIO):
            shown.append("denominator")
        # A field at fault is always shown with its message.
        return [name for name in CALCULATION_FIELDS if name in shown or self.errors.get(name)]

    def grouped_fields(self):
        groups = []
        for legend, names in self.fieldsets:
            if names is CALCULATION_FIELDS:
                names = self.shown_calculation_fields()
            groups.append((legend, [self[name] for name in names if name in self.fields]))
        return groups

    def calculation_fields(self):
        return [self[name] for name in self.shown_calculation_fields()]

    def source_has_choices(self):
        return bool(self.fields["choice_codes"].choices)

    # -- checks ----------------------------------------------------------------------------------

    def clean_code(self):
        code = self.cleaned_data["code"]
        existing = Indicator.objects.filter(code=code).order_by("-version").first()
        if existing is not None:
            raise forms.ValidationError(
                f"Le code « {code} » est déjà celui de l'indicateur « {existing.title} » : modifiez-le plutôt, ou "
                "choisissez un autre code."
            )
        return code

    def clean(self):
        cleaned = super().clean()
        kind = cleaned.get("kind")
        operator = cleaned.get("operator")
        # What does not apply to the kind (or the condition) chosen is not kept.
        if kind == IndicatorKind.COUNT:
            cleaned["source"] = ""
        if kind != IndicatorKind.SHARE:
            cleaned["operator"], operator = "", ""
        if operator not in COMPARISONS:
            cleaned["threshold"] = None
        if operator != Operator.ANY_OF:
            cleaned["choice_codes"] = []
        elif cleaned.get("choice_codes") and self.posted_choices_for != (cleaned.get("source") or ""):
            self.add_error(
                "choice_codes",
                "Vous avez changé la donnée lue : les choix cochés étaient ceux de la précédente. Cochez maintenant "
                "les choix de la nouvelle donnée.",
            )
        if kind != IndicatorKind.RATIO:
            cleaned["denominator"] = ""
        if kind:
            self._check_definition(cleaned)
        return cleaned

    def _check_definition(self, cleaned):
        """The model's checks of the calculation and the population, so that their messages come with those
        of the other fields (define_indicator checks again when saving)."""
        probe = Indicator(
            kind=cleaned.get("kind"),
            threshold=cleaned.get("threshold"),
            **{name: cleaned.get(name) or "" for name in ("source", "operator", "denominator", "priority_area")},
            **{name: list(cleaned.get(name) or []) for name in LIST_FIELDS},
        )
        try:
            probe.clean()
        except forms.ValidationError as error:
            for name, messages in error.message_dict.items():
                if name in self.fields and name not in self.errors:
                    self.add_error(name, messages)

    def definition(self):
        """The fields given to `define_indicator` (lists in the order stored when they are unchanged, so that
        an untouched form is recognised as such)."""
        fields = {name: self.cleaned_data.get(name) for name in DEFINING_FIELDS}
        fields["unit"] = (fields["unit"] or "").strip()
        fields["title"] = fields["title"].strip()
        fields["method"] = fields["method"].strip()
        for name in LIST_FIELDS:
            values = list(fields[name] or [])
            stored = getattr(self.indicator, name, None) if self.indicator is not None else None
            fields[name] = list(stored) if stored is not None and set(stored) == set(values) else values
        for name in ("source", "operator", "denominator", "priority_area"):
            fields[name] = fields[name] or ""
        return fields

    def add_definition_errors(self, error):
        """Show the French messages of a refused definition at their fields."""
        for name, messages in error.message_dict.items():
            if name in self.fields:
                self.add_error(name, messages)
            else:
                label = Indicator._meta.get_field(name).verbose_name if name != "__all__" else ""
                for message in messages:
                    self.add_error(None, f"{str(label).capitalize()} : {message}" if label else message)

    def show_conflict(self, read, latest):
        """A newer version was saved since `read` (the version this form was opened at): say who, what changed,
        and keep the user's input; saving again (now against `latest`) is a deliberate choice."""
        author = latest.created_by.display_name if latest.created_by else "quelqu'un d'autre"
        self.conflict = [
            {**change, "seen": change["old"], "current": change["new"], "by": author, "at": latest.created_at}
            for change in latest.differences(read)
        ]
        at = timezone.localtime(latest.created_at)
        self.add_error(
            None,
            f"Rien n'a été enregistré : pendant votre saisie, {author} a enregistré la version {latest.version} de "
            f"cet indicateur (le {at:%d/%m/%Y à %H:%M}). Ses changements sont ci-dessous. Pour garder les vôtres à "
            "la place, vérifiez le formulaire puis enregistrez à nouveau.",
        )
        data = self.data.copy()
        data["version"] = latest.version
        self.data = data
