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
from django.db.models import Exists, OuterRef, Q

from cadre.observatory import expressions
from cadre.structures.models import Structure, visible_structure_q
from cadre.territories.models import Department

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

    @property
    def choices_text(self):
        """The choices' labels in one line, as the answers show several: « École ; Médiathèque »."""
        return " ; ".join(c["label"] for c in self.choices)

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
        if low is not None and value < low:
            raise ValidationError(f"La valeur doit être au moins {format_number(low)}{self._unit_after(low)}.")
        if high is not None and value > high:
            raise ValidationError(f"La valeur doit être au plus {format_number(high)}{self._unit_after(high)}.")
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

    def _unit_after(self, number):
        """« 0 personne », « 3 personnes »: the unit agreed with its number, after a space."""
        from cadre.core.french import unit_for

        return f" {unit_for(number, self.display_unit)}" if self.display_unit else ""

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

    @property
    def is_missing(self):
        """A required question left unanswered (blocks sending, but is no mistake while filling in)."""
        return self.level == RuleLevel.ERROR and not self.rule_code


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
    # No index of their own: (submission, question) and (question, number) lead with them, and each
    # index more slows the writing of a national import.
    submission = models.ForeignKey("Submission", on_delete=models.CASCADE, related_name="answers", db_index=False)
    question = models.ForeignKey(Question, on_delete=models.PROTECT, related_name="answers", db_index=False)
    number = models.DecimalField("valeur numérique", max_digits=16, decimal_places=4, null=True, blank=True)
    text = models.TextField("valeur texte", blank=True)
    codes = models.JSONField("choix", null=True, blank=True)
    comment = models.TextField("commentaire", blank=True, help_text="justification d'une alerte")
    version = models.PositiveIntegerField("version", default=1)
    updated_at = models.DateTimeField("modifiée le", auto_now=True)
    # Who last wrote it, for display: neither an index nor a database constraint (Django still sets it to
    # NULL when the user is deleted). Both cost a national import a third of its writing time.
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="modifiée par",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        db_index=False,
        db_constraint=False,
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


class CampaignQuerySet(models.QuerySet):
    def visible_to(self, user):
        """Administrators see every campaign; others the opened ones (their submissions are scoped apart)."""
        if not user.is_authenticated or not user.is_active:
            return self.none()
        if user.is_administrator:
            return self
        return self.filter(opened_at__isnull=False)


class CampaignPhase(models.TextChoices):
    DRAFT = "draft", "en préparation"
    SCHEDULED = "scheduled", "ouverte, saisie à venir"
    OPEN = "open", "saisie en cours"
    CLOSED = "closed", "close"


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

    objects = CampaignQuerySet.as_manager()

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

    def phase(self, today):
        if self.opened_at is None:
            return CampaignPhase.DRAFT
        if today < self.opens_on:
            return CampaignPhase.SCHEDULED
        if today > self.closes_on:
            return CampaignPhase.CLOSED
        return CampaignPhase.OPEN

    def previous(self):
        """The campaign of the year before (last year's answers, yearly changes), or None."""
        return Campaign.objects.filter(year=self.year - 1).first()


class Correspondent(models.Model):
    """A partner's or the federation's staff member who reviews a campaign's submissions in a département."""

    campaign = models.ForeignKey(
        Campaign, verbose_name="campagne", on_delete=models.CASCADE, related_name="correspondents"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="correspondant",
        on_delete=models.CASCADE,
        related_name="correspondences",
    )
    department = models.ForeignKey(Department, verbose_name="département", on_delete=models.PROTECT, related_name="+")

    class Meta:
        verbose_name = "correspondant"
        ordering = ["department", "user__last_name"]
        constraints = [models.UniqueConstraint(fields=["campaign", "user", "department"], name="correspondent_unique")]

    def __str__(self):
        return f"{self.user} ({self.department_id})"


class SubmissionStatus(models.TextChoices):
    NOT_STARTED = "not_started", "non commencée"
    DRAFT = "draft", "en cours de saisie"
    SUBMITTED = "submitted", "envoyée"
    RETURNED = "returned", "renvoyée à la structure"
    RESUBMITTED = "resubmitted", "envoyée à nouveau"
    VALIDATED = "validated", "validée"


STATUS_BADGES = {
    SubmissionStatus.NOT_STARTED: "",
    SubmissionStatus.DRAFT: "fr-badge--info",
    SubmissionStatus.SUBMITTED: "fr-badge--new",
    SubmissionStatus.RETURNED: "fr-badge--warning",
    SubmissionStatus.RESUBMITTED: "fr-badge--new",
    SubmissionStatus.VALIDATED: "fr-badge--success",
}

# The structure may write in these states; the others are read-only for it.
EDITABLE_STATUSES = {SubmissionStatus.NOT_STARTED, SubmissionStatus.DRAFT, SubmissionStatus.RETURNED}


# Submitted and waiting for a correspondant.
TO_REVIEW_STATUSES = {SubmissionStatus.SUBMITTED, SubmissionStatus.RESUBMITTED}
# Not yet sent by the structure (late once the campaign is closed or closing).
NOT_SENT_STATUSES = {SubmissionStatus.NOT_STARTED, SubmissionStatus.DRAFT, SubmissionStatus.RETURNED}
# (from, to) → who may make the step: "structure", "reviewer" or "administrator".
TRANSITIONS = {
    (SubmissionStatus.NOT_STARTED, SubmissionStatus.DRAFT): "structure",
    (SubmissionStatus.NOT_STARTED, SubmissionStatus.SUBMITTED): "structure",
    (SubmissionStatus.DRAFT, SubmissionStatus.SUBMITTED): "structure",
    (SubmissionStatus.RETURNED, SubmissionStatus.RESUBMITTED): "structure",
    (SubmissionStatus.SUBMITTED, SubmissionStatus.RETURNED): "reviewer",
    (SubmissionStatus.RESUBMITTED, SubmissionStatus.RETURNED): "reviewer",
    (SubmissionStatus.SUBMITTED, SubmissionStatus.VALIDATED): "reviewer",
    (SubmissionStatus.RESUBMITTED, SubmissionStatus.VALIDATED): "reviewer",
    (SubmissionStatus.VALIDATED, SubmissionStatus.RETURNED): "administrator",
}


def visible_submission_q(user, path=""):
    """Q of the submissions `user` sees (of the rows whose submission they are, through `path`): those of the
    structures they see, once the campaign is opened; every one for administrators. On the row's own joins,
    not as subqueries of the submissions and the structures: PostgreSQL planned those longer than it ran them."""
    prefix = f"{path}__" if path else ""
    if not user.is_authenticated or not user.is_active:
        return Q(pk__in=[])
    if user.is_administrator:
        return Q()
    return Q(**{f"{prefix}campaign__opened_at__isnull": False}) & visible_structure_q(user, f"{prefix}structure")


class SubmissionQuerySet(models.QuerySet):
    def visible_to(self, user):
        """Submissions of the structures the user may see (their own for structure staff)."""
        if not user.is_authenticated or not user.is_active:
            return self.none()
        return self.filter(visible_submission_q(user))

    def reviewable_by(self, user):
        """Submissions the user reviews: administrators all; a correspondant those of their départements."""
        if not user.is_authenticated or not user.is_active:
            return self.none()
        if user.is_administrator:
            return self
        return self.visible_to(user).filter(
            Exists(
                Correspondent.objects.filter(
                    campaign=OuterRef("campaign"), user=user, department=OuterRef("structure__commune__department")
                )
            )
        )


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
    # Bumped by every step of the review, so that two reviewers cannot both act on one state.
    version = models.PositiveIntegerField("version", default=1)
    reminded_at = models.DateTimeField("dernière relance", null=True, blank=True)
    reminder_count = models.PositiveIntegerField("relances", default=0)

    objects = SubmissionQuerySet.as_manager()

    class Meta:
        verbose_name = "saisie"
        constraints = [models.UniqueConstraint(fields=["campaign", "structure"], name="submission_unique_structure")]
        indexes = [models.Index(fields=["campaign", "status"], name="submission_campaign_status")]

    def __str__(self):
        return f"{self.structure} — {self.campaign}"

    @property
    def badge_class(self):
        return STATUS_BADGES[self.status]

    def is_open_to_structure(self, today):
        """Whether the structure may write: before sending, or when returned (even after the closing)."""
        if self.status == SubmissionStatus.RETURNED:
            return True
        campaign = self.campaign
        return (
            self.status in EDITABLE_STATUSES
            and campaign.opened_at is not None
            and campaign.opens_on <= today <= campaign.closes_on
        )

    def read_only_reason(self, today):
        """Why the answers cannot be changed by the structure now, in French; "" when they can."""
        if self.is_open_to_structure(today):
            return ""
        campaign = self.campaign
        if self.status == SubmissionStatus.VALIDATED:
            by = f" par {self.validated_by.display_name}" if self.validated_by else ""
            return f"Questionnaire validé{by} le {_date(self.validated_at)} : il ne peut plus être modifié."
        if self.status in TO_REVIEW_STATUSES:
            return (
                f"Questionnaire envoyé le {_date(self.submitted_at)} : il est en relecture par les correspondants "
                "de l'observatoire, qui peuvent vous le renvoyer pour correction."
            )
        if today < campaign.opens_on:
            return f"La saisie ouvre le {campaign.opens_on:%d/%m/%Y}."
        return f"La campagne est close depuis le {campaign.closes_on:%d/%m/%Y} : la saisie n'est plus possible."

    def values(self):
        """{question code: typed value} of the stored answers."""
        return {a.question.code: a.value for a in self.answers.select_related("question")}


def _date(moment):
    from django.utils import timezone

    return timezone.localtime(moment).strftime("%d/%m/%Y") if moment else "?"


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


# -- anomalies: answers that look wrong, each a work item ----------------------------------------


class AnomalyKind(models.TextChoices):
    TERRITORY_BOUNDS = "territory_bounds", "hors des valeurs habituelles du territoire"
    YEARLY_CHANGE = "yearly_change", "forte évolution sur un an"
    REVIEWER = "reviewer", "remarque du correspondant"


class AnomalyStatus(models.TextChoices):
    OPEN = "open", "à examiner"
    QUERIED = "queried", "question posée à la structure"
    CORRECTED = "corrected", "corrigée"
    JUSTIFIED = "justified", "justifiée"


OPEN_ANOMALY_STATUSES = {AnomalyStatus.OPEN, AnomalyStatus.QUERIED}
DETECTED_KINDS = {AnomalyKind.TERRITORY_BOUNDS, AnomalyKind.YEARLY_CHANGE}


class AnomalyQuerySet(models.QuerySet):
    def visible_to(self, user):
        return self.filter(visible_submission_q(user, "submission"))

    def unresolved(self):
        return self.filter(status__in=OPEN_ANOMALY_STATUSES)


class Anomaly(models.Model):
    """An answer that looks wrong (or a correspondant's remark on it): it ends corrected or justified."""

    uuid = models.UUIDField("identifiant public", default=uuid.uuid4, unique=True, editable=False)
    submission = models.ForeignKey(Submission, on_delete=models.CASCADE, related_name="anomalies")
    question = models.ForeignKey(Question, verbose_name="question", on_delete=models.PROTECT, related_name="+")
    kind = models.CharField("nature", max_length=20, choices=AnomalyKind.choices)
    status = models.CharField("état", max_length=10, choices=AnomalyStatus.choices, default=AnomalyStatus.OPEN)
    detail = models.CharField("constat", max_length=500)
    value_seen = models.DecimalField("valeur constatée", max_digits=16, decimal_places=4, null=True, blank=True)
    query = models.TextField("question posée à la structure", blank=True)
    queried_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name="posée par", on_delete=models.SET_NULL, null=True, related_name="+"
    )
    queried_at = models.DateTimeField("posée le", null=True, blank=True)
    justification = models.TextField("justification", blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name="réglée par", on_delete=models.SET_NULL, null=True, related_name="+"
    )
    resolved_at = models.DateTimeField("réglée le", null=True, blank=True)
    created_at = models.DateTimeField("relevée le", auto_now_add=True)

    objects = AnomalyQuerySet.as_manager()

    class Meta:
        verbose_name = "point à vérifier"
        verbose_name_plural = "points à vérifier"
        ordering = ["submission", "question__position", "created_at"]
        indexes = [models.Index(fields=["submission", "status"], name="anomaly_submission_status")]
        constraints = [
            # One detected anomaly of a kind per answer; a correspondant may make several remarks.
            models.UniqueConstraint(
                fields=["submission", "question", "kind"],
                condition=~models.Q(kind="reviewer"),
                name="anomaly_unique_detected",
            )
        ]

    def __str__(self):
        return f"{self.question.code} : {self.get_kind_display()} ({self.get_status_display()})"

    @property
    def is_unresolved(self):
        return self.status in OPEN_ANOMALY_STATUSES
