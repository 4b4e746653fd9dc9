"""Institutional partners and funders, with the territory each one covers."""

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.db.models.functions import Upper
from stdnum.fr import siret as stdnum_siret

from cadre.core.models import TrackedHistory, VersionedModel
from cadre.territories.models import Commune, Department


def validate_siret(value):
    """A SIRET (14 digits, Luhn key; La Poste's special rule included by python-stdnum)."""
    if not value:
        return
    try:
        stdnum_siret.validate(value)
    except Exception as error:  # stdnum raises subclasses of ValidationError of its own
        raise ValidationError(
            "SIRET invalide : il faut 14 chiffres dont le dernier est une clé de contrôle (vérifiez la saisie).",
            code="invalid_siret",
        ) from error


class PartnerKind(models.TextChoices):
    CAF = "caf", "Caf"
    STATE = "state", "État / Préfecture"
    REGION = "region", "Région"
    DEPARTMENT = "department", "Département"
    METROPOLIS = "metropolis", "Métropole / EPCI"
    COMMUNE = "commune", "Commune"
    MSA = "msa", "MSA"
    CARSAT = "carsat", "Carsat"
    FEDERATION = "federation", "Fédération des centres sociaux"
    EMPLOYER_GROUP = "employer_group", "Groupement d'employeurs"
    OTHER = "other", "Autre"


class PartnerQuerySet(models.QuerySet):
    def visible_to(self, user):
        # Partners are public institutions: every signed-in user sees the list of them.
        if not user.is_authenticated:
            return self.none()
        return self

    def federations(self):
        return self.filter(kind=PartnerKind.FEDERATION)


class Partner(VersionedModel):
    name = models.CharField("nom", max_length=200)
    short_name = models.CharField("sigle", max_length=50, blank=True)
    kind = models.CharField("type de partenaire", max_length=20, choices=PartnerKind.choices)
    siret = models.CharField(
        "SIRET", max_length=14, blank=True, validators=[validate_siret], help_text="14 chiffres, sans espace"
    )
    departments = models.ManyToManyField(
        Department,
        verbose_name="départements couverts",
        blank=True,
        related_name="partners",
        help_text="tout le département est dans le territoire du partenaire",
    )
    communes = models.ManyToManyField(
        Commune,
        verbose_name="communes couvertes",
        blank=True,
        related_name="partners",
        help_text="en plus des départements entiers",
    )
    address = models.CharField("adresse", max_length=250, blank=True)
    email = models.EmailField("adresse électronique", blank=True)
    phone = models.CharField("téléphone", max_length=30, blank=True)
    website = models.URLField("site internet", blank=True)

    objects = PartnerQuerySet.as_manager()
    history = TrackedHistory(m2m_fields=[departments, communes])

    class Meta:
        verbose_name = "partenaire"
        ordering = ["name"]

    def __str__(self):
        return self.name

    @property
    def is_federation(self):
        return self.kind == PartnerKind.FEDERATION


def territory_q(departments, communes, commune_path="commune"):
    """Q matching rows whose commune lies in `departments` or is one of `communes` (INSEE codes),
    arrondissements of those communes included."""
    conditions = []
    if departments:
        conditions.append(Q(**{f"{commune_path}__department_id__in": sorted(departments)}))
    if communes:
        conditions.append(Q(**{f"{commune_path}_id__in": sorted(communes)}))
        conditions.append(Q(**{f"{commune_path}__parent_id__in": sorted(communes)}))
    if not conditions:
        return Q(pk__in=[])
    q = conditions[0]
    for condition in conditions[1:]:
        q |= condition
    return q


class PartnerContact(VersionedModel):
    partner = models.ForeignKey(Partner, verbose_name="partenaire", on_delete=models.CASCADE, related_name="contacts")
    name = models.CharField("nom", max_length=150)
    position = models.CharField("fonction", max_length=150, blank=True)
    email = models.EmailField("adresse électronique", blank=True)
    phone = models.CharField("téléphone", max_length=30, blank=True)

    history = TrackedHistory()

    class Meta:
        verbose_name = "contact du partenaire"
        ordering = ["name"]
        # A person's data requests find their records by e-mail or name, case ignored (« Mes données »).
        indexes = [
            models.Index(Upper("email"), name="partner_contact_email_upper"),
            models.Index(Upper("name"), name="partner_contact_name_upper"),
        ]

    def __str__(self):
        return self.name
