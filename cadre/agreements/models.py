"""Agreements of the partnership: the framework agreement (convention cadre) with its charter,
signatories and amendments; per-structure, tripartite and CTG agreements; an agreement's roadmap.

Who may see what is decided here (`visible_to`), who may change what in permissions.py, and the
workflows that touch several records (sign, amend, renew) in actions.py.
"""

import datetime
import uuid as uuid_module

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Exists, OuterRef, Q

from cadre.core.models import TrackedHistory, VersionedModel
from cadre.partners.models import Partner
from cadre.structures.models import Structure
from cadre.territories.models import Commune, Department


class AgreementStatus(models.TextChoices):
    DRAFT = "draft", "En préparation"
    SIGNED = "signed", "Signée"
    IN_FORCE = "in_force", "En vigueur"
    ENDED = "ended", "Terminée"
    RENEWED = "renewed", "Renouvelée"


# The steps an agreement may take from each status (a signed agreement comes into force on its start).
STATUS_STEPS = {
    AgreementStatus.DRAFT: {AgreementStatus.SIGNED},
    AgreementStatus.SIGNED: {AgreementStatus.IN_FORCE, AgreementStatus.DRAFT},
    AgreementStatus.IN_FORCE: {AgreementStatus.ENDED, AgreementStatus.RENEWED},
    AgreementStatus.ENDED: {AgreementStatus.RENEWED},
    AgreementStatus.RENEWED: set(),
}


class SignatoryRole(models.TextChoices):
    CO_CHAIR = "co_chair", "Coprésidence"
    SIGNATORY = "signatory", "Signataire"


class AgreementKind(models.TextChoices):
    STRUCTURE = "structure", "Convention d'objectifs et de financement (une structure)"
    TRIPARTITE = "tripartite", "Convention tripartite (ville, Caf et structures)"
    CTG = "ctg", "Convention territoriale globale"


def user_partner_q(user, path):
    """Rows whose partner (at `path`) is one of the user's partners."""
    return Q(**{f"{path}__in": sorted(user.partner_ids())})


def check_period(starts, ends, errors, field="ends", what="La convention"):
    if starts and ends and ends <= starts:
        errors[field] = f"{what} doit se terminer après son début (le {starts:%d/%m/%Y})."


class FrameworkAgreementQuerySet(models.QuerySet):
    def visible_to(self, user):
        """Signed-in users whose partner signs it or covers its département, or whose structure lies
        in that département; administrators see all."""
        if not user.is_authenticated or not user.is_active:
            return self.none()
        if user.is_administrator:
            return self
        departments, communes = user.partner_territory(user.partner_ids())
        covered = set(departments) | set(
            Commune.objects.filter(code__in=sorted(communes)).values_list("department_id", flat=True)
        )
        covered |= set(
            Structure.objects.filter(pk__in=sorted(user.structure_ids())).values_list(
                "commune__department_id", flat=True
            )
        )
        signs = Signatory.objects.filter(framework=OuterRef("pk"), partner_id__in=sorted(user.partner_ids()))
        return self.filter(Q(department_id__in=sorted(covered)) | Q(Exists(signs)))


class FrameworkAgreement(VersionedModel):
    """The convention cadre of a département: its partners, its charter, its period, its editions."""

    title = models.CharField("intitulé", max_length=250)
    department = models.ForeignKey(
        Department, verbose_name="département", on_delete=models.PROTECT, related_name="framework_agreements"
    )
    starts = models.DateField("début")
    ends = models.DateField("fin")
    extended_to = models.DateField("prolongée jusqu'au", null=True, blank=True)
    status = models.CharField("état", max_length=12, choices=AgreementStatus.choices, default=AgreementStatus.DRAFT)
    charter = models.TextField("charte de coopération", blank=True)
    values = models.JSONField("valeurs", default=list, blank=True)
    purposes = models.JSONField("finalités", default=list, blank=True)
    previous = models.OneToOneField(
        "self",
        verbose_name="édition précédente",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="next_edition",
    )
    notes = models.TextField("observations", blank=True)

    objects = FrameworkAgreementQuerySet.as_manager()
    history = TrackedHistory()

    class Meta:
        verbose_name = "convention cadre"
        verbose_name_plural = "conventions cadres"
        ordering = ["department", "-starts"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends__gt=models.F("starts")),
                name="framework_ends_after_start",
                violation_error_message="La convention doit se terminer après son début.",
            ),
            models.CheckConstraint(
                condition=Q(extended_to__isnull=True) | Q(extended_to__gt=models.F("ends")),
                name="framework_extension_after_end",
                violation_error_message="Une prolongation va au-delà de la fin prévue.",
            ),
        ]

    def __str__(self):
        return self.title

    @property
    def effective_end(self):
        return self.extended_to or self.ends

    @property
    def period_label(self):
        label = f"du {self.starts:%d/%m/%Y} au {self.ends:%d/%m/%Y}"
        if self.extended_to:
            label += f", prolongée jusqu'au {self.extended_to:%d/%m/%Y}"
        return label

    def covers(self, day):
        return self.starts <= day <= self.effective_end

    def clean(self):
        errors = {}
        check_period(self.starts, self.ends, errors)
        if self.extended_to and self.ends and self.extended_to <= self.ends:
            errors["extended_to"] = f"Une prolongation va au-delà de la fin prévue (le {self.ends:%d/%m/%Y})."
        if self.previous_id and self.starts and self.previous and self.starts <= self.previous.starts:
            errors["starts"] = "Une nouvelle édition commence après l'édition précédente."
        if errors:
            raise ValidationError(errors)

    def editions(self):
        """This framework's editions, the oldest first (by `previous`)."""
        chain, current = [self], self
        while current.previous_id:
            current = current.previous
            chain.append(current)
        chain.reverse()
        current = self
        # `next_edition` is a reverse one-to-one: no query when the page selected it with the framework.
        while (current := getattr(current, "next_edition", None)) is not None:
            chain.append(current)
        return chain

    def editions_signatories(self):
        """This edition's signatories and the previous one's, with their partners, in one query."""
        return Signatory.objects.filter(framework_id__in=[self.pk, self.previous_id]).select_related("partner")

    def signatory_changes(self, signatories=None):
        """(joined, left): partners signing this edition and not the previous one, and the reverse.
        `signatories`: `editions_signatories()`, when the page has read them already."""
        if not self.previous_id:
            return [], []
        if signatories is None:
            # Unordered: the signatories' default order would join their structures only to sort.
            signatories = self.editions_signatories().order_by()
        rows = [
            row
            for row in signatories
            if row.framework_id == self.previous_id or (row.framework_id == self.pk and row.left_on is None)
        ]
        partners = {row.partner_id: row.partner for row in rows}
        now = {row.partner_id for row in rows if row.framework_id == self.pk}
        before = {row.partner_id for row in rows if row.framework_id == self.previous_id}
        by_name = lambda ids: sorted((partners[i] for i in ids), key=lambda p: p.name)  # noqa: E731
        return by_name(now - before), by_name(before - now)


class AgreementQuerySet(models.QuerySet):
    def visible_to(self, user):
        """Administrators; staff of a partner party to it; those who see one of its structures."""
        if not user.is_authenticated or not user.is_active:
            return self.none()
        if user.is_administrator:
            return self
        # Each party's structure looked up by its key: `structure__in` listed first every structure the user
        # sees (thousands for a Caf), on every agreement page.
        parties = Signatory.objects.filter(agreement=OuterRef("pk")).filter(
            Q(partner_id__in=sorted(user.partner_ids()))
            | Exists(Structure.objects.visible_to(user).filter(pk=OuterRef("structure_id")))
        )
        return self.filter(Exists(parties))


class Agreement(VersionedModel):
    """An agreement with one structure, a city's tripartite agreement, or a CTG."""

    framework = models.ForeignKey(
        FrameworkAgreement,
        verbose_name="convention cadre",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="agreements",
    )
    kind = models.CharField("type de convention", max_length=12, choices=AgreementKind.choices)
    title = models.CharField("intitulé", max_length=250)
    reference = models.CharField("référence", max_length=60, blank=True)
    commune = models.ForeignKey(
        Commune,
        verbose_name="commune",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="agreements",
        help_text="la ville d'une convention tripartite ou d'une CTG",
    )
    starts = models.DateField("début")
    ends = models.DateField("fin")
    status = models.CharField("état", max_length=12, choices=AgreementStatus.choices, default=AgreementStatus.DRAFT)
    notes = models.TextField("observations", blank=True)

    objects = AgreementQuerySet.as_manager()
    history = TrackedHistory()

    class Meta:
        verbose_name = "convention"
        ordering = ["-starts", "title"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends__gt=models.F("starts")),
                name="agreement_ends_after_start",
                violation_error_message="La convention doit se terminer après son début.",
            )
        ]

    def __str__(self):
        return self.title

    @property
    def period_label(self):
        return f"du {self.starts:%d/%m/%Y} au {self.ends:%d/%m/%Y}"

    def covers(self, day):
        return self.starts <= day <= self.ends

    def years(self):
        return list(range(self.starts.year, self.ends.year + 1))

    def clean(self):
        errors = {}
        check_period(self.starts, self.ends, errors)
        if self.kind in (AgreementKind.TRIPARTITE, AgreementKind.CTG) and not self.commune_id:
            errors["commune"] = "Une convention tripartite ou une CTG est signée avec une ville : indiquez-la."
        framework = self.framework if self.framework_id else None
        if framework and self.starts and self.ends and "ends" not in errors:
            if self.starts < framework.starts or self.ends > framework.effective_end:
                errors["ends"] = (
                    f"La convention tient dans la période de la convention cadre ({framework.period_label})."
                )
        if errors:
            raise ValidationError(errors)

    def structures(self):
        return Structure.objects.filter(agreement_signatures__agreement=self).order_by("name")

    def partners(self):
        return Partner.objects.filter(signatures__agreement=self).order_by("name")


class Signatory(models.Model):
    """A party signing a framework agreement (a partner) or an agreement (a partner or a structure)."""

    framework = models.ForeignKey(
        FrameworkAgreement, on_delete=models.CASCADE, null=True, blank=True, related_name="signatories"
    )
    agreement = models.ForeignKey(Agreement, on_delete=models.CASCADE, null=True, blank=True, related_name="parties")
    partner = models.ForeignKey(
        Partner, verbose_name="partenaire", on_delete=models.PROTECT, null=True, blank=True, related_name="signatures"
    )
    structure = models.ForeignKey(
        Structure,
        verbose_name="structure",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="agreement_signatures",
    )
    role = models.CharField("rôle", max_length=12, choices=SignatoryRole.choices, default=SignatoryRole.SIGNATORY)
    signed_on = models.DateField("signée le", null=True, blank=True)
    left_on = models.DateField("sortie le", null=True, blank=True, help_text="par un avenant")

    history = TrackedHistory()

    class Meta:
        verbose_name = "signataire"
        ordering = ["role", "partner__name", "structure__name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(framework__isnull=True, agreement__isnull=False)
                | Q(framework__isnull=False, agreement__isnull=True),
                name="signatory_of_one_agreement",
            ),
            models.CheckConstraint(
                condition=Q(partner__isnull=True, structure__isnull=False)
                | Q(partner__isnull=False, structure__isnull=True),
                name="signatory_is_one_party",
            ),
            models.CheckConstraint(
                condition=Q(framework__isnull=True) | Q(structure__isnull=True),
                name="framework_signed_by_partners",
            ),
            models.UniqueConstraint(
                fields=["framework", "partner"],
                name="framework_signatory_unique",
                violation_error_message="Ce partenaire signe déjà cette convention cadre.",
            ),
            models.UniqueConstraint(
                fields=["agreement", "partner"],
                name="agreement_partner_unique",
                violation_error_message="Ce partenaire est déjà partie à cette convention.",
            ),
            models.UniqueConstraint(
                fields=["agreement", "structure"],
                name="agreement_structure_unique",
                violation_error_message="Cette structure est déjà partie à cette convention.",
            ),
        ]

    def __str__(self):
        return str(self.partner or self.structure)

    @property
    def party(self):
        return self.partner or self.structure


class Amendment(VersionedModel):
    """An avenant: what it changes (period, signatories, amounts) is recorded and applied by actions.amend."""

    framework = models.ForeignKey(
        FrameworkAgreement, on_delete=models.CASCADE, null=True, blank=True, related_name="amendments"
    )
    agreement = models.ForeignKey(Agreement, on_delete=models.CASCADE, null=True, blank=True, related_name="amendments")
    number = models.PositiveSmallIntegerField("numéro")
    signed_on = models.DateField("signé le")
    purpose = models.CharField("objet", max_length=250)
    new_end = models.DateField("nouvelle fin", null=True, blank=True, help_text="si l'avenant prolonge la période")
    joined = models.ManyToManyField(
        Partner, verbose_name="signataires qui entrent", blank=True, related_name="amendments_joined"
    )
    left = models.ManyToManyField(
        Partner, verbose_name="signataires qui sortent", blank=True, related_name="amendments_left"
    )
    amount_change = models.DecimalField(
        "variation des montants (€)",
        max_digits=12,
        decimal_places=2,
        null=True,
        blank=True,
        help_text="par exemple +15000.00 ou -2500.00",
    )
    description = models.TextField("ce qui change", blank=True)

    history = TrackedHistory(m2m_fields=[joined, left])

    class Meta:
        verbose_name = "avenant"
        ordering = ["number"]
        constraints = [
            models.CheckConstraint(
                condition=Q(framework__isnull=True, agreement__isnull=False)
                | Q(framework__isnull=False, agreement__isnull=True),
                name="amendment_of_one_agreement",
            ),
            models.UniqueConstraint(fields=["framework", "number"], name="framework_amendment_number"),
            models.UniqueConstraint(fields=["agreement", "number"], name="agreement_amendment_number"),
        ]

    def __str__(self):
        return f"Avenant n° {self.number} : {self.purpose}"


class Roadmap(VersionedModel):
    """The multi-year roadmap (feuille de route) of an agreement, by theme."""

    agreement = models.OneToOneField(
        Agreement, verbose_name="convention", on_delete=models.CASCADE, related_name="roadmap"
    )
    title = models.CharField("intitulé", max_length=250)

    history = TrackedHistory()

    class Meta:
        verbose_name = "feuille de route"
        verbose_name_plural = "feuilles de route"

    def __str__(self):
        return self.title


# Villeurbanne's five themes: the default of a new roadmap.
DEFAULT_THEMES = [
    "Territoire",
    "Valorisation, évaluation et communication",
    "Notion de projet",
    "Vie associative",
    "Modèle économique",
]


class RoadmapTheme(models.Model):
    roadmap = models.ForeignKey(Roadmap, on_delete=models.CASCADE, related_name="themes")
    position = models.PositiveSmallIntegerField("ordre", default=0)
    name = models.CharField("thème", max_length=150)

    class Meta:
        verbose_name = "thème de la feuille de route"
        ordering = ["position", "pk"]
        constraints = [models.UniqueConstraint(fields=["roadmap", "name"], name="roadmap_theme_unique")]

    def __str__(self):
        return self.name


class ItemStatus(models.TextChoices):
    PLANNED = "planned", "À engager"
    IN_PROGRESS = "in_progress", "En cours"
    DONE = "done", "Réalisée"
    DROPPED = "dropped", "Abandonnée"


OPEN_ITEM_STATUSES = [ItemStatus.PLANNED, ItemStatus.IN_PROGRESS]


class RoadmapItemQuerySet(models.QuerySet):
    def visible_to(self, user):
        return self.filter(theme__roadmap__agreement__in=Agreement.objects.visible_to(user))

    def late(self, today=None):
        """Items past their due date and neither done nor dropped."""
        today = today or datetime.date.today()
        return self.filter(due__lt=today, status__in=OPEN_ITEM_STATUSES)


class RoadmapItem(VersionedModel):
    theme = models.ForeignKey(RoadmapTheme, verbose_name="thème", on_delete=models.CASCADE, related_name="items")
    title = models.CharField("action", max_length=250)
    owner_partner = models.ForeignKey(
        Partner, verbose_name="porteur (partenaire)", on_delete=models.PROTECT, null=True, blank=True
    )
    owner_structure = models.ForeignKey(
        Structure, verbose_name="porteur (structure)", on_delete=models.PROTECT, null=True, blank=True
    )
    due = models.DateField("échéance")
    status = models.CharField("état", max_length=12, choices=ItemStatus.choices, default=ItemStatus.PLANNED)

    objects = RoadmapItemQuerySet.as_manager()
    history = TrackedHistory()

    class Meta:
        verbose_name = "action de la feuille de route"
        verbose_name_plural = "actions de la feuille de route"
        ordering = ["due", "title"]
        constraints = [
            models.CheckConstraint(
                condition=Q(owner_partner__isnull=True) | Q(owner_structure__isnull=True),
                name="roadmap_item_one_owner",
                violation_error_message="Une action a un seul porteur : un partenaire ou une structure.",
            )
        ]

    def __str__(self):
        return self.title

    @property
    def owner(self):
        return self.owner_partner or self.owner_structure

    def is_late(self, today=None):
        return self.status in OPEN_ITEM_STATUSES and self.due < (today or datetime.date.today())

    def clean(self):
        if self.owner_partner_id and self.owner_structure_id:
            raise ValidationError({"owner_structure": "Une action a un seul porteur : un partenaire ou une structure."})


class ProgressNote(models.Model):
    """A dated note on an item's progress, by whom."""

    item = models.ForeignKey(RoadmapItem, on_delete=models.CASCADE, related_name="notes")
    written_on = models.DateField("date")
    author = models.ForeignKey("accounts.User", on_delete=models.SET_NULL, null=True, related_name="+")
    text = models.TextField("avancement")

    class Meta:
        verbose_name = "note d'avancement"
        ordering = ["-written_on", "-pk"]

    def __str__(self):
        return f"{self.written_on:%d/%m/%Y} : {self.text[:50]}"


# -- Governance ------------------------------------------------------------------------------------


class CommitteeKind(models.TextChoices):
    STEERING = "steering", "Comité de pilotage"
    TECHNICAL = "technical", "Comité technique"
    SUPPORT = "support", "Cellule d'appui"
    TERRITORIAL = "territorial", "Instance territoriale de concertation"


class CommitteeQuerySet(models.QuerySet):
    def visible_to(self, user):
        """Its members' staff; for bodies other than the support cell (its cases are confidential), those
        who see its framework agreement; administrators."""
        if not user.is_authenticated or not user.is_active:
            return self.none()
        if user.is_administrator:
            return self
        member = CommitteeMember.objects.filter(committee=OuterRef("pk"), partner_id__in=sorted(user.partner_ids()))
        open_to_framework = ~Q(kind=CommitteeKind.SUPPORT) & Q(
            framework__in=FrameworkAgreement.objects.visible_to(user)
        )
        return self.filter(Q(Exists(member)) | open_to_framework)


class Committee(VersionedModel):
    framework = models.ForeignKey(
        FrameworkAgreement, verbose_name="convention cadre", on_delete=models.CASCADE, related_name="committees"
    )
    kind = models.CharField("instance", max_length=12, choices=CommitteeKind.choices)
    name = models.CharField("nom", max_length=200)
    mission = models.TextField("mission", blank=True)

    objects = CommitteeQuerySet.as_manager()
    history = TrackedHistory()

    class Meta:
        verbose_name = "instance de gouvernance"
        verbose_name_plural = "instances de gouvernance"
        ordering = ["framework", "kind", "name"]

    def __str__(self):
        return self.name


class MemberRole(models.TextChoices):
    CHAIR = "chair", "Présidence"
    MEMBER = "member", "Membre"
    GUEST = "guest", "Invité"


class CommitteeMember(models.Model):
    committee = models.ForeignKey(Committee, on_delete=models.CASCADE, related_name="members")
    partner = models.ForeignKey(Partner, verbose_name="partenaire", on_delete=models.PROTECT, related_name="+")
    person = models.CharField("représenté par", max_length=150, blank=True)
    role = models.CharField("rôle", max_length=8, choices=MemberRole.choices, default=MemberRole.MEMBER)

    class Meta:
        verbose_name = "membre d'une instance"
        ordering = ["role", "partner__name"]
        constraints = [
            models.UniqueConstraint(
                fields=["committee", "partner"],
                name="committee_member_unique",
                violation_error_message="Ce partenaire est déjà membre de l'instance.",
            )
        ]

    def __str__(self):
        return f"{self.partner} ({self.person})" if self.person else str(self.partner)


class Meeting(VersionedModel):
    committee = models.ForeignKey(Committee, verbose_name="instance", on_delete=models.CASCADE, related_name="meetings")
    starts_at = models.DateTimeField("date et heure")
    place = models.CharField("lieu", max_length=200, blank=True)
    agenda = models.TextField("ordre du jour", blank=True)
    minutes = models.TextField("compte rendu", blank=True)
    present = models.ManyToManyField(CommitteeMember, verbose_name="présents", blank=True, related_name="attended")

    history = TrackedHistory(m2m_fields=[present])

    class Meta:
        verbose_name = "réunion"
        ordering = ["-starts_at"]

    def __str__(self):
        return f"{self.committee} du {self.starts_at:%d/%m/%Y}"


class Decision(models.Model):
    meeting = models.ForeignKey(Meeting, on_delete=models.CASCADE, related_name="decisions")
    number = models.PositiveSmallIntegerField("numéro")
    text = models.TextField("décision")

    class Meta:
        verbose_name = "décision"
        ordering = ["number"]
        constraints = [models.UniqueConstraint(fields=["meeting", "number"], name="decision_number_unique")]

    def __str__(self):
        return f"Décision n° {self.number}"


class FollowUpQuerySet(models.QuerySet):
    def late(self, today=None):
        return self.filter(due__lt=today or datetime.date.today(), done_on__isnull=True)


class FollowUp(VersionedModel):
    """An action a decision calls for: who does it, by when, done or not."""

    decision = models.ForeignKey(Decision, on_delete=models.CASCADE, related_name="follow_ups")
    title = models.CharField("action", max_length=250)
    owner = models.ForeignKey(Partner, verbose_name="porteur", on_delete=models.PROTECT, null=True, blank=True)
    due = models.DateField("échéance")
    done_on = models.DateField("faite le", null=True, blank=True)

    objects = FollowUpQuerySet.as_manager()
    history = TrackedHistory()

    class Meta:
        verbose_name = "suite à donner"
        verbose_name_plural = "suites à donner"
        ordering = ["due", "pk"]

    def __str__(self):
        return self.title

    def is_late(self, today=None):
        return self.done_on is None and self.due < (today or datetime.date.today())


class EventKind(models.TextChoices):
    EXCHANGE_DAY = "exchange_day", "Journée d'échange"
    DATA_DAY = "data_day", "Journée des données SENACS"
    TRAINING = "training", "Formation"
    OTHER = "other", "Autre"


class EventQuerySet(models.QuerySet):
    def visible_to(self, user):
        # Exchange days are for the whole partnership: every signed-in person sees them.
        if not user.is_authenticated or not user.is_active:
            return self.none()
        return self


class Event(VersionedModel):
    framework = models.ForeignKey(
        FrameworkAgreement,
        verbose_name="convention cadre",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="events",
    )
    kind = models.CharField("type", max_length=14, choices=EventKind.choices, default=EventKind.EXCHANGE_DAY)
    title = models.CharField("intitulé", max_length=200)
    starts_at = models.DateTimeField("date et heure")
    place = models.CharField("lieu", max_length=200, blank=True)
    description = models.TextField("programme", blank=True)
    capacity = models.PositiveIntegerField("places", null=True, blank=True, help_text="vide : sans limite")

    objects = EventQuerySet.as_manager()
    history = TrackedHistory()

    class Meta:
        verbose_name = "événement"
        ordering = ["starts_at"]

    def __str__(self):
        return self.title

    @property
    def places_left(self):
        return None if self.capacity is None else max(self.capacity - self.registrations.count(), 0)


class Registration(models.Model):
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="registrations")
    user = models.ForeignKey("accounts.User", on_delete=models.CASCADE, related_name="event_registrations")
    registered_at = models.DateTimeField("inscrit le", auto_now_add=True)

    class Meta:
        verbose_name = "inscription"
        ordering = ["registered_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["event", "user"], name="registration_unique", violation_error_message="Vous êtes déjà inscrit."
            )
        ]

    def __str__(self):
        return f"{self.user} → {self.event}"


class AttachmentKind(models.TextChoices):
    SIGNED = "signed", "Convention signée"
    ANNEX = "annex", "Annexe"
    AMENDMENT = "amendment", "Avenant signé"
    OTHER = "other", "Autre document"


class Attachment(models.Model):
    """A file attached to a framework agreement or an agreement (the signed text, annexes), kept in the
    database and served only to those who see the agreement."""

    uuid = models.UUIDField("identifiant public", default=uuid_module.uuid4, unique=True, editable=False)
    framework = models.ForeignKey(
        FrameworkAgreement, on_delete=models.CASCADE, null=True, blank=True, related_name="attachments"
    )
    agreement = models.ForeignKey(
        Agreement, on_delete=models.CASCADE, null=True, blank=True, related_name="attachments"
    )
    kind = models.CharField("document", max_length=12, choices=AttachmentKind.choices, default=AttachmentKind.SIGNED)
    title = models.CharField("intitulé", max_length=200, blank=True)
    file_name = models.CharField("nom du fichier", max_length=150)
    content_type = models.CharField("type", max_length=100)
    size = models.PositiveIntegerField("taille (octets)")
    sha256 = models.CharField("empreinte SHA-256", max_length=64)
    content = models.BinaryField("contenu")
    uploaded_by = models.ForeignKey("accounts.User", on_delete=models.SET_NULL, null=True, related_name="+")
    uploaded_at = models.DateTimeField("déposé le", auto_now_add=True)

    class Meta:
        verbose_name = "document joint"
        verbose_name_plural = "documents joints"
        ordering = ["kind", "-uploaded_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(framework__isnull=True, agreement__isnull=False)
                | Q(framework__isnull=False, agreement__isnull=True),
                name="attachment_of_one_agreement",
            )
        ]

    def __str__(self):
        return self.title or self.get_kind_display()
