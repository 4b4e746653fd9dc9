"""The yearly observatory: questionnaires (versioned), campaigns, submissions and their answers.

A questionnaire is authored as a TOML file (docs/questionnaires.md) and loaded by a command; a
campaign freezes the version it uses. Answers are rows (submission, question, typed value):
numbers (and yes/no as 1/0) in one indexed decimal column, so that aggregates stay in the database.
"""

import decimal
import re
import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

from cadre.observatory import expressions
from cadre.structures.models import Structure

CODE_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


class QuestionKind(models.TextChoices):
    INTEGER = "integer", "nombre entier"
    DECIMAL = "decimal", "nombre décimal"
    AMOUNT = "amount", "montant en euros"
    PERCENTAGE = "percentage", "pourcentage"
    BOOLEAN = "boolean", "oui / non"
    CHOICE = "choice", "choix unique"
    MULTIPLE_CHOICE = "multiple_choice", "choix multiple"
    TEXT = "text", "texte court"
    LONG_TEXT = "long_text", "texte long"


NUMERIC_KINDS = {QuestionKind.INTEGER, QuestionKind.DECIMAL, QuestionKind.AMOUNT, QuestionKind.PERCENTAGE}
CHOICE_KINDS = {QuestionKind.CHOICE, QuestionKind.MULTIPLE_CHOICE}
TEXT_LIMITS = {QuestionKind.TEXT: 200, QuestionKind.LONG_TEXT: 5000}
DEFAULT_UNITS = {QuestionKind.AMOUNT: "€", QuestionKind.PERCENTAGE: "%"}
YES = {"oui", "o", "yes", "y", "vrai", "true", "1", "x"}
NO = {"non", "n", "no", "faux", "false", "0"}


class QuestionnaireQuerySet(models.QuerySet):
    def visible_to(self, user):
        # The questions are the partnership's method, not data: every signed-in user may read them.
        return self if user.is_authenticated and user.is_active else self.none()


class Questionnaire(models.Model):
    uuid = models.UUIDField("identifiant public", default=uuid.uuid4, unique=True, editable=False)
    code = models.CharField("code", max_length=40)
    version = models.PositiveIntegerField("version")
    title = models.CharField("titre", max_length=200)
    description = models.TextField("présentation", blank=True)
    digest = models.CharField("empreinte du fichier", max_length=64, help_text="SHA-256 de la définition chargée")
    loaded_at = models.DateTimeField("chargé le", auto_now=True)

    objects = QuestionnaireQuerySet.as_manager()

    class Meta:
        verbose_name = "questionnaire"
        ordering = ["code", "-version"]
        constraints = [models.UniqueConstraint(fields=["code", "version"], name="questionnaire_unique_version")]

    def __str__(self):
        return f"{self.title} (version {self.version})"


class Section(models.Model):
    questionnaire = models.ForeignKey(Questionnaire, on_delete=models.CASCADE, related_name="sections")
    code = models.CharField("code", max_length=40)
    position = models.PositiveIntegerField("ordre")
    title = models.CharField("titre", max_length=200)
    description = models.TextField("présentation", blank=True)
    applies_to = models.JSONField("structures concernées", default=list, help_text="types de structure")
    registry = models.JSONField("faits du répertoire montrés", default=list, blank=True)

    class Meta:
        verbose_name = "rubrique"
        ordering = ["questionnaire", "position"]
        constraints = [models.UniqueConstraint(fields=["questionnaire", "code"], name="section_unique_code")]

    def __str__(self):
        return self.title

    def applies(self, structure_kind):
        return structure_kind in self.applies_to


class Question(models.Model):
    questionnaire = models.ForeignKey(Questionnaire, on_delete=models.CASCADE, related_name="questions")
    section = models.ForeignKey(Section, on_delete=models.CASCADE, related_name="questions")
    code = models.CharField("code", max_length=40)
    position = models.PositiveIntegerField("ordre")
    kind = models.CharField("type", max_length=20, choices=QuestionKind.choices)
    label = models.CharField("libellé", max_length=300)
    help_text = models.TextField("aide", blank=True)
    unit = models.CharField("unité", max_length=30, blank=True)
    required = models.BooleanField("obligatoire", default=False)
    min_value = models.DecimalField("minimum", max_digits=16, decimal_places=4, null=True, blank=True)
    max_value = models.DecimalField("maximum", max_digits=16, decimal_places=4, null=True, blank=True)
    choices = models.JSONField("choix", default=list, blank=True, help_text="[{code, label}]")
    shown_if = models.CharField("posée si", max_length=500, blank=True)
    prefill = models.BooleanField("réponse de l'an passé proposée", default=False)
    change_threshold = models.DecimalField(
        "évolution signalée au-delà de",
        max_digits=6,
        decimal_places=4,
        null=True,
        blank=True,
        help_text="part, 0,5 = 50 %",
    )
    applies_to = models.JSONField("structures concernées", default=list)

    class Meta:
        verbose_name = "question"
        ordering = ["questionnaire", "position"]
        constraints = [models.UniqueConstraint(fields=["questionnaire", "code"], name="question_unique_code")]

    def __str__(self):
        return f"{self.code} — {self.label}"

    def applies(self, structure_kind):
        return structure_kind in self.applies_to

    @property
    def choice_labels(self):
        return {c["code"]: c["label"] for c in self.choices}

    # -- values -----------------------------------------------------------------------------------

    def parse(self, raw):
        """The typed value of a user's entry (as typed in a form or a spreadsheet cell).

        None when empty; ValidationError with a French message when it cannot be read or is out
        of bounds. Numbers accept French writing: « 1 234,5 », « 12 % », « 600 000 € ».
        """
        if raw is None or (isinstance(raw, str) and not raw.strip()) or raw == []:
            return None
        kind = self.kind
        if kind in NUMERIC_KINDS:
            value = self._parse_number(raw)
        elif kind == QuestionKind.BOOLEAN:
            value = self._parse_boolean(raw)
        elif kind == QuestionKind.CHOICE:
            value = self._parse_choice(raw)
        elif kind == QuestionKind.MULTIPLE_CHOICE:
            items = raw if isinstance(raw, (list, tuple)) else str(raw).split(";")
            value = sorted({self._parse_choice(item) for item in items if str(item).strip()})
            if not value:
                return None
        else:
            value = str(raw).strip()
            if len(value) > TEXT_LIMITS[kind]:
                raise ValidationError(f"{TEXT_LIMITS[kind]} caractères au plus (vous en avez saisi {len(value)}).")
        return value

    def _parse_number(self, raw):
        if isinstance(raw, bool):
            raise ValidationError("Saisissez un nombre.")
        if isinstance(raw, (int, float, decimal.Decimal)):
            text = repr(raw) if isinstance(raw, float) else str(raw)
        else:
            text = str(raw).strip().replace("\u00a0", "").replace("\u202f", "").replace(" ", "")
            text = text.removesuffix("€").removesuffix("%").strip().replace(",", ".")
        try:
            value = decimal.Decimal(text)
        except decimal.InvalidOperation:
            raise ValidationError(f"« {raw} » n'est pas un nombre.") from None
        if not value.is_finite():
            raise ValidationError(f"« {raw} » n'est pas un nombre.")
        if self.kind == QuestionKind.INTEGER:
            if value != value.to_integral_value():
                raise ValidationError("Saisissez un nombre entier.")
            value = value.quantize(decimal.Decimal(1))
        elif self.kind == QuestionKind.AMOUNT:
            if value != value.quantize(decimal.Decimal("0.01")):
                raise ValidationError("Un montant a au plus deux décimales (les centimes).")
        elif value.as_tuple().exponent < -4:
            raise ValidationError("Au plus quatre décimales.")
        if abs(value) >= 10**12:
            raise ValidationError("Ce nombre est trop grand.")
        low = self.min_value
        high = self.max_value
        if self.kind == QuestionKind.PERCENTAGE:
            low = 0 if low is None else low
            high = 100 if high is None else high
        unit = f" {self.display_unit}" if self.display_unit else ""
        if low is not None and value < low:
            raise ValidationError(f"La valeur doit être au moins {format_number(low)}{unit}.")
        if high is not None and value > high:
            raise ValidationError(f"La valeur doit être au plus {format_number(high)}{unit}.")
        return value

    def _parse_boolean(self, raw):
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text in YES:
            return True
        if text in NO:
            return False
        raise ValidationError(f"Répondez par oui ou par non (et non « {raw} »).")

    def _parse_choice(self, raw):
        text = str(raw).strip()
        labels = self.choice_labels
        if text in labels:
            return text
        by_label = {label.casefold(): code for code, label in labels.items()}
        if text.casefold() in by_label:
            return by_label[text.casefold()]
        raise ValidationError(f"« {text} » ne fait pas partie des choix proposés ({', '.join(labels.values())}).")

    @property
    def bounds_label(self):
        low, high = self.min_value, self.max_value
        if low is not None and high is not None:
            return f"de {format_number(low)} à {format_number(high)}"
        if low is not None:
            return f"au moins {format_number(low)}"
        if high is not None:
            return f"au plus {format_number(high)}"
        return ""

    @property
    def display_unit(self):
        return self.unit or DEFAULT_UNITS.get(self.kind, "")

    def display(self, value):
        """A value as shown to users (and written in spreadsheets' text cells)."""
        if value is None:
            return ""
        if self.kind in NUMERIC_KINDS:
            return format_number(value)
        if self.kind == QuestionKind.BOOLEAN:
            return "oui" if value else "non"
        if self.kind == QuestionKind.CHOICE:
            return self.choice_labels.get(value, value)
        if self.kind == QuestionKind.MULTIPLE_CHOICE:
            labels = self.choice_labels
            return " ; ".join(labels.get(v, v) for v in value)
        return value


def format_number(value):
    """French writing: a decimal comma, no useless zeros, thin spaces between thousands from
    five digits on (a year or 2024 € stays in one piece, as French typography has it)."""
    value = decimal.Decimal(value)
    grouping = "," if abs(value) >= 10000 else ""
    if value == value.to_integral_value():
        text = f"{int(value):{grouping}}"
    else:
        text = f"{value.normalize():{grouping}f}"
    return text.replace(",", "\u202f").replace(".", ",")


class RuleLevel(models.TextChoices):
    ERROR = "error", "erreur bloquante"
    WARNING = "warning", "alerte à justifier"


class Rule(models.Model):
    """A check across questions, e.g. employees by contract sum to the total."""

    questionnaire = models.ForeignKey(Questionnaire, on_delete=models.CASCADE, related_name="rules")
    code = models.CharField("code", max_length=40)
    position = models.PositiveIntegerField("ordre")
    level = models.CharField("niveau", max_length=10, choices=RuleLevel.choices)
    condition = models.CharField("condition", max_length=1000)
    message = models.CharField("message", max_length=500)
    question_codes = models.JSONField("questions concernées", default=list)

    class Meta:
        verbose_name = "règle"
        ordering = ["questionnaire", "position"]
        constraints = [models.UniqueConstraint(fields=["questionnaire", "code"], name="rule_unique_code")]

    def __str__(self):
        return f"{self.code} ({self.get_level_display()})"


# -- answers and their checks --------------------------------------------------------------------


class Issue:
    """Something wrong with a submission's answers: an error blocks sending, a warning asks a comment."""

    __slots__ = ("level", "question_code", "message", "rule_code")

    def __init__(self, level, question_code, message, rule_code=""):
        self.level, self.question_code, self.message, self.rule_code = level, question_code, message, rule_code

    def __repr__(self):
        return f"Issue({self.level!r}, {self.question_code!r}, {self.message!r})"

    @property
    def is_error(self):
        return self.level == RuleLevel.ERROR


def asked_questions(questions, structure_kind, values):
    """The questions put to a structure of `structure_kind` given its `values` ({code: value}):
    those of its kind whose `shown_if` holds (a condition on a missing answer does not hold)."""
    return [
        q for q in questions if q.applies(structure_kind) and q.section.applies(structure_kind) and _shown(q, values)
    ]


def _shown(question, values):
    return not question.shown_if or expressions.evaluate(question.shown_if, values) is True


def check_answers(questionnaire_questions, rules, structure_kind, values, comments=None):
    """Issues of a set of answers: missing required answers, then rules (warnings with a
    comment are settled). Values of questions not asked are left out of the rules."""
    comments = comments or {}
    asked = asked_questions(questionnaire_questions, structure_kind, values)
    asked_codes = {q.code for q in asked}
    issues = [
        Issue(RuleLevel.ERROR, q.code, "Cette question est obligatoire.")
        for q in asked
        if q.required and values.get(q.code) is None
    ]
    visible = {code: value for code, value in values.items() if code in asked_codes}
    for rule in rules:
        if expressions.evaluate(rule.condition, visible) is not False:
            continue  # holds, or cannot be evaluated yet
        anchor = next((code for code in rule.question_codes if code in asked_codes), None)
        if anchor is None:
            continue
        if rule.level == RuleLevel.WARNING and any(comments.get(code, "").strip() for code in rule.question_codes):
            continue
        issues.append(Issue(rule.level, anchor, rule.message, rule.code))
    return issues


class Answer(models.Model):
    submission = models.ForeignKey("Submission", on_delete=models.CASCADE, related_name="answers")
    question = models.ForeignKey(Question, on_delete=models.PROTECT, related_name="answers")
    number = models.DecimalField("valeur numérique", max_digits=16, decimal_places=4, null=True, blank=True)
    text = models.TextField("valeur texte", blank=True)
    codes = models.JSONField("choix", null=True, blank=True)
    comment = models.TextField("commentaire", blank=True, help_text="justification d'une alerte")
    version = models.PositiveIntegerField("version", default=1)
    updated_at = models.DateTimeField("modifiée le", auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name="modifiée par", on_delete=models.SET_NULL, null=True, blank=True
    )

    class Meta:
        verbose_name = "réponse"
        constraints = [models.UniqueConstraint(fields=["submission", "question"], name="answer_unique_question")]
        indexes = [models.Index(fields=["question", "number"], name="answer_question_number")]

    def __str__(self):
        return f"{self.question.code} = {self.question.display(self.value)}"

    @property
    def value(self):
        kind = self.question.kind
        if kind in NUMERIC_KINDS:
            return self.number
        if kind == QuestionKind.BOOLEAN:
            return None if self.number is None else self.number == 1
        if kind == QuestionKind.MULTIPLE_CHOICE:
            return self.codes or None
        return self.text or None

    @value.setter
    def value(self, value):
        kind = self.question.kind
        self.number, self.text, self.codes = None, "", None
        if value is None:
            return
        if kind in NUMERIC_KINDS:
            self.number = value
        elif kind == QuestionKind.BOOLEAN:
            self.number = 1 if value else 0
        elif kind == QuestionKind.MULTIPLE_CHOICE:
            self.codes = list(value)
        else:
            self.text = value


# -- campaigns and submissions -------------------------------------------------------------------


class Campaign(models.Model):
    """One year's collection: every structure approved in the data year describes that year."""

    uuid = models.UUIDField("identifiant public", default=uuid.uuid4, unique=True, editable=False)
    year = models.PositiveIntegerField("année observée", unique=True)
    title = models.CharField("titre", max_length=200)
    questionnaire = models.ForeignKey(
        Questionnaire, verbose_name="questionnaire", on_delete=models.PROTECT, related_name="campaigns"
    )
    opens_on = models.DateField("ouverture")
    closes_on = models.DateField("clôture")
    opened_at = models.DateTimeField("ouverte le", null=True, blank=True)
    change_threshold = models.DecimalField(
        "évolution signalée au-delà de",
        max_digits=6,
        decimal_places=4,
        default=decimal.Decimal("0.5"),
        help_text="part d'évolution sur un an qui fait relire une réponse (0,5 = 50 %)",
    )
    created_at = models.DateTimeField("créée le", auto_now_add=True)

    class Meta:
        verbose_name = "campagne"
        ordering = ["-year"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(closes_on__gte=models.F("opens_on")),
                name="campaign_closes_after_opening",
                violation_error_message="La clôture doit suivre l'ouverture.",
            )
        ]

    def __str__(self):
        return self.title

    def is_closed(self, today):
        return today > self.closes_on


class SubmissionStatus(models.TextChoices):
    NOT_STARTED = "not_started", "non commencée"
    DRAFT = "draft", "en cours de saisie"
    SUBMITTED = "submitted", "envoyée"
    RETURNED = "returned", "renvoyée à la structure"
    RESUBMITTED = "resubmitted", "envoyée à nouveau"
    VALIDATED = "validated", "validée"


# The structure may write in these states; the others are read-only for it.
EDITABLE_STATUSES = {SubmissionStatus.NOT_STARTED, SubmissionStatus.DRAFT, SubmissionStatus.RETURNED}


class Submission(models.Model):
    """A structure's answers for a campaign, and where they stand in the review."""

    uuid = models.UUIDField("identifiant public", default=uuid.uuid4, unique=True, editable=False)
    campaign = models.ForeignKey(
        Campaign, verbose_name="campagne", on_delete=models.CASCADE, related_name="submissions"
    )
    structure = models.ForeignKey(
        Structure, verbose_name="structure", on_delete=models.CASCADE, related_name="submissions"
    )
    status = models.CharField(
        "état", max_length=20, choices=SubmissionStatus.choices, default=SubmissionStatus.NOT_STARTED
    )
    created_at = models.DateTimeField("créée le", auto_now_add=True)
    updated_at = models.DateTimeField("modifiée le", auto_now=True)
    submitted_at = models.DateTimeField("envoyée le", null=True, blank=True)
    validated_at = models.DateTimeField("validée le", null=True, blank=True)
    validated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="validée par",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        verbose_name = "saisie"
        constraints = [models.UniqueConstraint(fields=["campaign", "structure"], name="submission_unique_structure")]
        indexes = [models.Index(fields=["campaign", "status"], name="submission_campaign_status")]

    def __str__(self):
        return f"{self.structure} — {self.campaign}"


class SubmissionEvent(models.Model):
    """One step of a submission's review, shown as its timeline."""

    submission = models.ForeignKey(Submission, on_delete=models.CASCADE, related_name="events")
    from_status = models.CharField("état avant", max_length=20, choices=SubmissionStatus.choices)
    to_status = models.CharField("état après", max_length=20, choices=SubmissionStatus.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name="par", on_delete=models.SET_NULL, null=True, blank=True
    )
    at = models.DateTimeField("le", auto_now_add=True)
    comment = models.TextField("commentaire", blank=True)

    class Meta:
        verbose_name = "étape de la saisie"
        ordering = ["at", "pk"]

    def __str__(self):
        return f"{self.get_from_status_display()} → {self.get_to_status_display()}"
