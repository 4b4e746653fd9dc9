"""Indicator definitions (versioned, built in forms: no expression is typed) and their values,
materialised by territory and campaign year."""

import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.functional import cached_property

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

    # -- in plain French (read only: the definition pages, the history of versions) -------------------

    def describe(self):
        """[(heading, sentence)]: what the indicator computes, what it reads and on which structures."""
        reads = self._source_phrase(self.source) if self.source else ""
        # « des réponses à … » / « des données du répertoire … »: what a sum, a mean or a median runs over.
        of_all = self._source_phrase(self.source, many=True) if self.source else ""
        kind = self.kind
        if kind == IndicatorKind.COUNT:
            computed = "Nombre de structures de la population."
        elif kind == IndicatorKind.SHARE:
            computed = f"Part des structures de la population dont {reads} {self._condition_phrase()}"
            if self.operator == Operator.ANSWERED:
                computed += " : toutes les structures de la population comptent au dénominateur."
            else:
                computed += ", parmi celles qui ont répondu (une structure sans réponse n'est comptée nulle part)."
        elif kind == IndicatorKind.SUM:
            computed = f"Somme {of_all}, sur les structures qui ont répondu."
        elif kind == IndicatorKind.MEAN:
            computed = f"Moyenne {of_all}, sur les structures qui ont répondu."
        elif kind == IndicatorKind.MEDIAN:
            computed = f"Médiane, premier et troisième quartiles {of_all}, sur les structures qui ont répondu."
        else:
            if self.denominator == STRUCTURES:
                below = "le nombre de structures qui ont répondu"
            else:
                below = f"la somme {self._source_phrase(self.denominator, many=True)}"
            computed = f"Somme {of_all} divisée par {below}"
            computed += ", multipliée par 100 (unité %)." if self.unit == "%" else "."
            computed += " C'est un rapport de sommes, jamais une moyenne de rapports."
        rows = [("Calcul", computed)]
        read = [self._source_phrase(s, with_kind=True) for s in self.read_sources()]
        read = " ; ".join(read)
        rows.append(
            ("Données lues", f"{read[:1].upper()}{read[1:]}." if read else "Aucune : on compte les structures.")
        )
        rows.append(("Population", self._population_phrase()))
        return rows

    def _condition_phrase(self):
        operator = self.operator
        if operator == Operator.ANY_OF:
            return f"{Operator(operator).label} : {self.field_display('choice_codes')}"
        if operator in (Operator.GT, Operator.GTE, Operator.LT, Operator.LTE):
            from cadre.observatory.models import format_number

            threshold = "?" if self.threshold is None else format_number(self.threshold)
            return f"{Operator(operator).label} {threshold}"
        if operator == Operator.ANSWERED:
            return "est renseignée"
        return Operator(operator).label if operator else "(condition à choisir)"

    def _population_phrase(self):
        if self.structure_kinds:
            kinds = " ou ".join(f"« {StructureKind(k).label} »" for k in self.structure_kinds)
            parts = [f"structures de type {kinds} dont le questionnaire de l'année est validé"]
        else:
            parts = [
                "structures (centres sociaux et espaces de vie sociale) dont le questionnaire de l'année est validé"
            ]
        if self.managements:
            parts.append("de mode de gestion " + " ou ".join(f"« {Management(m).label} »" for m in self.managements))
        if self.priority_area:
            parts.append(AreaFilter(self.priority_area).label)
        if self.approval_kinds:
            parts.append("ayant l'agrément " + " ou ".join(f"« {ApprovalKind(a).label} »" for a in self.approval_kinds))
        text = ", ".join(parts)
        return text[0].upper() + text[1:] + "."

    def field_display(self, name):
        """One defining field as a person reads it (labels, not codes)."""
        value = getattr(self, name)
        if name in ("theme", "kind", "operator"):
            return getattr(self, f"get_{name}_display")() if value else "—"
        if name == "priority_area":
            return AreaFilter(value).label
        if name == "is_public":
            return "oui" if value else "non"
        if name in ("source", "denominator"):
            return self._source_phrase(value, with_kind=True) if value else "—"
        if name == "threshold":
            from cadre.observatory.models import format_number

            return "—" if value is None else format_number(value)
        if name == "choice_codes":
            labels = self._choice_labels(self.source)
            return ", ".join(labels.get(code, code) for code in value) if value else "—"
        if name in ("structure_kinds", "managements", "approval_kinds"):
            choices = {"structure_kinds": StructureKind, "managements": Management, "approval_kinds": ApprovalKind}
            labels = dict(choices[name].choices)
            return ", ".join(str(labels.get(v, v)) for v in value) if value else "tous"
        if value in (None, ""):
            return "—"
        return str(value)

    def differences(self, other):
        """[{field, label, old, new}] of the defining fields in which `other` (an earlier version) differs."""
        from cadre.indicators.actions import DEFINING_FIELDS

        return [
            {
                "field": name,
                "label": str(self._meta.get_field(name).verbose_name),
                "old": other.field_display(name),
                "new": self.field_display(name),
            }
            for name in DEFINING_FIELDS
            if getattr(self, name) != getattr(other, name)
        ]

    @cached_property
    def named_questions(self):
        """{code: question} of the questions this version reads, as the latest questionnaire version asks them: read
        once for every sentence naming them (`share_named_questions` reads them once for several versions)."""
        return latest_questions(self.question_codes())

    def _source_phrase(self, source, *, with_kind=False, many=False):
        """« la réponse à … » of a stored source, in French (for the plain-French definition); `many`:
        « des réponses à … », as in « somme des réponses à … »."""
        origin, name = source_parts(source)
        if origin == STRUCTURES:
            return "les structures (leur nombre)"
        if origin == "registry" and name in REGISTRY_FIELDS:
            label, kind, _ = REGISTRY_FIELDS[name]
            what = "des données" if many else "la donnée"
            text = f"{what} du répertoire « {label.removesuffix(' (répertoire)')} »"
            return f"{text} ({QuestionKind(kind).label})" if with_kind else text
        if origin == "question":
            question = self.named_questions.get(name)
            if question is None:
                return f"{'de ' if many else ''}la question « {name} » (introuvable dans les questionnaires)"
            text = f"{'des réponses' if many else 'la réponse'} à « {question.label} »"
            return f"{text} (question {name}, {question.get_kind_display()})" if with_kind else text
        return f"« {source} »"

    def _choice_labels(self, source):
        origin, name = source_parts(source or "")
        if origin == "registry" and name in REGISTRY_FIELDS and REGISTRY_FIELDS[name][2]:
            return {code: str(label) for code, label in REGISTRY_FIELDS[name][2].choices}
        if origin == "question":
            question = self.named_questions.get(name)
            if question is not None:
                return question.choice_labels
        return {}


def latest_questions(codes):
    """{code: question} of `codes`, each from the latest version of the questionnaires asking it, in one query."""
    found = {}
    if codes:
        for question in Question.objects.filter(code__in=sorted(codes)).order_by("code", "-questionnaire__version"):
            found.setdefault(question.code, question)
    return found


def share_named_questions(indicators):
    """Give `indicators` (versions shown together) the questions they read, in one query for all of them."""
    found = latest_questions({code for indicator in indicators for code in indicator.question_codes()})
    for indicator in indicators:
        indicator.named_questions = found


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

    # Values are derived data that a rebuild writes by the million: identified by what they are the
    # value of (no surrogate id: its index would be written with every row), and with no database
    # constraint on the indicator (the primary key indexes it, Django deletes them with it; the check
    # would cost a quarter of a rebuild's writes).
    pk = models.CompositePrimaryKey("indicator", "year", "level", "territory")
    indicator = models.ForeignKey(
        Indicator, on_delete=models.CASCADE, related_name="values", db_index=False, db_constraint=False
    )
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
        # Pages read values by indicator, through the primary key. Only the national values are read
        # by year alone (stamps, years with values): a small partial index, where an index over every
        # place would cost a third of a rebuild's writing.
        indexes = [
            models.Index(fields=["year"], condition=models.Q(level=Level.NATIONAL), name="indicator_value_national")
        ]

    def __str__(self):
        return f"{self.indicator.code} {self.year} {self.level} {self.territory}: {self.value}"


class ExportStatus(models.TextChoices):
    QUEUED = "queued", "en attente"
    RUNNING = "running", "en préparation"
    DONE = "done", "prêt"
    FAILED = "failed", "échec"


class ReportExportQuerySet(models.QuerySet):
    def visible_to(self, user):
        """A prepared PDF is seen by the person who asked for it (and the administrators)."""
        if not user.is_authenticated or not user.is_active:
            return self.none()
        return self if user.is_administrator else self.filter(requested_by=user)


class ReportExport(models.Model):
    """A PDF of the observatory report, prepared by the worker; its page follows the progress."""

    uuid = models.UUIDField("identifiant public", default=uuid.uuid4, unique=True, editable=False)
    level = models.CharField("échelon", max_length=12, choices=Level.choices)
    territory = models.CharField("code du territoire", max_length=12, blank=True)
    year = models.PositiveIntegerField("année")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name="demandé par", on_delete=models.CASCADE, related_name="+"
    )
    requested_at = models.DateTimeField("demandé le", auto_now_add=True)
    status = models.CharField("état", max_length=10, choices=ExportStatus.choices, default=ExportStatus.QUEUED)
    progress = models.PositiveSmallIntegerField("avancement (%)", default=0)
    step = models.CharField("étape", max_length=100, blank=True)
    message = models.TextField("message", blank=True)
    content = models.BinaryField("PDF", null=True, editable=False)
    finished_at = models.DateTimeField("terminé le", null=True, blank=True)
    seconds = models.FloatField("durée (s)", null=True, blank=True)

    objects = ReportExportQuerySet.as_manager()

    class Meta:
        verbose_name = "rapport PDF"
        verbose_name_plural = "rapports PDF"
        ordering = ["-requested_at"]

    @property
    def is_working(self):
        return self.status in (ExportStatus.QUEUED, ExportStatus.RUNNING)
