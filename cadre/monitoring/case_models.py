"""Difficulty reports and support cases, with graded confidentiality.

A structure reports a difficulty (`DifficultyReport`); the partners that fund it and its federation are told at
once. The support body (a committee of kind « cellule d'appui » or « comité technique ») follows a structure in
difficulty in a `SupportCase`: its lead and members, its status up to its closing with an outcome, a timeline,
actions, notes, documents, links to the body's meetings and decisions, and a recovery plan with milestones and
ratio targets.

Confidentiality is decided here and nowhere else. Every note, document, action and timeline entry of a case is
written for one circle:
- BODY: the support body's members only (their partners' staff);
- PARTNERS: every partner concerned (the body's members and the case's members);
- STRUCTURE: shared with the structure too.
Structure staff see a case only through what is shared with them: the case appears to them once one item of it
is shared, and then only the shared items. Administrators see everything. Pages, exports, the API, e-mails,
the timeline and searches read through the `visible_to` querysets below.
"""

import datetime
import uuid as uuid_module

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from cadre.agreements.models import Committee, CommitteeKind, CommitteeMember, Decision, Meeting
from cadre.core.models import TrackedHistory, VersionedModel
from cadre.partners.models import Partner
from cadre.structures.models import Structure

__all__ = [
    "SUPPORT_KINDS",
    "Circle",
    "CIRCLE_BADGES",
    "DifficultyCategory",
    "Urgency",
    "URGENCY_BADGES",
    "CaseStatus",
    "CASE_STATUS_ORDER",
    "OPEN_CASE_STATUSES",
    "CaseOutcome",
    "CaseOrigin",
    "DifficultyReport",
    "ReportAttachment",
    "circle_q",
    "SupportCase",
    "CaseNote",
    "CaseDocument",
    "CaseAction",
    "EventKind",
    "CaseEvent",
    "RecoveryPlan",
    "PlanMilestone",
    "RatioTarget",
]

SUPPORT_KINDS = [CommitteeKind.SUPPORT, CommitteeKind.TECHNICAL]


class Circle(models.TextChoices):
    BODY = "body", "Instance d'appui seulement"
    PARTNERS = "partners", "Partenaires concernés"
    STRUCTURE = "structure", "Partagé avec la structure"


CIRCLE_BADGES = {
    Circle.BODY: "fr-badge--error",
    Circle.PARTNERS: "fr-badge--info",
    Circle.STRUCTURE: "fr-badge--success",
}


class DifficultyCategory(models.TextChoices):
    FINANCIAL = "financial", "Financière"
    GOVERNANCE = "governance", "Gouvernance"
    STAFF = "staff", "Ressources humaines"
    PREMISES = "premises", "Locaux"
    PARTNERSHIP = "partnership", "Partenariat"
    OTHER = "other", "Autre"


class Urgency(models.TextChoices):
    NORMAL = "normal", "Normale"
    HIGH = "high", "Urgente"
    CRITICAL = "critical", "Très urgente"


URGENCY_BADGES = {
    Urgency.NORMAL: "fr-badge--info",
    Urgency.HIGH: "fr-badge--warning",
    Urgency.CRITICAL: "fr-badge--error",
}


class CaseStatus(models.TextChoices):
    OPEN = "open", "Ouvert"
    DIAGNOSIS = "diagnosis", "Diagnostic"
    PLAN = "plan", "Plan d'accompagnement"
    FOLLOW_UP = "follow_up", "Suivi"
    CLOSED = "closed", "Clos"


CASE_STATUS_ORDER = list(CaseStatus.values)
OPEN_CASE_STATUSES = CASE_STATUS_ORDER[:-1]


class CaseOutcome(models.TextChoices):
    RECOVERED = "recovered", "Redressé"
    TAKEN_OVER = "taken_over", "Reprise par un autre gestionnaire"
    CLOSURE = "closure", "Fermeture"
    OTHER = "other", "Autre"


class CaseOrigin(models.TextChoices):
    ALERT = "alert", "Alerte de santé financière"
    REPORT = "report", "Signalement de la structure"
    MANUAL = "manual", "Ouverture directe"


def _signed_in(user):
    return user.is_authenticated and user.is_active


# -- Difficulty reports -------------------------------------------------------------------------------------


class DifficultyReportQuerySet(models.QuerySet):
    def visible_to(self, user):
        """The structure's own people, the partners told of it (its funders and its federation, kept on the
        report), the members of a support body of its département, administrators."""
        if not _signed_in(user):
            return self.none()
        if user.is_administrator:
            return self
        partners = sorted(user.partner_ids())
        told = DifficultyReport.notified.through.objects.filter(
            difficultyreport_id=OuterRef("pk"), partner_id__in=partners
        )
        body = CommitteeMember.objects.filter(
            partner_id__in=partners,
            committee__kind__in=SUPPORT_KINDS,
            committee__framework__department_id=OuterRef("structure__commune__department_id"),
        )
        return self.filter(Q(structure_id__in=sorted(user.structure_ids())) | Exists(told) | Exists(body))


class DifficultyReport(VersionedModel):
    structure = models.ForeignKey(
        Structure, verbose_name="structure", on_delete=models.CASCADE, related_name="difficulty_reports"
    )
    category = models.CharField("nature de la difficulté", max_length=12, choices=DifficultyCategory.choices)
    description = models.TextField(
        "description", help_text="Ce qui se passe, depuis quand, ce qui est déjà fait, ce dont vous avez besoin."
    )
    urgency = models.CharField("urgence", max_length=10, choices=Urgency.choices, default=Urgency.NORMAL)
    reported_by = models.ForeignKey(
        "accounts.User", verbose_name="signalé par", on_delete=models.SET_NULL, null=True, related_name="+"
    )
    # The partners told when it was reported: those funding the structure around that year, its federation.
    notified = models.ManyToManyField(Partner, verbose_name="partenaires informés", blank=True, related_name="+")

    objects = DifficultyReportQuerySet.as_manager()
    history = TrackedHistory()

    class Meta:
        verbose_name = "signalement de difficulté"
        verbose_name_plural = "signalements de difficulté"
        ordering = ["-created_at"]

    def __str__(self):
        return f"Signalement du {self.created_at:%d/%m/%Y} : {self.structure}"

    @property
    def urgency_badge(self):
        return URGENCY_BADGES[self.urgency]


class StoredFile(models.Model):
    """A file kept in the database, served as an attachment to those who see what it belongs to."""

    uuid = models.UUIDField("identifiant public", default=uuid_module.uuid4, unique=True, editable=False)
    file_name = models.CharField("nom du fichier", max_length=150)
    content_type = models.CharField("type", max_length=100)
    size = models.PositiveIntegerField("taille (octets)")
    sha256 = models.CharField("empreinte SHA-256", max_length=64)
    content = models.BinaryField("contenu")
    uploaded_by = models.ForeignKey("accounts.User", on_delete=models.SET_NULL, null=True, related_name="+")
    uploaded_at = models.DateTimeField("déposé le", default=timezone.now)

    class Meta:
        abstract = True

    def set_file(self, checked):
        """From cadre.core.uploads.check_upload: (name, MIME type, bytes, sha256)."""
        self.file_name, self.content_type, content, self.sha256 = checked
        self.content, self.size = content, len(content)


class ReportAttachment(StoredFile):
    report = models.ForeignKey(DifficultyReport, on_delete=models.CASCADE, related_name="attachments")

    class Meta:
        verbose_name = "pièce jointe d'un signalement"
        ordering = ["uploaded_at", "pk"]

    def __str__(self):
        return self.file_name


# -- Support cases ------------------------------------------------------------------------------------------


def circle_q(user, prefix=""):
    """Q over items with a `circle` (and `{prefix}` the path to their case, e.g. "case__"): the items of the
    circles the user belongs to, for that case. The one rule of confidentiality."""
    partners = sorted(user.partner_ids())
    body = Exists(
        CommitteeMember.objects.filter(committee_id=OuterRef(f"{prefix}committee_id"), partner_id__in=partners)
    )
    member = Exists(
        SupportCase.members.through.objects.filter(
            supportcase_id=OuterRef(f"{prefix}pk" if prefix else "pk"), partner_id__in=partners
        )
    )
    own = Q(**{f"{prefix}structure_id__in": sorted(user.structure_ids())})
    return (
        (Q(circle=Circle.BODY) & body)
        | (Q(circle=Circle.PARTNERS) & (body | member))
        | (Q(circle=Circle.STRUCTURE) & (body | member | own))
    )


class SupportCaseQuerySet(models.QuerySet):
    def visible_to(self, user):
        """The support body's members and the case's members; the structure's own people once something of the
        case is shared with them; administrators."""
        if not _signed_in(user):
            return self.none()
        if user.is_administrator:
            return self
        partners = sorted(user.partner_ids())
        body = CommitteeMember.objects.filter(committee_id=OuterRef("committee_id"), partner_id__in=partners)
        member = SupportCase.members.through.objects.filter(supportcase_id=OuterRef("pk"), partner_id__in=partners)
        shared = Q(structure_id__in=sorted(user.structure_ids())) & (
            Exists(CaseNote.objects.filter(case=OuterRef("pk"), circle=Circle.STRUCTURE))
            | Exists(CaseDocument.objects.filter(case=OuterRef("pk"), circle=Circle.STRUCTURE))
        )
        return self.filter(Exists(body) | Exists(member) | shared)

    def open(self):
        return self.exclude(status=CaseStatus.CLOSED)


class SupportCase(VersionedModel):
    structure = models.ForeignKey(
        Structure, verbose_name="structure", on_delete=models.CASCADE, related_name="support_cases"
    )
    committee = models.ForeignKey(
        Committee,
        verbose_name="instance d'appui",
        on_delete=models.CASCADE,
        related_name="support_cases",
        limit_choices_to={"kind__in": SUPPORT_KINDS},
    )
    title = models.CharField("objet", max_length=200)
    origin = models.CharField("origine", max_length=8, choices=CaseOrigin.choices, default=CaseOrigin.MANUAL)
    report = models.ForeignKey(
        DifficultyReport,
        verbose_name="signalement",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="cases",
    )
    # The alert the case was opened from, as it read then (statuses are recomputed and rewritten).
    alert_year = models.PositiveSmallIntegerField("exercice de l'alerte", null=True, blank=True)
    alert_facts = models.JSONField("faits de l'alerte", default=list, blank=True)
    status = models.CharField("état", max_length=10, choices=CaseStatus.choices, default=CaseStatus.OPEN)
    outcome = models.CharField("issue", max_length=10, choices=CaseOutcome.choices, blank=True)
    lead = models.ForeignKey(
        Partner, verbose_name="pilote", on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    lead_person = models.CharField("référent", max_length=150, blank=True)
    members = models.ManyToManyField(Partner, verbose_name="partenaires concernés", blank=True, related_name="+")
    meetings = models.ManyToManyField(Meeting, verbose_name="réunions", blank=True, related_name="support_cases")
    decisions = models.ManyToManyField(Decision, verbose_name="décisions", blank=True, related_name="support_cases")
    opened_on = models.DateField("ouvert le", default=datetime.date.today)
    closed_on = models.DateField("clos le", null=True, blank=True)

    objects = SupportCaseQuerySet.as_manager()
    history = TrackedHistory(m2m_fields=[members])

    class Meta:
        verbose_name = "dossier d'accompagnement"
        verbose_name_plural = "dossiers d'accompagnement"
        ordering = ["-opened_on", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status=CaseStatus.CLOSED, closed_on__isnull=False) & ~Q(outcome="")
                | (~Q(status=CaseStatus.CLOSED) & Q(closed_on__isnull=True, outcome="")),
                name="case_closed_with_outcome",
                violation_error_message=(
                    "Un dossier clos a une date de clôture et une issue ; un dossier ouvert n'en a pas."
                ),
            )
        ]

    def __str__(self):
        return f"{self.title} ({self.structure})"

    @property
    def is_closed(self):
        return self.status == CaseStatus.CLOSED

    def next_statuses(self):
        """The statuses the case may move to: the next step, or back one (a plan that needs a new diagnosis)."""
        if self.is_closed:
            return []
        index = CASE_STATUS_ORDER.index(self.status)
        near = CASE_STATUS_ORDER[max(index - 1, 0) : index + 2]
        return [CaseStatus(s) for s in [*near, CaseStatus.CLOSED] if s != self.status and s in CASE_STATUS_ORDER][:3]

    def owner_reads(self, circle, *, owner=None, owner_is_structure=False):
        """Whether the owner of an action (a partner, or the structure) belongs to the action's `circle`: an owner
        who could not read the action could neither see it nor mark it done, and naming the structure on a
        body-only action would tell it that something is planned about it."""
        if owner_is_structure:
            return circle == Circle.STRUCTURE
        if owner is None:
            return True
        if self.committee.members.filter(partner_id=owner.pk).exists():
            return True
        return circle != Circle.BODY and self.members.filter(pk=owner.pk).exists()

    def circles_of(self, user):
        """The circles `user` may write in on this case (and read): for the page's choices."""
        if user.is_administrator:
            return list(Circle)
        partners = user.partner_ids()
        if self.committee.members.filter(partner_id__in=sorted(partners)).exists():
            return list(Circle)
        if self.members.filter(pk__in=sorted(partners)).exists():
            return [Circle.PARTNERS, Circle.STRUCTURE]
        if self.structure_id in user.structure_ids():
            return [Circle.STRUCTURE]
        return []


class CircleQuerySet(models.QuerySet):
    def visible_to(self, user):
        """The items of the cases the user sees, in the circles the user belongs to (see the module's docstring)."""
        if not _signed_in(user):
            return self.none()
        if user.is_administrator:
            return self
        return self.filter(case__in=SupportCase.objects.visible_to(user)).filter(circle_q(user, "case__"))


class CircleItem(models.Model):
    """Something of a case written for one circle. Each kind names its `case` field (related names differ)."""

    circle = models.CharField("visible par", max_length=10, choices=Circle.choices, default=Circle.BODY)

    objects = CircleQuerySet.as_manager()

    class Meta:
        abstract = True

    @property
    def circle_badge(self):
        return CIRCLE_BADGES[self.circle]


class CaseNote(CircleItem):
    """A note of the case: written once, never edited (so that nothing of it lives in a history others read)."""

    uuid = models.UUIDField("identifiant public", default=uuid_module.uuid4, unique=True, editable=False)
    case = models.ForeignKey(SupportCase, on_delete=models.CASCADE, related_name="notes")
    text = models.TextField("note")
    author = models.ForeignKey(
        "accounts.User", verbose_name="auteur", on_delete=models.SET_NULL, null=True, related_name="+"
    )
    written_at = models.DateTimeField("écrite le", default=timezone.now)

    class Meta:
        verbose_name = "note d'un dossier"
        ordering = ["written_at", "pk"]

    def __str__(self):
        return f"Note du {self.written_at:%d/%m/%Y}"


class CaseDocument(CircleItem, StoredFile):
    case = models.ForeignKey(SupportCase, on_delete=models.CASCADE, related_name="documents")
    title = models.CharField("intitulé", max_length=200, blank=True)

    class Meta:
        verbose_name = "document d'un dossier"
        ordering = ["uploaded_at", "pk"]

    def __str__(self):
        return self.title or self.file_name


class CaseActionQuerySet(CircleQuerySet):
    def late(self, today=None):
        return self.filter(due__lt=today or datetime.date.today(), done_on__isnull=True)

    def open(self):
        return self.filter(done_on__isnull=True)


class CaseAction(CircleItem):
    """Something to do for the case: who does it, by when, done or not. Its steps are in the timeline."""

    uuid = models.UUIDField("identifiant public", default=uuid_module.uuid4, unique=True, editable=False)
    case = models.ForeignKey(SupportCase, on_delete=models.CASCADE, related_name="actions")
    title = models.CharField("action", max_length=250)
    description = models.TextField("précisions", blank=True)
    owner = models.ForeignKey(
        Partner, verbose_name="porteur", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    owner_is_structure = models.BooleanField("portée par la structure", default=False)
    due = models.DateField("échéance")
    done_on = models.DateField("faite le", null=True, blank=True)
    # Read by the edit form and checked on save (actions.edit_action), so that two editors never overwrite each
    # other. No history table: the changes are told in the timeline, in the action's circle.
    version = models.PositiveIntegerField("version", default=1, editable=False)

    objects = CaseActionQuerySet.as_manager()

    class Meta:
        verbose_name = "action d'un dossier"
        ordering = ["due", "pk"]

    def __str__(self):
        return self.title

    def is_late(self, today=None):
        return self.done_on is None and self.due < (today or datetime.date.today())

    @property
    def owner_label(self):
        if self.owner_is_structure:
            return self.case.structure.name
        return self.owner.short_name or self.owner.name if self.owner else "—"


class EventKind(models.TextChoices):
    OPENED = "opened", "Ouverture"
    STATUS = "status", "Changement d'état"
    NOTE = "note", "Note"
    DOCUMENT = "document", "Document"
    ACTION = "action", "Action"
    ACTION_DONE = "action_done", "Action faite"
    ACTION_EDIT = "action_edit", "Action modifiée"
    ACTION_REOPEN = "action_redo", "Action rouverte"
    PLAN = "plan", "Plan de retour à l'équilibre"
    LINK = "link", "Lien"
    CLOSED = "closed", "Clôture"


class CaseEvent(CircleItem):
    """A step of the case's timeline, in the circle of what it tells (a note's event, in the note's circle)."""

    case = models.ForeignKey(SupportCase, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField("étape", max_length=12, choices=EventKind.choices)
    text = models.CharField("résumé", max_length=300)
    actor = models.ForeignKey("accounts.User", on_delete=models.SET_NULL, null=True, related_name="+")
    at = models.DateTimeField("le", default=timezone.now)
    note = models.ForeignKey(CaseNote, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    document = models.ForeignKey(CaseDocument, on_delete=models.CASCADE, null=True, blank=True, related_name="+")

    class Meta:
        verbose_name = "étape d'un dossier"
        ordering = ["at", "pk"]

    def __str__(self):
        return self.text


class RecoveryPlan(VersionedModel):
    """Plan de retour à l'équilibre: what the structure and its partners agreed to bring its accounts back."""

    case = models.OneToOneField(SupportCase, on_delete=models.CASCADE, related_name="plan")
    adopted_on = models.DateField("adopté le")
    summary = models.TextField("mesures prévues")

    history = TrackedHistory()

    class Meta:
        verbose_name = "plan de retour à l'équilibre"

    def __str__(self):
        return f"Plan de retour à l'équilibre : {self.case.structure}"


class PlanMilestone(models.Model):
    plan = models.ForeignKey(RecoveryPlan, on_delete=models.CASCADE, related_name="milestones")
    title = models.CharField("étape", max_length=250)
    due = models.DateField("échéance")
    done_on = models.DateField("atteinte le", null=True, blank=True)

    class Meta:
        verbose_name = "jalon du plan"
        ordering = ["due", "pk"]

    def __str__(self):
        return self.title

    def is_late(self, today=None):
        return self.done_on is None and self.due < (today or datetime.date.today())


def _ratio_choices():
    from cadre.monitoring.ratios import RATIOS

    return [(ratio.code, ratio.label) for ratio in RATIOS]


class RatioTarget(models.Model):
    """The value a ratio should reach in a fiscal year, followed against that year's accepted statement."""

    plan = models.ForeignKey(RecoveryPlan, on_delete=models.CASCADE, related_name="targets")
    ratio = models.CharField("ratio", max_length=40, choices=_ratio_choices)
    year = models.PositiveSmallIntegerField("exercice")
    target = models.DecimalField("valeur visée", max_digits=14, decimal_places=2)
    at_least = models.BooleanField("au moins", default=True, help_text="Décochez quand la valeur visée est un plafond.")

    class Meta:
        verbose_name = "valeur cible d'un ratio"
        ordering = ["ratio", "year"]
        constraints = [
            models.UniqueConstraint(
                fields=["plan", "ratio", "year"],
                name="one_target_per_ratio_and_year",
                violation_error_message="Ce ratio a déjà une valeur visée pour cet exercice.",
            )
        ]

    def __str__(self):
        return f"{self.get_ratio_display()} {self.year}"

    def clean(self):
        from cadre.monitoring.ratios import RATIOS

        unit = {ratio.code: ratio.unit for ratio in RATIOS}.get(self.ratio)
        if unit == "%" and self.target is not None and abs(self.target) > 1000:
            raise ValidationError({"target": "Une part s'écrit en pourcentage : vérifiez la valeur visée."})
        if unit in {"jours", "exercices"} and self.target is not None and self.target < 0:
            raise ValidationError({"target": "Cette valeur ne peut pas être négative."})

    def reached(self, actual):
        if actual is None:
            return None
        return actual >= self.target if self.at_least else actual <= self.target
