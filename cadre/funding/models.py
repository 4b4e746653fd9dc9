"""Funding of the structures: schemes with their rules by year, funding lines, payments.

Amounts are euros with cents, as Decimal (never floats). The Caf's service funding (prestation de
service) is computed by rule: rate × min(eligible expenses, yearly ceiling), with the rate and the
ceiling of each year stored on `SchemeYear`. Sharing rules (who sees which amounts) are here, on the
querysets; rights to change them in permissions.py; multi-record workflows in actions.py.
"""

import calendar
import dataclasses
import datetime
import uuid as uuid_module
from decimal import ROUND_HALF_UP, Decimal

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Exists, OuterRef, Q, Sum

from cadre.agreements.models import Agreement
from cadre.core.charts import format_number
from cadre.core.models import TrackedHistory, VersionedModel
from cadre.partners.models import Partner, PartnerKind
from cadre.structures.models import ApprovalKind, Structure, StructureKind

CENT = Decimal("0.01")
ZERO = Decimal("0.00")


def euros(amount):
    """An amount rounded to the cent, half away from zero (as an accountant rounds)."""
    return Decimal(amount).quantize(CENT, rounding=ROUND_HALF_UP)


def format_euros(amount):
    """« 12 345,67 € », French writing; « — » when there is no amount."""
    if amount is None:
        return "—"
    return format_number(euros(amount), 2, "€")


class SchemeCategory(models.TextChoices):
    MAINSTREAM = "mainstream", "Financement de droit commun"
    FRAMEWORK = "framework", "Subvention complémentaire de la convention cadre"
    PRIORITY_AREA = "priority_area", "Subvention spécifique QPV"
    PROJECT = "project", "Subvention de projet"
    OTHER = "other", "Autre"


class SchemeRule(models.TextChoices):
    CAF_SERVICE = "caf_service", "Prestation de service : taux × dépenses retenues dans la limite du plafond"
    VOTED = "voted", "Montant voté par le financeur"


class FundingSchemeQuerySet(models.QuerySet):
    def visible_to(self, user):
        # The schemes and their rules are the partnership's shared rulebook.
        if not user.is_authenticated or not user.is_active:
            return self.none()
        return self

    def valid_in(self, year):
        return self.filter(Q(first_year__isnull=True) | Q(first_year__lte=year)).filter(
            Q(last_year__isnull=True) | Q(last_year__gte=year)
        )


class FundingScheme(VersionedModel):
    """A way of funding structures, with its rule; it may start and stop in given years (the 2025
    circular merges the two centre-social schemes between 2027 and 2030: `replaced_by`)."""

    code = models.SlugField("code", max_length=40, unique=True)
    name = models.CharField("intitulé", max_length=200)
    category = models.CharField("catégorie", max_length=20, choices=SchemeCategory.choices)
    rule = models.CharField("règle de calcul", max_length=20, choices=SchemeRule.choices, default=SchemeRule.VOTED)
    partner_kind = models.CharField(
        "financeur", max_length=20, choices=PartnerKind.choices, blank=True, help_text="vide : tout partenaire"
    )
    structure_kind = models.CharField(
        "structures financées", max_length=20, choices=StructureKind.choices, blank=True, help_text="vide : toutes"
    )
    approval_kind = models.CharField(
        "agrément requis",
        max_length=20,
        choices=ApprovalKind.choices,
        blank=True,
        help_text="la prestation de service finance un projet agréé",
    )
    first_year = models.PositiveSmallIntegerField("première année", null=True, blank=True)
    last_year = models.PositiveSmallIntegerField("dernière année", null=True, blank=True)
    replaced_by = models.ForeignKey(
        "self", verbose_name="remplacé par", on_delete=models.SET_NULL, null=True, blank=True, related_name="replaces"
    )
    balance_requires_documents = models.BooleanField(
        "solde versé seulement sur pièces",
        default=True,
        help_text="le solde est refusé tant qu'une pièce justificative exigée manque",
    )
    description = models.TextField("description", blank=True)

    objects = FundingSchemeQuerySet.as_manager()
    history = TrackedHistory()

    class Meta:
        verbose_name = "dispositif de financement"
        verbose_name_plural = "dispositifs de financement"
        ordering = ["category", "name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(first_year__isnull=True)
                | Q(last_year__isnull=True)
                | Q(last_year__gte=models.F("first_year")),
                name="scheme_years_in_order",
                violation_error_message="La dernière année suit la première.",
            )
        ]

    def __str__(self):
        return self.name

    @property
    def is_computed(self):
        return self.rule == SchemeRule.CAF_SERVICE

    def valid_for(self, year):
        return (self.first_year is None or self.first_year <= year) and (
            self.last_year is None or year <= self.last_year
        )

    @property
    def years_label(self):
        if self.first_year and self.last_year:
            return f"de {self.first_year} à {self.last_year}"
        if self.first_year:
            return f"depuis {self.first_year}"
        if self.last_year:
            return f"jusqu'en {self.last_year}"
        return "toutes années"

    def clean(self):
        errors = {}
        if self.first_year and self.last_year and self.last_year < self.first_year:
            errors["last_year"] = f"La dernière année suit la première ({self.first_year})."
        if self.rule == SchemeRule.CAF_SERVICE and self.partner_kind not in ("", PartnerKind.CAF):
            errors["partner_kind"] = "Une prestation de service est versée par la Caf."
        if errors:
            raise ValidationError(errors)

    def year_rule(self, year):
        # Among the scheme's years (one row a year), so that a page prefetching them reads them once.
        return next((rule for rule in self.years.all() if rule.year == year), None)


class SchemeYear(models.Model):
    """A scheme's rate and ceiling for one year, entered and corrected by the administrator."""

    scheme = models.ForeignKey(FundingScheme, on_delete=models.CASCADE, related_name="years")
    year = models.PositiveSmallIntegerField("année", validators=[MinValueValidator(2000), MaxValueValidator(2100)])
    rate = models.DecimalField(
        "taux (%)",
        max_digits=6,
        decimal_places=3,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("100"))],
        help_text="par exemple 42,4",
    )
    ceiling = models.DecimalField(
        "plafond des dépenses retenues (€)",
        max_digits=12,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0"))],
    )

    history = TrackedHistory()

    class Meta:
        verbose_name = "barème annuel"
        verbose_name_plural = "barèmes annuels"
        ordering = ["scheme", "-year"]
        constraints = [
            models.UniqueConstraint(
                fields=["scheme", "year"],
                name="scheme_year_unique",
                violation_error_message="Ce dispositif a déjà son barème pour cette année.",
            )
        ]

    def __str__(self):
        return f"{self.scheme} {self.year}"


class NotComputable(Exception):
    """An amount the rule cannot give, with the reason in French."""


def service_amount(scheme, year, eligible_expenses):
    """The Caf's service funding: rate × min(eligible expenses, ceiling), to the cent."""
    if eligible_expenses is None:
        raise NotComputable("les dépenses retenues ne sont pas saisies")
    if eligible_expenses < 0:
        raise NotComputable("les dépenses retenues ne peuvent pas être négatives")
    rule = scheme.year_rule(year)
    if rule is None or rule.rate is None:
        raise NotComputable(f"le taux {year} de « {scheme.name} » n'est pas saisi")
    if rule.ceiling is None:
        raise NotComputable(f"le plafond {year} de « {scheme.name} » n'est pas saisi")
    return euros(rule.rate / 100 * min(Decimal(eligible_expenses), rule.ceiling))


class FundingLineQuerySet(models.QuerySet):
    def visible_to(self, user):
        """Lines seen in detail: a partner's own lines, a structure's own lines, all for administrators."""
        if not user.is_authenticated or not user.is_active:
            return self.none()
        if user.is_administrator:
            return self
        return self.filter(
            Q(partner_id__in=sorted(user.partner_ids())) | Q(structure_id__in=sorted(user.structure_ids()))
        )

    def followed_by(self, user):
        """The lines whose obligations a user follows: its partner's and its structure's (all of them for
        an administrator) — for documents due, overdue lists and the calendar."""
        if not user.is_authenticated or not user.is_active:
            return self.none()
        if user.is_administrator:
            return self
        return self.filter(
            Q(partner_id__in=sorted(user.partner_ids())) | Q(structure_id__in=sorted(user.structure_ids()))
        )

    def balance_blocked(self):
        """Voted lines whose balance is not paid and waits for a blocking document not accepted yet — the
        query form of `missing_for_balance` (a document of the same kind accepted for the year counts, and the
        observatory questionnaire is met by the validated one)."""
        from cadre.observatory.models import Submission, SubmissionStatus

        accepted = Document.objects.filter(
            structure=OuterRef(OuterRef("structure")), year=OuterRef(OuterRef("year")), status=DocumentStatus.ACCEPTED
        )
        same_kind = Q(required__kind=OuterRef("kind")) & ~Q(required__kind=DocumentKind.OTHER)
        validated = Submission.objects.filter(
            structure=OuterRef(OuterRef("structure")),
            campaign__year=OuterRef(OuterRef("year")),
            status=SubmissionStatus.VALIDATED,
        )
        missing = (
            RequiredDocument.objects.filter(scheme=OuterRef("scheme"), blocks_balance=True)
            .exclude(Q(kind=DocumentKind.OBSERVATORY) & Exists(validated))
            .exclude(Exists(accepted.filter(same_kind | Q(required=OuterRef("pk")))))
        )
        return (
            self.filter(voted__isnull=False, scheme__balance_requires_documents=True)
            .exclude(payments__kind=PaymentKind.BALANCE)
            .filter(Exists(missing))
        )

    def totals_visible_to(self, user):
        """Lines a user sees as totals only (the charter's « partage utile des informations »): other
        funders' lines of the structures the user's partner funds too."""
        if not user.is_authenticated or not user.is_active:
            return self.none()
        if user.is_administrator:
            return self
        funded = FundingLine.objects.filter(partner_id__in=sorted(user.partner_ids())).values("structure_id")
        return self.filter(Q(pk__in=self.visible_to(user).values("pk")) | Q(structure_id__in=funded))


class FundingLine(VersionedModel):
    """What one partner gives one structure for one year under one scheme: forecast, vote, payments."""

    structure = models.ForeignKey(
        Structure, verbose_name="structure", on_delete=models.PROTECT, related_name="funding_lines"
    )
    partner = models.ForeignKey(
        Partner, verbose_name="financeur", on_delete=models.PROTECT, related_name="funding_lines"
    )
    scheme = models.ForeignKey(
        FundingScheme, verbose_name="dispositif", on_delete=models.PROTECT, related_name="funding_lines"
    )
    year = models.PositiveSmallIntegerField("année", validators=[MinValueValidator(2000), MaxValueValidator(2100)])
    agreement = models.ForeignKey(
        Agreement,
        verbose_name="convention",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="funding_lines",
        help_text="l'engagement pluriannuel dont la ligne fait partie",
    )
    envelope = models.ForeignKey(
        "Envelope",
        verbose_name="enveloppe",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="lines",
        help_text="l'enveloppe dont l'engagement a créé la ligne",
    )
    eligible_expenses = models.DecimalField(
        "dépenses retenues (€)",
        max_digits=12,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0"))],
        help_text="pour une prestation de service",
    )
    forecast = models.DecimalField(
        "montant prévisionnel (€)",
        max_digits=12,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0"))],
    )
    voted = models.DecimalField(
        "montant voté (€)",
        max_digits=12,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0"))],
    )
    decision_reference = models.CharField("référence de la décision", max_length=100, blank=True)
    decision_date = models.DateField("date de la décision", null=True, blank=True)
    # Set on the lines written by an SCDL import: the row's identity (structure, year, decision,
    # amount), so that the same subsidy is never written twice, whatever scheme the import used.
    import_key = models.CharField("clé d'import", max_length=64, blank=True, default="", editable=False)

    objects = FundingLineQuerySet.as_manager()
    history = TrackedHistory()

    class Meta:
        verbose_name = "ligne de financement"
        verbose_name_plural = "lignes de financement"
        ordering = ["-year", "structure__name", "partner__name"]
        constraints = [
            # Lines entered by hand are one per scheme and year; an import may bring several (an
            # operating grant and a project grant), each its own decision, once each.
            models.UniqueConstraint(
                fields=["structure", "partner", "scheme", "year"],
                condition=Q(import_key=""),
                name="funding_line_unique",
                violation_error_message=(
                    "Ce financeur a déjà une ligne de ce dispositif pour cette structure et cette année."
                ),
            ),
            models.UniqueConstraint(
                fields=["partner", "import_key"],
                condition=~Q(import_key=""),
                name="funding_line_import_key_unique",
                violation_error_message="Cette subvention a déjà été importée pour ce financeur.",
            ),
            models.CheckConstraint(condition=Q(voted__gte=0) | Q(voted__isnull=True), name="funding_voted_positive"),
        ]
        indexes = [models.Index(fields=["partner", "year"]), models.Index(fields=["structure", "year"])]

    def __str__(self):
        return f"{self.partner} → {self.structure}, {self.scheme} {self.year}"

    @property
    def amount(self):
        """The amount that counts: voted, else forecast."""
        return self.voted if self.voted is not None else self.forecast

    def computed_amount(self):
        """(amount, reason): the rule's amount for a prestation de service, else (None, '')."""
        if not self.scheme.is_computed:
            return None, ""
        try:
            return service_amount(self.scheme, self.year, self.eligible_expenses), ""
        except NotComputable as reason:
            return None, str(reason)

    def paid(self):
        # Quantized: SQLite's sum of decimals comes back with nine places.
        return euros(self.payments.aggregate(total=Sum("amount"))["total"] or ZERO)

    def clean(self):
        errors = {}
        scheme = self.scheme if self.scheme_id else None
        if scheme and self.year:
            if not scheme.valid_for(self.year):
                errors["year"] = (
                    f"Le dispositif « {scheme.name} » ne s'applique pas en {self.year} ({scheme.years_label})."
                )
            if scheme.partner_kind and self.partner_id and self.partner.kind != scheme.partner_kind:
                errors["partner"] = (
                    f"« {scheme.name} » est versé par un partenaire de type {scheme.get_partner_kind_display()}."
                )
            if scheme.structure_kind and self.structure_id and self.structure.kind != scheme.structure_kind:
                errors["structure"] = (
                    f"« {scheme.name} » finance les structures de type {scheme.get_structure_kind_display().lower()}."
                )
        if (
            self.agreement_id
            and self.structure_id
            and not self.agreement.parties.filter(structure_id=self.structure_id)
        ):
            errors["agreement"] = (
                f"« {self.structure.name} » n'est pas partie à la convention « {self.agreement.title} »."
            )
        if self.agreement_id and self.year:
            agreement = self.agreement
            if self.year not in agreement.years():
                errors["year"] = (
                    f"L'année {self.year} est hors de la période de la convention ({agreement.period_label})."
                )
        if self.decision_date and self.agreement_id and self.decision_date > self.agreement.ends:
            errors["decision_date"] = (
                f"La décision est postérieure à la fin de la convention ({self.agreement.ends:%d/%m/%Y})."
            )
        if self.voted is not None and self.pk:
            paid = self.paid()
            if paid > self.voted:
                errors["voted"] = f"Déjà {format_euros(paid)} versés : le montant voté ne peut pas être inférieur."
        if (self.decision_reference or self.decision_date) and self.voted is None:
            errors["voted"] = "Une décision porte sur un montant : saisissez le montant voté."
        if errors:
            raise ValidationError(errors)


class DueEachYear(models.Model):
    """A day each year: of the year itself or of the next (annual accounts of year N: by 30 June of N + 1)."""

    due_month = models.PositiveSmallIntegerField(
        "mois d'échéance", validators=[MinValueValidator(1), MaxValueValidator(12)]
    )
    due_day = models.PositiveSmallIntegerField(
        "jour d'échéance", validators=[MinValueValidator(1), MaxValueValidator(31)]
    )
    following_year = models.BooleanField("échéance l'année suivante", default=False)

    class Meta:
        abstract = True

    def clean(self):
        super().clean()
        if self.due_month and self.due_day and 1 <= self.due_month <= 12:
            if self.due_day > calendar.monthrange(2024, self.due_month)[1]:  # a leap year: 29 February exists
                raise ValidationError({"due_day": "Ce jour n'existe pas dans ce mois."})

    def due_on(self, year):
        """The date for `year` (the last day of the month when the day does not exist that year)."""
        target = year + 1 if self.following_year else year
        last = calendar.monthrange(target, self.due_month)[1]
        return datetime.date(target, self.due_month, min(self.due_day, last))

    @property
    def due_label(self):
        return f"{self.due_day:02d}/{self.due_month:02d}" + (" de l'année suivante" if self.following_year else "")


class PaymentKind(models.TextChoices):
    ADVANCE = "advance", "Avance"
    INSTALMENT = "instalment", "Acompte"
    BALANCE = "balance", "Solde"


class PaymentQuerySet(models.QuerySet):
    def visible_to(self, user):
        return self.filter(line__in=FundingLine.objects.visible_to(user))


class Payment(VersionedModel):
    line = models.ForeignKey(
        FundingLine, verbose_name="ligne de financement", on_delete=models.PROTECT, related_name="payments"
    )
    kind = models.CharField("nature", max_length=12, choices=PaymentKind.choices)
    amount = models.DecimalField(
        "montant (€)", max_digits=12, decimal_places=2, validators=[MinValueValidator(Decimal("0.01"))]
    )
    paid_on = models.DateField("versé le")
    reference = models.CharField("référence du mandat", max_length=100, blank=True)

    objects = PaymentQuerySet.as_manager()
    history = TrackedHistory()

    class Meta:
        verbose_name = "versement"
        ordering = ["paid_on", "pk"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="payment_amount_positive"),
            models.UniqueConstraint(fields=["line"], condition=Q(kind="balance"), name="payment_one_balance_per_line"),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} de {format_euros(self.amount)} le {self.paid_on:%d/%m/%Y}"

    def clean(self):
        errors = {}
        line = self.line if self.line_id else None
        if line is None or self.amount is None:
            return
        if line.voted is None:
            raise ValidationError("Aucun montant n'est voté pour cette ligne : un versement suit une décision.")
        others = line.payments.exclude(pk=self.pk)
        already = others.aggregate(total=Sum("amount"))["total"] or ZERO
        if already + self.amount > line.voted:
            left = line.voted - already
            errors["amount"] = (
                f"Ce versement dépasse le montant voté ({format_euros(line.voted)}) : "
                f"il reste {format_euros(left)} à verser."
            )
        if self.kind == PaymentKind.BALANCE and not self.pk:
            missing = missing_for_balance(line)
            if missing:
                names = ", ".join(f"{required} {line.year}" for required in missing)
                errors["kind"] = f"Le solde attend des pièces acceptées : {names}."
        if self.kind == PaymentKind.BALANCE and others.filter(kind=PaymentKind.BALANCE).exists():
            errors["kind"] = "Le solde de cette ligne est déjà versé."
        elif self.kind != PaymentKind.BALANCE and others.filter(kind=PaymentKind.BALANCE).exists():
            errors["kind"] = "Le solde est versé : la ligne est close."
        if self.paid_on and line.decision_date and self.paid_on < line.decision_date:
            errors["paid_on"] = f"Un versement suit la décision du {line.decision_date:%d/%m/%Y}."
        if errors:
            raise ValidationError(errors)


class PaymentStep(DueEachYear, VersionedModel):
    """When a scheme pays a voted line: by a day of the year, or of the next, a share of the voted
    amount (cumulated with the steps before it); the balance pays what is left."""

    scheme = models.ForeignKey(FundingScheme, on_delete=models.CASCADE, related_name="payment_steps")
    kind = models.CharField("nature", max_length=12, choices=PaymentKind.choices)
    share = models.DecimalField(
        "part du montant voté (%)",
        max_digits=5,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0.01")), MaxValueValidator(Decimal("100"))],
        help_text="vide pour le solde, qui verse ce qui reste",
    )

    history = TrackedHistory()

    class Meta:
        verbose_name = "échéance de versement"
        verbose_name_plural = "échéancier des versements"
        ordering = ["following_year", "due_month", "due_day", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["scheme"], condition=Q(kind="balance"), name="payment_step_one_balance"),
            models.CheckConstraint(
                condition=Q(kind="balance", share__isnull=True) | (~Q(kind="balance") & Q(share__isnull=False)),
                name="payment_step_share_unless_balance",
            ),
        ]

    def __str__(self):
        if self.kind == PaymentKind.BALANCE:
            return f"Solde au {self.due_label}"
        return f"{self.get_kind_display()} de {format_share(self.share)} % au {self.due_label}"

    def clean(self):
        errors = {}
        try:
            super().clean()
        except ValidationError as error:
            errors.update(error.message_dict)
        if self.kind == PaymentKind.BALANCE and self.share is not None:
            errors["share"] = "Le solde verse ce qui reste du montant voté : laissez la part vide."
        elif self.kind and self.kind != PaymentKind.BALANCE and self.share is None:
            errors["share"] = "Indiquez la part du montant voté que verse cette échéance."
        others = PaymentStep.objects.filter(scheme_id=self.scheme_id).exclude(pk=self.pk) if self.scheme_id else None
        if others is not None and self.kind == PaymentKind.BALANCE and others.filter(kind=PaymentKind.BALANCE).exists():
            errors["kind"] = "Ce dispositif a déjà une échéance de solde."
        if others is not None and self.share is not None and "share" not in errors:
            total = (others.aggregate(total=Sum("share"))["total"] or ZERO) + self.share
            if total > 100:
                errors["share"] = f"Les échéances verseraient {format_share(total)} % du montant voté : au plus 100 %."
        if others is not None and self.due_month and self.due_day and not errors:
            balance = others.filter(kind=PaymentKind.BALANCE).first()
            key = (self.following_year, self.due_month, self.due_day)
            if balance and self.kind != PaymentKind.BALANCE and key > _step_key(balance):
                errors["due_month"] = f"Le solde est prévu au {balance.due_label} : une échéance vient avant lui."
            latest = max((_step_key(o) for o in others if o.kind != PaymentKind.BALANCE), default=None)
            if self.kind == PaymentKind.BALANCE and latest and key < latest:
                errors["due_month"] = "Le solde vient après les autres échéances."
        if errors:
            raise ValidationError(errors)


def format_share(value):
    """A percentage of the voted amount: « 70 », « 33,5 »."""
    text = format_number(value, 2)
    return text.rstrip("0").rstrip(",") if "," in text else text


def _step_key(step):
    return (step.following_year, step.due_month, step.due_day)


@dataclasses.dataclass
class ExpectedPayment:
    line: FundingLine
    step: PaymentStep
    due: datetime.date
    amount: Decimal  # what this step still has to pay

    @property
    def is_late(self):
        return self.due < datetime.date.today()


def expected_payments(lines):
    """[ExpectedPayment] of `lines` (voted, balance not paid), by date: each step of the scheme's
    schedule is due its cumulated share of the voted amount; what is paid counts against the earliest
    steps first, so an advance paid late or in two parts still settles its step."""
    lines = list(
        lines.filter(voted__isnull=False)
        .exclude(payments__kind=PaymentKind.BALANCE)
        .annotate(paid_total=Sum("payments__amount"))
        .select_related("scheme", "structure", "partner")
    )
    steps = {}
    for step in PaymentStep.objects.filter(scheme_id__in={line.scheme_id for line in lines}):
        steps.setdefault(step.scheme_id, []).append(step)
    found = []
    for line in lines:
        found += _expected(line, euros(line.paid_total or ZERO), steps.get(line.scheme_id, []))
    found.sort(key=lambda e: (e.due, e.line.structure.name, e.line.pk))
    return found


def expected_of_line(line, payments):
    """`expected_payments` of one line whose payments the page has read already (its scheme's steps read
    here when its balance is still to pay)."""
    if line.voted is None or any(payment.kind == PaymentKind.BALANCE for payment in payments):
        return []
    paid = euros(sum((payment.amount for payment in payments), ZERO))
    return sorted(_expected(line, paid, line.scheme.payment_steps.all()), key=lambda e: e.due)


def _expected(line, paid, steps):
    """[ExpectedPayment] of a voted line with `paid` paid, its balance not paid, along its scheme's `steps`."""
    found = []
    share = before = ZERO
    for step in sorted(steps, key=_step_key):
        if step.kind == PaymentKind.BALANCE:
            target = line.voted
        else:
            share += step.share
            target = min(line.voted, euros(line.voted * share / 100))
        owed = target - max(paid, before)
        if owed > 0:
            found.append(ExpectedPayment(line, step, step.due_on(line.year), owed))
        before = target
    return found


# -- Documents owed ------------------------------------------------------------------------------


class DocumentKind(models.TextChoices):
    ANNUAL_ACCOUNTS = "annual_accounts", "Comptes annuels"
    ACTIVITY_REPORT = "activity_report", "Rapport d'activité"
    FORECAST_BUDGET = "forecast_budget", "Budget prévisionnel"
    OBSERVATORY = "observatory", "Questionnaire de l'observatoire"
    OTHER = "other", "Autre pièce"


class RequiredDocument(DueEachYear, VersionedModel):
    """A document a scheme (or an agreement) requires each year, due on a day of that year or of the
    next. Documents of the same kind (other than « autre pièce ») are shared: one deposit of a year's
    annual accounts answers every scheme and agreement that asks for them."""

    scheme = models.ForeignKey(
        FundingScheme, on_delete=models.CASCADE, null=True, blank=True, related_name="required_documents"
    )
    agreement = models.ForeignKey(
        Agreement, on_delete=models.CASCADE, null=True, blank=True, related_name="required_documents"
    )
    kind = models.CharField("pièce", max_length=20, choices=DocumentKind.choices)
    label = models.CharField("intitulé", max_length=150, blank=True, help_text="vide : le nom de la pièce")
    blocks_balance = models.BooleanField(
        "exigée avant le solde",
        default=True,
        help_text="le solde de l'année est refusé tant qu'elle n'est pas acceptée",
    )

    history = TrackedHistory()

    class Meta:
        verbose_name = "pièce exigée"
        verbose_name_plural = "pièces exigées"
        ordering = ["following_year", "due_month", "due_day", "kind"]
        constraints = [
            models.CheckConstraint(
                condition=Q(scheme__isnull=True, agreement__isnull=False)
                | Q(scheme__isnull=False, agreement__isnull=True),
                name="required_document_of_one_source",
            )
        ]

    def __str__(self):
        return self.label or self.get_kind_display()

    @property
    def share_key(self):
        """What a deposit answers: every requirement of the kind, or only this one for « autre pièce »."""
        return f"pk-{self.pk}" if self.kind == DocumentKind.OTHER else self.kind

    @property
    def source(self):
        return self.scheme or self.agreement


class DocumentStatus(models.TextChoices):
    SUBMITTED = "submitted", "Déposée, à examiner"
    ACCEPTED = "accepted", "Acceptée"
    REJECTED = "rejected", "Refusée"


class DocumentQuerySet(models.QuerySet):
    def visible_to(self, user):
        """The structure's own staff, the partners who fund it or are party to its agreement, administrators."""
        if not user.is_authenticated or not user.is_active:
            return self.none()
        if user.is_administrator:
            return self
        funded = FundingLine.objects.filter(partner_id__in=sorted(user.partner_ids())).values("structure_id")
        return self.filter(Q(structure_id__in=sorted(user.structure_ids())) | Q(structure_id__in=funded))


class Document(models.Model):
    """A file a structure deposits for a required document and a year; kept in the database (outside
    any folder the web server serves), served only to those who may see it."""

    uuid = models.UUIDField("identifiant public", default=uuid_module.uuid4, unique=True, editable=False)
    structure = models.ForeignKey(
        Structure, verbose_name="structure", on_delete=models.PROTECT, related_name="documents"
    )
    required = models.ForeignKey(
        RequiredDocument, verbose_name="pièce exigée", on_delete=models.PROTECT, related_name="documents"
    )
    year = models.PositiveSmallIntegerField("année")
    file_name = models.CharField("nom du fichier", max_length=150)
    content_type = models.CharField("type", max_length=100)
    size = models.PositiveIntegerField("taille (octets)")
    sha256 = models.CharField("empreinte SHA-256", max_length=64)
    content = models.BinaryField("contenu")
    uploaded_by = models.ForeignKey("accounts.User", on_delete=models.SET_NULL, null=True, related_name="+")
    uploaded_at = models.DateTimeField("déposée le", auto_now_add=True)
    status = models.CharField("état", max_length=12, choices=DocumentStatus.choices, default=DocumentStatus.SUBMITTED)
    reviewed_by = models.ForeignKey("accounts.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    reviewed_at = models.DateTimeField("examinée le", null=True, blank=True)
    rejection_reason = models.TextField("motif du refus", blank=True)

    objects = DocumentQuerySet.as_manager()

    class Meta:
        verbose_name = "pièce déposée"
        verbose_name_plural = "pièces déposées"
        ordering = ["-uploaded_at", "-pk"]
        indexes = [models.Index(fields=["structure", "year"])]
        constraints = [
            models.CheckConstraint(
                condition=~Q(status="rejected") | ~Q(rejection_reason=""),
                name="document_rejection_has_reason",
                violation_error_message="Un refus dit pourquoi.",
            )
        ]

    def __str__(self):
        return f"{self.required} {self.year} : {self.file_name}"


def required_for(structure, year):
    """The documents `structure` owes for `year`: those of the schemes funding it that year and those of
    the agreements it is party to that cover that year."""
    schemes = FundingLine.objects.filter(structure=structure, year=year).values("scheme_id")
    agreements = Agreement.objects.filter(
        parties__structure=structure, starts__year__lte=year, ends__year__gte=year
    ).values("pk")
    return RequiredDocument.objects.filter(Q(scheme_id__in=schemes) | Q(agreement_id__in=agreements))


@dataclasses.dataclass
class Owed:
    """A document a structure owes for a year, with every requirement it answers (those of one kind,
    shared between schemes and agreements), due by the earliest of their dates."""

    requireds: list  # [RequiredDocument], the earliest due first
    year: int
    due: datetime.date
    document: "Document | None"  # the latest deposit
    today: datetime.date
    questionnaire: object = None  # the validated observatory Submission of the year, for that kind

    @property
    def is_questionnaire(self):
        """The observatory questionnaire is answered in Cadre (validated there), never by a deposit."""
        return self.required.kind == DocumentKind.OBSERVATORY

    @property
    def required(self):
        """The requirement a deposit is filed under: the earliest due."""
        return self.requireds[0]

    @property
    def sources(self):
        """The schemes and agreements asking for it, each once."""
        return list(dict.fromkeys(required.source for required in self.requireds))

    @property
    def state(self):
        if self.is_questionnaire:
            if self.questionnaire is not None:
                return "validated"
            return "overdue" if self.due < self.today else "missing"
        if self.document is not None and self.document.status != DocumentStatus.REJECTED:
            return self.document.status
        if self.due < self.today:
            return "overdue"
        return "rejected" if self.document is not None else "missing"

    @property
    def state_label(self):
        return {
            DocumentStatus.SUBMITTED: "déposée, à examiner",
            DocumentStatus.ACCEPTED: "acceptée",
            "rejected": "refusée, à déposer de nouveau",
            "missing": "à déposer",
            "overdue": "en retard",
            "validated": "questionnaire validé dans Cadre",
        }[self.state]

    @property
    def is_open(self):
        """Still to be deposited (or filled in, for the questionnaire): missing, refused or overdue."""
        return self.state in ("missing", "rejected", "overdue")

    @property
    def is_overdue(self):
        return self.state == "overdue"


def latest_documents(structure_ids, years):
    """{(structure id, share key, year): latest Document}, without their content."""
    found = {}
    rows = (
        Document.objects.filter(structure_id__in=structure_ids, year__in=years)
        .select_related("required")
        .defer("content")
        .order_by("uploaded_at", "pk")
    )
    for document in rows:
        found[(document.structure_id, document.required.share_key, document.year)] = document
    return found


def validated_questionnaires(structure_ids, years):
    """{(structure id, year): validated observatory Submission}: what answers the « questionnaire de
    l'observatoire » a scheme requires for a year (the campaign observing that year)."""
    from cadre.observatory.models import Submission, SubmissionStatus

    rows = Submission.objects.filter(
        structure_id__in=structure_ids, campaign__year__in=years, status=SubmissionStatus.VALIDATED
    ).values_list("structure_id", "campaign__year", "pk", "validated_at")
    return {(structure, year): Submission(pk=pk, validated_at=at) for structure, year, pk, at in rows}


def _shared(requireds, year):
    """[[RequiredDocument]] grouped by what one deposit answers, each group and the groups by due date."""
    groups = {}
    for required in sorted(requireds, key=lambda r: (r.due_on(year), r.pk)):
        groups.setdefault(required.share_key, []).append(required)
    return list(groups.values())


def required_by_year(structure, years):
    """{year: [RequiredDocument]}: `required_for` of each of `years`, in three queries whatever their number."""
    schemes = {}
    for year, scheme_id in (
        FundingLine.objects.filter(structure=structure, year__in=years).order_by().values_list("year", "scheme_id")
    ):
        schemes.setdefault(scheme_id, set()).add(year)
    agreements = {
        pk: {year for year in years if starts.year <= year <= ends.year}
        for pk, starts, ends in Agreement.objects.filter(parties__structure=structure).values_list(
            "pk", "starts", "ends"
        )
    }
    found = {year: [] for year in years}
    documents = RequiredDocument.objects.filter(Q(scheme_id__in=schemes) | Q(agreement_id__in=agreements))
    for required in documents.select_related("scheme", "agreement"):
        for year in schemes.get(required.scheme_id, set()) | agreements.get(required.agreement_id, set()):
            found[year].append(required)
    return found


def documents_owed(structure, years, today=None):
    """[Owed] of `structure` for `years`, the latest year first, by due date (a fixed number of queries)."""
    today = today or datetime.date.today()
    latest = latest_documents([structure.pk], list(years))
    questionnaires = validated_questionnaires([structure.pk], list(years))
    required = required_by_year(structure, list(years))
    owed = []
    for year in sorted(years, reverse=True):
        for group in _shared(required[year], year):
            document = latest.get((structure.pk, group[0].share_key, year))
            questionnaire = questionnaires.get((structure.pk, year))
            owed.append(Owed(group, year, group[0].due_on(year), document, today, questionnaire))
    return owed


def owed_for_lines(lines, today=None):
    """[(structure, Owed)] of every document the schemes of `lines` require, once per structure, year
    and shared requirement, with its latest deposit (a few queries, whatever the number of lines)."""
    today = today or datetime.date.today()
    # Unordered: the lines' default order would join their structures and partners only to sort.
    triples = set(lines.order_by().values_list("structure_id", "year", "scheme_id"))
    if not triples:
        return []
    required = {}
    schemes = {scheme for _, _, scheme in triples}
    for document in RequiredDocument.objects.filter(scheme_id__in=schemes).select_related("scheme"):
        required.setdefault(document.scheme_id, []).append(document)
    structures = Structure.objects.in_bulk({structure for structure, _, _ in triples})
    latest = latest_documents(list(structures), sorted({year for _, year, _ in triples}))
    questionnaires = validated_questionnaires(list(structures), sorted({year for _, year, _ in triples}))
    by_structure_year = {}
    for structure_id, year, scheme_id in triples:
        by_structure_year.setdefault((structure_id, year), set()).update(required.get(scheme_id, []))
    found = []
    for (structure_id, year), requireds in sorted(by_structure_year.items()):
        for group in _shared(requireds, year):
            document = latest.get((structure_id, group[0].share_key, year))
            questionnaire = questionnaires.get((structure_id, year))
            owed = Owed(group, year, group[0].due_on(year), document, today, questionnaire)
            found.append((structures[structure_id], owed))
    return found


def missing_for_balance(line):
    """The required documents of `line`'s scheme that block its balance and are not accepted yet (a
    document of the same kind accepted under another scheme or agreement counts)."""
    if not line.scheme.balance_requires_documents:
        return []
    blocking = line.scheme.required_documents.filter(blocks_balance=True)
    accepted = {
        document.required.share_key
        for document in Document.objects.filter(
            structure_id=line.structure_id, year=line.year, status=DocumentStatus.ACCEPTED
        )
        .select_related("required")
        .defer("content")
    }
    if validated_questionnaires([line.structure_id], [line.year]):
        accepted.add(DocumentKind.OBSERVATORY)
    return [required for required in blocking if required.share_key not in accepted]


# -- Envelopes ------------------------------------------------------------------------------------


class EnvelopeKey(models.TextChoices):
    EQUAL = "equal", "Parts égales"
    SERVED_POPULATION = "served_population", "Au prorata de la population de la zone d'influence"
    FTE = "fte", "Au prorata des ETP déclarés à l'observatoire"


class EnvelopeStatus(models.TextChoices):
    DRAFT = "draft", "En simulation"
    COMMITTED = "committed", "Engagée"


class EnvelopeQuerySet(models.QuerySet):
    def visible_to(self, user):
        """A partner's envelopes: its own staff and the administrators."""
        if not user.is_authenticated or not user.is_active:
            return self.none()
        if user.is_administrator:
            return self
        return self.filter(partner_id__in=sorted(user.partner_ids()))


class Envelope(VersionedModel):
    """A partner's yearly envelope for a scheme, split among structures by a key with a floor and a cap,
    adjusted by hand, then committed as funding lines in one step (actions.commit_envelope)."""

    partner = models.ForeignKey(Partner, verbose_name="financeur", on_delete=models.PROTECT, related_name="envelopes")
    scheme = models.ForeignKey(
        FundingScheme, verbose_name="dispositif", on_delete=models.PROTECT, related_name="envelopes"
    )
    year = models.PositiveSmallIntegerField("année", validators=[MinValueValidator(2000), MaxValueValidator(2100)])
    amount = models.DecimalField(
        "montant de l'enveloppe (€)", max_digits=12, decimal_places=2, validators=[MinValueValidator(Decimal("0.01"))]
    )
    key = models.CharField("clé de répartition", max_length=20, choices=EnvelopeKey.choices, default=EnvelopeKey.EQUAL)
    floor = models.DecimalField(
        "plancher par structure (€)",
        max_digits=12,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0"))],
    )
    cap = models.DecimalField(
        "plafond par structure (€)",
        max_digits=12,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0"))],
    )
    status = models.CharField("état", max_length=12, choices=EnvelopeStatus.choices, default=EnvelopeStatus.DRAFT)
    committed_at = models.DateTimeField("engagée le", null=True, blank=True)
    # The decision the envelope was committed under (also written on each line it created).
    decision_reference = models.CharField("référence de la décision", max_length=100, blank=True)
    decision_date = models.DateField("date de la décision", null=True, blank=True)

    objects = EnvelopeQuerySet.as_manager()
    history = TrackedHistory()

    class Meta:
        verbose_name = "enveloppe"
        ordering = ["-year", "partner__name", "scheme__name"]

    def __str__(self):
        return f"{self.scheme} {self.year} ({self.partner})"

    def clean(self):
        errors = {}
        if self.floor is not None and self.cap is not None and self.floor > self.cap:
            errors["cap"] = "Le plafond par structure est au moins égal au plancher."
        if (
            self.scheme_id
            and self.partner_id
            and self.scheme.partner_kind
            and self.partner.kind != self.scheme.partner_kind
        ):
            errors["scheme"] = (
                f"« {self.scheme.name} » est versé par un partenaire de type {self.scheme.get_partner_kind_display()}."
            )
        if self.scheme_id and self.year and not self.scheme.valid_for(self.year):
            errors["year"] = f"Le dispositif « {self.scheme.name} » ne s'applique pas en {self.year}."
        if errors:
            raise ValidationError(errors)

    @property
    def is_draft(self):
        return self.status == EnvelopeStatus.DRAFT


class EnvelopeShare(models.Model):
    envelope = models.ForeignKey(Envelope, on_delete=models.CASCADE, related_name="shares")
    structure = models.ForeignKey(Structure, verbose_name="structure", on_delete=models.PROTECT, related_name="+")
    basis = models.DecimalField("base de la clé", max_digits=14, decimal_places=4, default=Decimal("1"))
    simulated = models.DecimalField("part simulée (€)", max_digits=12, decimal_places=2, default=ZERO)
    adjusted = models.DecimalField("part ajustée (€)", max_digits=12, decimal_places=2, null=True, blank=True)

    class Meta:
        verbose_name = "part d'enveloppe"
        ordering = ["structure__name"]
        constraints = [models.UniqueConstraint(fields=["envelope", "structure"], name="envelope_share_unique")]

    def __str__(self):
        return f"{self.structure}: {self.final}"

    @property
    def final(self):
        return self.adjusted if self.adjusted is not None else self.simulated


class ImpossibleSplit(Exception):
    """An envelope that its floor or cap cannot split; the message says why, in French."""


def split(amount, bases, floor=None, cap=None):
    """Shares of `amount` to the cent, proportional to `bases` ({key: basis ≥ 0}; all zero: equal), each
    within [floor, cap], adding up to `amount` exactly.

    Each share is clamp(t × basis, floor, cap) for the one factor t that makes them add up to the
    envelope (the sum grows with t: found by bisection); the cents left by rounding down go by largest
    remainder, never past the cap."""
    amount = euros(amount)
    keys = list(bases)
    if not keys:
        raise ImpossibleSplit("Aucune structure à financer : choisissez-en au moins une.")
    low = euros(floor) if floor is not None else ZERO
    high = euros(cap) if cap is not None else None
    weights = {k: float(bases[k]) for k in keys}
    if not any(weights.values()):
        weights = dict.fromkeys(keys, 1.0)
    if low * len(keys) > amount:
        raise ImpossibleSplit(
            f"Le plancher ({format_euros(low)} × {len(keys)} structures = {format_euros(low * len(keys))}) "
            f"dépasse l'enveloppe ({format_euros(amount)})."
        )
    reachable = sum((high if weights[k] > 0 else low for k in keys), ZERO) if high is not None else None
    if reachable is not None and reachable < amount:
        raise ImpossibleSplit(
            f"Avec le plafond de {format_euros(high)} par structure, on ne peut répartir que "
            f"{format_euros(reachable)} sur {format_euros(amount)} : relevez le plafond ou ajoutez des structures."
        )
    target, lo_f, hi_f = float(amount), float(low), float(high) if high is not None else float("inf")

    def total(t):
        return sum(min(max(t * w, lo_f), hi_f) for w in weights.values())

    t_low, t_high = 0.0, 1.0
    for _ in range(2000):  # bounded: with a cap, float sums may fall a hair short of a reachable target
        if total(t_high) >= target * (1 - 1e-12):
            break
        t_high *= 2
    for _ in range(200):
        middle = (t_low + t_high) / 2
        t_low, t_high = (middle, t_high) if total(middle) < target else (t_low, middle)
    t = Decimal(repr(t_high))
    exact = {k: min(max(t * Decimal(repr(weights[k])), low), high if high is not None else amount) for k in keys}
    shares = {k: (v * 100).to_integral_value(rounding="ROUND_FLOOR") / 100 for k, v in exact.items()}
    cents = int(((amount - sum(shares.values(), ZERO)) * 100).to_integral_value())
    by_remainder = sorted(keys, key=lambda k: (exact[k] - shares[k], weights[k]), reverse=True)
    room = [k for k in by_remainder if high is None or shares[k] < high]
    for k in room[: max(cents, 0)]:
        shares[k] += CENT
    for k in reversed(by_remainder):  # t a hair too high: take the extra cents back, never under the floor
        if cents >= 0:
            break
        if shares[k] > low:
            shares[k] -= CENT
            cents += 1
    return {k: euros(v) for k, v in shares.items()}


def new_feed_token():
    import secrets

    return secrets.token_urlsafe(24)


class CalendarFeed(models.Model):
    """The secret address of a user's iCalendar feed (read-only dates), renewed on demand."""

    user = models.OneToOneField("accounts.User", on_delete=models.CASCADE, related_name="calendar_feed")
    token = models.CharField("jeton", max_length=64, unique=True, default=new_feed_token)
    created_at = models.DateTimeField("créé le", auto_now_add=True)

    class Meta:
        verbose_name = "flux de calendrier"
        verbose_name_plural = "flux de calendrier"

    def __str__(self):
        return f"Calendrier de {self.user}"


class SubsidyImportStatus(models.TextChoices):
    CHECKING = "checking", "vérification en cours"
    REFUSED = "refused", "fichier refusé"
    READY = "ready", "à relire"
    APPLYING = "applying", "import en cours"
    APPLIED = "applied", "importé"


class SubsidyImportQuerySet(models.QuerySet):
    def visible_to(self, user):
        """Administrators see every import; a partner's writers see the imports of their partner."""
        from cadre.accounts.models import WRITE_ROLES

        if not user.is_authenticated or not user.is_active:
            return self.none()
        if user.is_administrator:
            return self.all()
        return self.filter(Q(uploaded_by=user) | Q(partner_id__in=user.partner_ids(WRITE_ROLES)))


class SubsidyImport(models.Model):
    """A partner's SCDL file, kept between its upload, its check (by the worker for a large file),
    its review and its confirmation. Its rows are checked once and stored (SubsidyImportRow)."""

    uuid = models.UUIDField("identifiant public", default=uuid_module.uuid4, unique=True, editable=False)
    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="subsidy_imports")
    scheme = models.ForeignKey(FundingScheme, verbose_name="dispositif", on_delete=models.PROTECT, related_name="+")
    file_name = models.CharField("fichier", max_length=150)
    content = models.BinaryField("contenu")
    sha256 = models.CharField("empreinte SHA-256", max_length=64, blank=True, db_index=True)
    uploaded_by = models.ForeignKey("accounts.User", on_delete=models.CASCADE, related_name="+")
    uploaded_at = models.DateTimeField("déposé le", auto_now_add=True)
    status = models.CharField(
        "état", max_length=12, choices=SubsidyImportStatus.choices, default=SubsidyImportStatus.CHECKING
    )
    progress = models.PositiveSmallIntegerField("avancement (%)", default=0)
    message = models.TextField("message", blank=True)
    schema_version = models.CharField("version du schéma", max_length=60, blank=True)
    notes = models.JSONField("remarques sur le fichier", default=list, blank=True)
    row_count = models.PositiveIntegerField("lignes lues", default=0)
    checked_at = models.DateTimeField("vérifié le", null=True, blank=True)
    applied_at = models.DateTimeField("appliqué le", null=True, blank=True)
    applied_by = models.ForeignKey("accounts.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    lines_written = models.PositiveIntegerField("lignes écrites", default=0)

    objects = SubsidyImportQuerySet.as_manager()

    class Meta:
        verbose_name = "import SCDL"
        verbose_name_plural = "imports SCDL"
        ordering = ["-uploaded_at", "-pk"]

    def __str__(self):
        return self.file_name

    @property
    def is_working(self):
        return self.status in (SubsidyImportStatus.CHECKING, SubsidyImportStatus.APPLYING)


class RowStatus(models.TextChoices):
    IDENTIFIER = "identifier", "reconnue par l'identifiant"
    NAME = "name", "à confirmer"
    NONE = "none", "non reconnue"
    ALREADY = "already", "déjà importée"
    ERROR = "error", "erreur"


class Decision(models.TextChoices):
    UNDECIDED = "", "à décider"
    CHOSEN = "chosen", "structure choisie"
    LEFT_OUT = "left_out", "laissée de côté"


class SubsidyImportRow(models.Model):
    """One row of an SCDL file as checked: its values, why it cannot be imported, the structure it
    goes to (by identifier, or by the decision taken for its group) and its candidates by name."""

    subsidy_import = models.ForeignKey(SubsidyImport, on_delete=models.CASCADE, related_name="rows")
    number = models.PositiveIntegerField("ligne")
    name = models.CharField("bénéficiaire", max_length=300, blank=True)
    identifier = models.CharField("identifiant", max_length=20, blank=True)
    rna = models.CharField("RNA", max_length=10, blank=True)
    signed = models.DateField("date de convention", null=True, blank=True)
    year = models.PositiveSmallIntegerField("année", null=True, blank=True)
    amount = models.DecimalField("montant", max_digits=14, decimal_places=2, null=True, blank=True)
    reference = models.CharField("référence de la décision", max_length=100, blank=True)
    purpose = models.CharField("objet", max_length=300, blank=True)
    status = models.CharField("classe", max_length=12, choices=RowStatus.choices)
    errors = models.TextField("erreurs", blank=True)
    warnings = models.TextField("remarques", blank=True)
    group_key = models.CharField("groupe", max_length=200, blank=True)
    candidates = models.JSONField("structures proposées", default=list, blank=True)  # [[pk, score], …]
    structure = models.ForeignKey(Structure, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    decision = models.CharField("décision", max_length=10, choices=Decision.choices, blank=True, default="")
    remembered = models.BooleanField("décision d'un import précédent", default=False)
    excluded = models.BooleanField("exclue", default=False)

    class Meta:
        verbose_name = "ligne d'import SCDL"
        verbose_name_plural = "lignes d'import SCDL"
        ordering = ["subsidy_import", "number"]
        indexes = [
            models.Index(fields=["subsidy_import", "status", "decision"]),
            models.Index(fields=["subsidy_import", "group_key"]),
        ]

    def __str__(self):
        return f"ligne {self.number}"

    @property
    def will_import(self):
        if self.excluded or self.structure_id is None:
            return False
        return self.status == RowStatus.IDENTIFIER or self.decision == Decision.CHOSEN


class SubsidyMatchDecision(models.Model):
    """What a funder's user decided for a beneficiary of its files (one SIREN, or one normalised
    name): that structure, or none. The next import of the same funder applies it."""

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="+")
    group_key = models.CharField("bénéficiaire", max_length=200)
    structure = models.ForeignKey(Structure, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    decided_by = models.ForeignKey("accounts.User", on_delete=models.SET_NULL, null=True, related_name="+")
    decided_at = models.DateTimeField("décidé le", auto_now=True)

    class Meta:
        verbose_name = "décision de rapprochement SCDL"
        verbose_name_plural = "décisions de rapprochement SCDL"
        constraints = [models.UniqueConstraint(fields=["partner", "group_key"], name="subsidy_decision_unique")]

    def __str__(self):
        return self.group_key
