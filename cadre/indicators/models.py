"""Indicator definitions (versioned, built in forms: no expression is typed) and their values,
materialised by territory and campaign year."""

import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

from cadre.observatory.models import NUMERIC_KINDS, Question, QuestionKind
from cadre.structures.models import (
    ApprovalKind,
    Management,
    PriorityAreaStatus,
    StructureKind,
    TerritoryType,
)


class IndicatorKind(models.TextChoices):
    COUNT = "count", "Nombre de structures"
    SHARE = "share", "Part des structures qui remplissent une condition"
    SUM = "sum", "Somme d'une réponse chiffrée"
    MEAN = "mean", "Moyenne d'une réponse chiffrée"
    MEDIAN = "median", "Médiane et quartiles d'une réponse chiffrée"
    RATIO = "ratio", "Rapport de deux sommes"


class Theme(models.TextChoices):
    KEY_FIGURES = "key_figures", "Chiffres clés"
    PUBLICS = "publics", "Publics"
    GOVERNANCE = "governance", "Gouvernance et participation"
    PARTNERSHIPS = "partnerships", "Partenariats"
    HUMAN_RESOURCES = "human_resources", "Ressources humaines"
    FINANCES = "finances", "Finances"


class Operator(models.TextChoices):
    YES = "yes", "est « oui »"
    NO = "no", "est « non »"
    ANY_OF = "any_of", "comprend l'un des choix"
    GT = "gt", "est supérieure à"
    GTE = "gte", "est supérieure ou égale à"
    LT = "lt", "est inférieure à"
    LTE = "lte", "est inférieure ou égale à"
    ANSWERED = "answered", "a une réponse"


class AreaFilter(models.TextChoices):
    ANY = "", "toutes"
    IN_AREA = "in_area", "implantées dans un QPV"
    NOT_IN_AREA = "not_in_area", "non implantées dans un QPV"


class Level(models.TextChoices):
    NATIONAL = "national", "France"
    REGION = "region", "Région"
    DEPARTMENT = "department", "Département"
    EPCI = "epci", "EPCI"
    COMMUNE = "commune", "Commune"


LEVELS = [Level.NATIONAL, Level.REGION, Level.DEPARTMENT, Level.EPCI, Level.COMMUNE]

# Registry facts an indicator may read: (label, kind, choices). Kinds as the questions' kinds.
REGISTRY_FIELDS = {
    "served_population": ("Population de la zone de compétence (répertoire)", QuestionKind.INTEGER, None),
    "multi_site": ("Multi-sites (répertoire)", QuestionKind.BOOLEAN, None),
    "itinerant": ("Itinérant (répertoire)", QuestionKind.BOOLEAN, None),
    "serves_travellers": ("Accueil des gens du voyage (répertoire)", QuestionKind.BOOLEAN, None),
    "management": ("Mode de gestion (répertoire)", QuestionKind.CHOICE, Management),
    "priority_area_status": ("Lien avec un QPV (répertoire)", QuestionKind.CHOICE, PriorityAreaStatus),
    "territory_type": ("Territoire d'intervention (répertoire)", QuestionKind.CHOICE, TerritoryType),
}
STRUCTURES = "structures"  # a ratio's denominator: the number of structures


def source_parts(source):
    """("question", code) or ("registry", field) or ("structures", "") of a stored source."""
    if source == STRUCTURES:
        return STRUCTURES, ""
    origin, _, name = source.partition(":")
    return origin, name


class IndicatorQuerySet(models.QuerySet):
    def current(self):
        return self.filter(replaced_at__isnull=True)

    def visible_to(self, user):
        """Definitions are not confidential: everyone signed in sees them, the public the published ones."""
        if user.is_authenticated and user.is_active:
            return self.all()
        return self.filter(is_public=True)


class Indicator(models.Model):
    """One version of an indicator: editing one creates the next version (the old one and its
    values are kept), so a figure always links to the method that computed it."""

    uuid = models.UUIDField("identifiant public", default=uuid.uuid4, unique=True, editable=False)
    code = models.SlugField("code", max_length=60, help_text="stable d'une version à l'autre")
    version = models.PositiveIntegerField("version", default=1, editable=False)
    title = models.CharField("intitulé", max_length=200)
    theme = models.CharField("thème", max_length=20, choices=Theme.choices)
    position = models.PositiveIntegerField("ordre dans le thème", default=0)
    kind = models.CharField("calcul", max_length=10, choices=IndicatorKind.choices)
    unit = models.CharField("unité", max_length=30, blank=True, help_text="par exemple : %, €, ETP, personnes")
    decimals = models.PositiveSmallIntegerField("décimales", default=0)
    method = models.TextField("méthode", help_text="ce que mesure l'indicateur et comment, en français courant")
    is_public = models.BooleanField("publié en données ouvertes", default=False)
    # The population: structures with a validated questionnaire that year, then these filters.
    structure_kinds = models.JSONField("types de structure", default=list, blank=True)
    managements = models.JSONField("modes de gestion", default=list, blank=True)
    priority_area = models.CharField("QPV", max_length=20, choices=AreaFilter.choices, blank=True)
    approval_kinds = models.JSONField("agréments", default=list, blank=True)
    # What is read: « question:code » or « registry:field ».
    source = models.CharField("donnée lue", max_length=80, blank=True)
    operator = models.CharField("condition", max_length=10, choices=Operator.choices, blank=True)
    threshold = models.DecimalField("seuil", max_digits=16, decimal_places=4, null=True, blank=True)
    choice_codes = models.JSONField("choix retenus", default=list, blank=True)
    denominator = models.CharField("dénominateur", max_length=80, blank=True)
    created_at = models.DateTimeField("créée le", auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name="par", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    replaced_at = models.DateTimeField("remplacée le", null=True, blank=True)

    objects = IndicatorQuerySet.as_manager()

    class Meta:
        verbose_name = "indicateur"
        verbose_name_plural = "indicateurs"
        ordering = ["theme", "position", "code", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["code", "version"], name="indicator_unique_version"),
            models.UniqueConstraint(
                fields=["code"], condition=models.Q(replaced_at__isnull=True), name="indicator_one_current"
            ),
        ]

    def __str__(self):
        return self.title

    @property
    def is_current(self):
        return self.replaced_at is None

    def read_sources(self):
        """The sources this indicator reads (for the method and for the question loading)."""
        return [s for s in (self.source, self.denominator) if s and s != STRUCTURES]

    def question_codes(self):
        return sorted({name for origin, name in map(source_parts, self.read_sources()) if origin == "question"})

    def clean(self):
        """French messages at the field at fault: a definition that reads the wrong kind of answer,
        divides by nothing or has an empty population is refused when saved."""
        errors = {}
        kind = self.kind
        needs_source = kind != IndicatorKind.COUNT
        if needs_source and not self.source:
            errors["source"] = "Choisissez la donnée que l'indicateur lit."
        source_kind, choices = (None, None)
        if self.source:
            source_kind, choices, problem = describe_source(self.source)
            if problem:
                errors["source"] = problem
        if source_kind and kind in (IndicatorKind.SUM, IndicatorKind.MEAN, IndicatorKind.MEDIAN, IndicatorKind.RATIO):
            if source_kind not in NUMERIC_KINDS:
                errors["source"] = (
                    f"Une {IndicatorKind(kind).label.lower()} se calcule sur une réponse chiffrée : cette donnée est "
                    f"de type « {QuestionKind(source_kind).label} »."
                )
        if kind == IndicatorKind.SHARE and source_kind:
            self._clean_condition(errors, source_kind, choices)
        if kind == IndicatorKind.RATIO:
            if not self.denominator:
                errors["denominator"] = "Choisissez le dénominateur : une réponse chiffrée, ou les structures."
            elif self.denominator != STRUCTURES:
                denominator_kind, _, problem = describe_source(self.denominator)
                if problem:
                    errors["denominator"] = problem
                elif denominator_kind not in NUMERIC_KINDS:
                    errors["denominator"] = "Le dénominateur d'un rapport doit être une réponse chiffrée."
                elif self.denominator == self.source:
                    errors["denominator"] = "Le numérateur et le dénominateur sont la même donnée : le rapport vaut 1."
        elif self.denominator:
            errors["denominator"] = "Seul un rapport a un dénominateur."
        self._clean_population(errors)
        if errors:
            raise ValidationError(errors)

    def _clean_condition(self, errors, source_kind, choices):
        operator = self.operator
        if not operator:
            errors["operator"] = "Choisissez la condition que les structures comptées remplissent."
        elif operator in (Operator.YES, Operator.NO) and source_kind != QuestionKind.BOOLEAN:
            errors["operator"] = "« oui » ou « non » ne s'applique qu'à une question oui / non."
        elif operator == Operator.ANY_OF:
            if choices is None:
                errors["operator"] = "« l'un des choix » ne s'applique qu'à une question à choix."
            elif not self.choice_codes:
                errors["choice_codes"] = "Cochez au moins un choix."
            else:
                unknown = sorted(set(self.choice_codes) - set(choices))
                if unknown:
                    errors["choice_codes"] = f"Choix inconnus de cette question : {', '.join(unknown)}."
        elif operator in (Operator.GT, Operator.GTE, Operator.LT, Operator.LTE):
            if source_kind not in NUMERIC_KINDS:
                errors["operator"] = "Une comparaison à un seuil ne s'applique qu'à une réponse chiffrée."
            elif self.threshold is None:
                errors["threshold"] = "Indiquez le seuil."

    def _clean_population(self, errors):
        kinds = set(self.structure_kinds) or set(StructureKind.values)
        approvals = set(self.approval_kinds)
        possible = set()
        for kind in kinds:
            possible |= {
                StructureKind.CENTRE_SOCIAL: {ApprovalKind.SOCIAL_PROJECT, ApprovalKind.FAMILY_PROJECT},
                StructureKind.EVS: {ApprovalKind.EVS},
            }[kind]
        if approvals and not approvals & possible:
            errors["approval_kinds"] = (
                "Aucune structure de ces types n'a ces agréments : la population de l'indicateur serait vide."
            )
        if self.source and not errors.get("source"):
            origin, name = source_parts(self.source)
            if origin == "question":
                asked = set()
                for applies_to in Question.objects.filter(code=name).values_list("applies_to", flat=True):
                    asked |= set(applies_to or StructureKind.values)
                if asked and not asked & kinds:
                    errors["structure_kinds"] = (
                        "Cette question n'est posée à aucun de ces types de structure : la population serait vide."
                    )


def describe_source(source):
    """(answer kind, choice codes or None, French problem or "") of a source."""
    origin, name = source_parts(source)
    if origin == "registry":
        if name not in REGISTRY_FIELDS:
            return None, None, f"« {name} » n'est pas une donnée du répertoire."
        _, kind, choices = REGISTRY_FIELDS[name]
        return kind, (list(choices.values) if choices else None), ""
    if origin == "question":
        question = Question.objects.filter(code=name).order_by("-questionnaire__version").first()
        if question is None:
            return None, None, f"Aucun questionnaire n'a de question « {name} »."
        choices = [c["code"] for c in question.choices] if question.choices else None
        return question.kind, choices, ""
    return None, None, f"« {source} » n'est ni une question ni une donnée du répertoire."


class IndicatorValue(models.Model):
    """The value of one indicator version for one territory and one campaign year, with the number
    of structures behind it; `reason` says why it is not computable (value empty)."""

    indicator = models.ForeignKey(Indicator, on_delete=models.CASCADE, related_name="values")
    year = models.PositiveIntegerField("année")
    level = models.CharField("échelon", max_length=12, choices=Level.choices)
    territory = models.CharField("code du territoire", max_length=12, blank=True)
    value = models.DecimalField("valeur", max_digits=20, decimal_places=6, null=True, blank=True)
    numerator = models.DecimalField("numérateur", max_digits=20, decimal_places=6, null=True, blank=True)
    denominator = models.DecimalField("dénominateur", max_digits=20, decimal_places=6, null=True, blank=True)
    first_quartile = models.DecimalField("premier quartile", max_digits=20, decimal_places=6, null=True, blank=True)
    third_quartile = models.DecimalField("troisième quartile", max_digits=20, decimal_places=6, null=True, blank=True)
    structure_count = models.PositiveIntegerField("structures", default=0)
    reason = models.CharField("non calculable parce que", max_length=300, blank=True)
    computed_at = models.DateTimeField("calculée le", auto_now=True)

    class Meta:
        verbose_name = "valeur d'indicateur"
        verbose_name_plural = "valeurs d'indicateurs"
        constraints = [
            models.UniqueConstraint(fields=["indicator", "year", "level", "territory"], name="indicator_value_unique")
        ]
        indexes = [models.Index(fields=["year", "level", "territory"], name="indicator_value_place")]

    def __str__(self):
        return f"{self.indicator.code} {self.year} {self.level} {self.territory}: {self.value}"
