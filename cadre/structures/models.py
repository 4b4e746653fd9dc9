"""Social facilities (centres sociaux, EVS): the SENACS identity card and Caf approvals."""

import calendar
import datetime
import re

from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Exists, OuterRef, Q
from django.db.models.functions import Lower, Upper
from django.utils import timezone

from cadre.core.models import TrackedHistory, VersionedModel
from cadre.partners.models import Partner, PartnerKind, territory_q, validate_siret
from cadre.territories.models import Commune, Department, PriorityArea

MAX_PROJECT_AXES = 5


class StructureKind(models.TextChoices):
    CENTRE_SOCIAL = "centre_social", "Centre social"
    EVS = "evs", "Espace de vie sociale"


class Management(models.TextChoices):
    ASSOCIATION = "association", "Associatif"
    LOCAL_AUTHORITY = "local_authority", "Collectivité territoriale"
    CAF = "caf", "Caf"
    OTHER = "other", "Autre"


class TerritoryType(models.TextChoices):
    NEIGHBOURHOOD = "neighbourhood", "Un quartier"
    SEVERAL_NEIGHBOURHOODS = "several_neighbourhoods", "Plusieurs quartiers"
    COMMUNE = "commune", "Une commune"
    SEVERAL_COMMUNES = "several_communes", "Plusieurs communes"
    INTERCOMMUNAL = "intercommunal", "Une intercommunalité"


class TerritorySize(models.TextChoices):
    UNDER_2K = "lt2k", "Moins de 2 000 habitants"
    FROM_2K = "2k-10k", "De 2 000 à 10 000 habitants"
    FROM_10K = "10k-50k", "De 10 000 à 50 000 habitants"
    FROM_50K = "50k-100k", "De 50 000 à 100 000 habitants"
    OVER_100K = "gt100k", "Plus de 100 000 habitants"


class PriorityAreaStatus(models.TextChoices):
    IN_AREA = "in_area", "Implantée dans un QPV"
    SERVES_AREA = "serves_area", "Hors QPV, accueille les habitants d'un QPV"
    NONE = "none", "Sans lien avec un QPV"


class StructureQuerySet(models.QuerySet):
    def visible_to(self, user):
        """The structures a user may see: see DESIGN.md, « Users and what each may see »."""
        if not user.is_authenticated or not user.is_active:
            return self.none()
        if user.is_administrator:
            return self
        return self.filter(scope_q(user))

    def public(self):
        return self.filter(closed_on__isnull=True)

    def with_current_approval_end(self, today=None):
        """Annotate `approval_ends`: end of the main approval in force (social project or EVS)."""
        today = today or timezone.localdate()
        current = Approval.objects.filter(
            structure=OuterRef("pk"),
            kind__in=MAIN_APPROVAL_KINDS,
            starts__lte=today,
            ends__gte=today,
        ).order_by("-ends")
        return self.annotate(approval_ends=models.Subquery(current.values("ends")[:1]))

    def approval_ending_within(self, months, today=None):
        today = today or timezone.localdate()
        limit = add_months(today, months)
        ending = Approval.objects.filter(
            structure=OuterRef("pk"),
            kind__in=MAIN_APPROVAL_KINDS,
            starts__lte=today,
            ends__gte=today,
            ends__lte=limit,
        )
        # A renewal already recorded after the current approval means nothing is ending.
        renewed = Approval.objects.filter(
            structure=OuterRef("pk"),
            kind__in=MAIN_APPROVAL_KINDS,
            starts__gt=today,
        )
        return self.filter(Exists(ending)).exclude(Exists(renewed))

    def observed_in(self, year):
        """The structures the observatory asks about `year`: approved during that year and first
        approved before it (a new structure joins the campaign of the year after its first approval)."""
        start, end = datetime.date(year, 1, 1), datetime.date(year, 12, 31)
        main = Approval.objects.filter(structure=OuterRef("pk"), kind__in=MAIN_APPROVAL_KINDS)
        return self.filter(
            Exists(main.filter(starts__lte=end, ends__gte=start)),
            Q(first_approval_date__lt=start) | Exists(main.filter(starts__lt=start)),
        )


# Partners whose staff may edit the registry of the structures in their scope.
EDITING_PARTNER_KINDS = {PartnerKind.CAF, PartnerKind.FEDERATION}


def scope_parts(user, roles=None, partner_kinds=None):
    """What a user's memberships reach: (structure ids, federation ids, départements, communes)."""
    partners = {p: k for p, k in user.partner_kinds(roles).items() if partner_kinds is None or k in partner_kinds}
    territorial = [p for p, kind in partners.items() if kind != PartnerKind.FEDERATION]
    return (
        frozenset(user.structure_ids(roles)),
        frozenset(p for p, kind in partners.items() if kind == PartnerKind.FEDERATION),
        *user.partner_territory(territorial),
    )


def sees_structure(user, structure):
    """Whether `user` sees `structure`: `visible_structure_q` read from the user's scope in memory, without a
    query when the structure comes with its commune."""
    if not user.is_authenticated or not user.is_active:
        return False
    if user.is_administrator:
        return True
    structure_ids, federation_ids, departments, communes = scope_parts(user)
    if structure.pk in structure_ids or structure.federation_id in federation_ids:
        return True
    commune = structure.commune
    return commune.department_id in departments or commune.code in communes or commune.parent_id in communes


def parts_q(parts, path=""):
    """Q of the structures reached by `scope_parts` (of the rows whose structure they are, through `path`).

    Structure staff: their structures. Federation staff: member structures.
    Other partners' staff: structures whose commune is in the partner's territory.
    """
    structure_ids, federation_ids, departments, communes = parts
    prefix = f"{path}__" if path else ""
    q = Q(**{f"{prefix}pk__in": sorted(structure_ids)})
    if federation_ids:
        q |= Q(**{f"{prefix}federation_id__in": sorted(federation_ids)})
    if departments or communes:
        q |= territory_q(departments, communes, commune_path=f"{prefix}commune")
    return q


def scope_q(user, roles=None, partner_kinds=None):
    return parts_q(scope_parts(user, roles, partner_kinds))


def visible_structure_q(user, path):
    """Q of the rows whose structure (reached through `path`, e.g. "structure") `user` sees: the condition of
    `Structure.objects.visible_to` on the row's own joins. As a subquery (`structure__in=…visible_to(user)`),
    nested in another model's visible_to, it made PostgreSQL plan more joins than it ran."""
    if not user.is_authenticated or not user.is_active:
        return Q(pk__in=[])
    if user.is_administrator:
        return Q()
    return parts_q(scope_parts(user), path)


AREA_SCOPE_CACHE_SECONDS = 600


def areas_in_scope(user):
    """(région codes, département codes) a user's filters may offer: those of the structures
    they see and of their partners' territories; None for administrators and the public (all of them)."""
    if not user.is_authenticated or user.is_administrator:
        return None
    key = f"cadre:areas:{user.pk}:{user.scope_key}"
    areas = cache.get(key)
    if areas is None:
        _, _, departments, communes = scope_parts(user)
        codes = set(departments)
        codes |= set(Commune.objects.filter(pk__in=sorted(communes)).values_list("department_id", flat=True))
        codes |= set(
            Structure.objects.visible_to(user).order_by().values_list("commune__department_id", flat=True).distinct()
        )
        codes.discard(None)
        regions = set(Department.objects.filter(pk__in=sorted(codes)).values_list("region_id", flat=True))
        areas = (frozenset(regions), frozenset(codes))
        cache.set(key, areas, AREA_SCOPE_CACHE_SECONDS)
    return areas


def attach_priority_area_codes(structures):
    """Set `priority_area_codes` (sorted QPV codes) on each of `structures`, in one query."""
    codes = {s.pk: [] for s in structures}
    if codes:
        links = Structure.priority_areas.through.objects.filter(structure_id__in=codes)
        for structure_id, code in links.order_by("priorityarea_id").values_list("structure_id", "priorityarea_id"):
            codes[structure_id].append(code)
    for structure in structures:
        structure.priority_area_codes = codes[structure.pk]


def add_months(day, months):
    month = day.month - 1 + months
    year = day.year + month // 12
    month = month % 12 + 1
    return datetime.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def validate_project_axes(value):
    if not isinstance(value, list):
        raise ValidationError("Les axes du projet doivent être une liste.")
    if len(value) > MAX_PROJECT_AXES:
        raise ValidationError(f"Au plus {MAX_PROJECT_AXES} axes de projet (vous en avez saisi {len(value)}).")
    for axis in value:
        if not isinstance(axis, str) or not axis.strip():
            raise ValidationError("Un axe de projet ne peut pas être vide.")
        if len(axis) > 200:
            raise ValidationError("Un axe de projet tient en 200 caractères au plus.")


RNA_PATTERN = re.compile(r"W\d{9}")


def normalise_rna(value):
    """« w 691 012 345 » becomes « W691012345 »: what people type, stored the way the RNA writes it."""
    return "".join((value or "").split()).upper()


def validate_rna(value):
    """A number of the Répertoire national des associations: W and 9 digits."""
    if value and not RNA_PATTERN.fullmatch(value):
        raise ValidationError(
            "Numéro RNA invalide : il faut un W suivi de 9 chiffres, par exemple W691012345.", code="invalid_rna"
        )


class Structure(VersionedModel):
    name = models.CharField("nom", max_length=200)
    kind = models.CharField("type de structure", max_length=20, choices=StructureKind.choices)
    siret = models.CharField(
        "SIRET", max_length=14, blank=True, validators=[validate_siret], help_text="14 chiffres, sans espace"
    )
    rna = models.CharField(
        "numéro RNA",
        max_length=10,
        blank=True,
        validators=[validate_rna],
        help_text="associations : W suivi de 9 chiffres (Répertoire national des associations)",
    )
    manager_name = models.CharField(
        "gestionnaire", max_length=200, blank=True, help_text="association, collectivité ou organisme qui gère"
    )
    management = models.CharField("mode de gestion", max_length=20, choices=Management.choices)
    address = models.CharField("adresse", max_length=250, blank=True)
    address_complement = models.CharField("complément d'adresse", max_length=250, blank=True)
    postal_code = models.CharField("code postal", max_length=5, blank=True)
    commune = models.ForeignKey(Commune, verbose_name="commune", on_delete=models.PROTECT, related_name="structures")
    served_population = models.PositiveIntegerField(
        "population de la zone d'influence", null=True, blank=True, help_text="nombre d'habitants"
    )
    territory_type = models.CharField(
        "type de territoire d'intervention", max_length=30, choices=TerritoryType.choices, blank=True
    )
    territory_size = models.CharField(
        "taille du territoire d'intervention", max_length=10, choices=TerritorySize.choices, blank=True
    )
    priority_area_status = models.CharField(
        "situation au regard de la politique de la ville",
        max_length=12,
        choices=PriorityAreaStatus.choices,
        default=PriorityAreaStatus.NONE,
    )
    priority_areas = models.ManyToManyField(PriorityArea, verbose_name="QPV", blank=True, related_name="structures")
    federation = models.ForeignKey(
        Partner,
        verbose_name="fédération d'adhésion",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="member_structures",
        limit_choices_to={"kind": PartnerKind.FEDERATION},
    )
    serves_travellers = models.BooleanField("accueil des gens du voyage", default=False)
    multi_site = models.BooleanField("multi-sites", default=False)
    itinerant = models.BooleanField("itinérant", default=False)
    project_axes = models.JSONField("axes du projet", default=list, blank=True, validators=[validate_project_axes])
    first_approval_date = models.DateField("date du premier agrément", null=True, blank=True)
    email = models.EmailField("adresse électronique", blank=True)
    phone = models.CharField("téléphone", max_length=30, blank=True)
    website = models.URLField("site internet", blank=True)
    closed_on = models.DateField("fermée le", null=True, blank=True)

    objects = StructureQuerySet.as_manager()
    history = TrackedHistory(m2m_fields=[priority_areas])

    class Meta:
        verbose_name = "structure"
        ordering = ["name"]
        indexes = [
            models.Index(fields=["kind", "management"]),
            models.Index(fields=["name"]),
            # Lists and the directory sort by name without case: their first page walks this index.
            models.Index(Lower("name"), "id", name="structure_name_order"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["rna"],
                condition=~Q(rna=""),
                name="structure_rna_unique",
                violation_error_message="Ce numéro RNA est déjà celui d'une autre structure du répertoire.",
            )
        ]

    def __str__(self):
        return self.name

    def clean(self):
        errors = {}
        if self.postal_code and self.commune_id and self.postal_code not in self.commune.postal_code_list:
            known = ", ".join(self.commune.postal_code_list) or "aucun"
            errors["postal_code"] = (
                f"Le code postal {self.postal_code} n'appartient pas à {self.commune.name} (codes connus : {known})."
            )
        if self.rna and Structure.objects.filter(rna=self.rna).exclude(pk=self.pk).exists():
            errors["rna"] = "Ce numéro RNA est déjà celui d'une autre structure du répertoire."
        if errors:
            raise ValidationError(errors)

    def check_priority_areas(self, areas):
        """Errors for a set of QPV chosen with this status and commune (used by forms and the API)."""
        areas = list(areas)
        if self.priority_area_status == PriorityAreaStatus.NONE and areas:
            return "Une structure sans lien avec un QPV ne peut pas avoir de QPV rattaché."
        if self.priority_area_status != PriorityAreaStatus.NONE and not areas:
            return "Indiquez au moins un QPV (code du type QN06901M)."
        if self.priority_area_status == PriorityAreaStatus.IN_AREA and self.commune_id:
            commune_codes = {self.commune_id, self.commune.parent_id}
            for area in areas:
                area_communes = {c.code for c in area.communes.all()}
                if not area_communes & commune_codes:
                    return (
                        f"Le QPV {area.code} ({area.name}) n'est pas situé sur la commune {self.commune.name} : "
                        "choisissez « Hors QPV, accueille les habitants d'un QPV » ou corrigez la commune."
                    )
        if self.commune_id:
            for area in areas:
                if area.department_id != self.commune.department_id:
                    return f"Le QPV {area.code} est dans un autre département que la structure."
        return None


class ApprovalKind(models.TextChoices):
    SOCIAL_PROJECT = "social_project", "Animation globale (projet social)"
    FAMILY_PROJECT = "family_project", "Animation collective familles (projet familles)"
    EVS = "evs", "Espace de vie sociale"


# The approval of a structure's whole project (a family project comes on top of a social one).
MAIN_APPROVAL_KINDS = [ApprovalKind.SOCIAL_PROJECT, ApprovalKind.EVS]

APPROVAL_KINDS_BY_STRUCTURE = {
    StructureKind.CENTRE_SOCIAL: {ApprovalKind.SOCIAL_PROJECT, ApprovalKind.FAMILY_PROJECT},
    StructureKind.EVS: {ApprovalKind.EVS},
}


class ApprovalQuerySet(models.QuerySet):
    def visible_to(self, user):
        return self.filter(structure__in=Structure.objects.visible_to(user))


class Approval(VersionedModel):
    """A Caf approval (agrément) of a structure's project, for 1 to 4 years."""

    structure = models.ForeignKey(
        Structure, verbose_name="structure", on_delete=models.CASCADE, related_name="approvals"
    )
    kind = models.CharField("type d'agrément", max_length=20, choices=ApprovalKind.choices)
    starts = models.DateField("début")
    ends = models.DateField("fin")
    board_decision_date = models.DateField(
        "date de décision du conseil d'administration de la Caf", null=True, blank=True
    )
    notes = models.TextField("observations", blank=True)

    objects = ApprovalQuerySet.as_manager()
    history = TrackedHistory()

    class Meta:
        verbose_name = "agrément"
        ordering = ["-starts"]
        indexes = [models.Index(fields=["structure", "kind", "ends"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends__gt=models.F("starts")),
                name="approval_ends_after_start",
                violation_error_message="La fin de l'agrément doit être postérieure à son début.",
            )
        ]

    def __str__(self):
        return f"{self.get_kind_display()} du {self.starts:%d/%m/%Y} au {self.ends:%d/%m/%Y}"

    @property
    def duration_label(self):
        months = (self.ends.year - self.starts.year) * 12 + self.ends.month - self.starts.month + 1
        years, rest = divmod(months, 12)
        if rest == 0:
            return f"{years} an{'s' if years > 1 else ''}"
        return f"{months} mois"

    def clean(self):
        errors = {}
        if self.starts and self.ends:
            if self.ends <= self.starts:
                errors["ends"] = "La fin de l'agrément doit être postérieure à son début."
            elif self.ends >= add_months(self.starts, 48):
                errors["ends"] = "Un agrément dure au plus 4 ans : la fin doit précéder le " + (
                    f"{add_months(self.starts, 48):%d/%m/%Y}."
                )
            elif self.ends < add_months(self.starts, 12) - datetime.timedelta(days=1):
                errors["ends"] = "Un agrément dure au moins 1 an."
        if self.board_decision_date and self.starts and self.board_decision_date > self.ends:
            errors["board_decision_date"] = "La décision du conseil d'administration précède la fin de l'agrément."
        if self.structure_id and self.kind:
            allowed = APPROVAL_KINDS_BY_STRUCTURE[self.structure.kind]
            if self.kind not in allowed:
                errors["kind"] = f"Ce type d'agrément ne convient pas à un {self.structure.get_kind_display().lower()}."
        if self.structure_id and self.kind and self.starts and self.ends and "ends" not in errors:
            overlapping = Approval.objects.filter(
                structure_id=self.structure_id, kind=self.kind, starts__lte=self.ends, ends__gte=self.starts
            ).exclude(pk=self.pk)
            if overlapping.exists():
                errors["starts"] = "Cette période chevauche un autre agrément du même type pour cette structure."
        if errors:
            raise ValidationError(errors)


class StructureContact(VersionedModel):
    structure = models.ForeignKey(
        Structure, verbose_name="structure", on_delete=models.CASCADE, related_name="contacts"
    )
    name = models.CharField("nom", max_length=150)
    position = models.CharField("fonction", max_length=150, blank=True, help_text="par exemple : directrice")
    email = models.EmailField("adresse électronique", blank=True)
    phone = models.CharField("téléphone", max_length=30, blank=True)
    is_public = models.BooleanField("visible dans l'annuaire public", default=False)

    history = TrackedHistory()

    class Meta:
        verbose_name = "contact de la structure"
        ordering = ["name"]
        # A person's data requests find their records by e-mail or name, case ignored (« Mes données »).
        indexes = [
            models.Index(Upper("email"), name="structure_contact_email_upper"),
            models.Index(Upper("name"), name="structure_contact_name_upper"),
        ]

    def __str__(self):
        return self.name
