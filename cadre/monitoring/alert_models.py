"""Explained early warning: the alert rules administrators edit, the status of each structure per year with the
facts that triggered it, and the département quartiles of every ratio. Imported at the end of models.py (Django
finds models there); the engine that fills them is in alerts.py.
"""

import dataclasses
import datetime
import operator
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.functions import Coalesce

from cadre.core.models import TrackedHistory, VersionedModel
from cadre.core.stamps import Stamped
from cadre.monitoring.ratios import RATIOS
from cadre.structures.models import Structure
from cadre.territories.models import Commune, Department

__all__ = [
    "SIGNALS",
    "AlertAcknowledgement",
    "AlertRule",
    "AlertSubscription",
    "Comparison",
    "HealthLevel",
    "HealthStatus",
    "RatioQuartiles",
    "Severity",
    "Signal",
]


@dataclasses.dataclass(frozen=True)
class Signal:
    """What a rule watches: a ratio of the statements, or a fact Cadre already knows. `minimum`, `maximum` and
    `whole` say which thresholds have a meaning (a share is at most 100 %, days are never negative)."""

    code: str
    label: str
    unit: str  # as written after a value: "%", "jours de charges", "€", "jours de retard"…
    minimum: Decimal | None = None
    maximum: Decimal | None = None
    whole: bool = False
    financial: bool = True
    decimals: int = 1


EPOCH = datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC)
ZERO = Decimal(0)
HUNDRED = Decimal(100)
# Units of the ratios as written in a fact, with the bounds a threshold must keep.
_RATIO_BOUNDS = {
    "net_margin": ("%", None, HUNDRED, False, 1),  # a result is at most the whole income, a loss has no floor
    "equity_months": ("mois de charges", ZERO, None, False, 1),
    "cash_days": ("jours de charges", ZERO, None, False, 1),
    "working_capital": ("€", None, None, False, 0),
    "working_capital_requirement": ("€", None, None, False, 0),
    "net_cash": ("€", None, None, False, 0),
    "tax_social_debts_share": ("%", ZERO, None, False, 1),  # debts may exceed a year's staff costs
    "staff_share": ("%", ZERO, HUNDRED, False, 1),
    "first_funder_share": ("%", ZERO, HUNDRED, False, 1),
    "public_share": ("%", ZERO, HUNDRED, False, 1),
    "income_change": ("%", Decimal(-100), None, False, 1),  # income can at most vanish
    "consecutive_deficits": ("exercices", ZERO, None, True, 0),
}
SIGNALS = {
    ratio.code: Signal(ratio.code, ratio.label, unit, minimum, maximum, whole, decimals=decimals)
    for ratio in RATIOS
    for unit, minimum, maximum, whole, decimals in [_RATIO_BOUNDS[ratio.code]]
}
for _signal in [
    Signal("net_result", "Résultat net de l'exercice", "€", decimals=0),
    Signal("tax_social_debts_change", "Évolution des dettes fiscales et sociales sur un an", "%", Decimal(-100)),
    Signal("overdue_payments", "Versements des partenaires en retard", "€", ZERO, decimals=0),
    Signal(
        "approval_ending",
        "Agrément finissant sans renouvellement",
        "mois avant la fin",
        ZERO,
        whole=True,
        financial=False,
        decimals=0,
    ),
    Signal(
        "questionnaire_overdue",
        "Questionnaire de l'observatoire non envoyé après la clôture",
        "jours de retard",
        ZERO,
        whole=True,
        financial=False,
        decimals=0,
    ),
    Signal(
        "accounts_overdue",
        "Comptes annuels non déposés à l'échéance",
        "jours de retard",
        ZERO,
        whole=True,
        financial=False,
        decimals=0,
    ),
    Signal(
        "document_refused",
        "Pièce refusée plusieurs fois",
        "refus",
        ZERO,
        whole=True,
        financial=False,
        decimals=0,
    ),
    Signal(
        "balance_blocked",
        "Solde bloqué faute de pièce acceptée",
        "mois",
        ZERO,
        whole=True,
        financial=False,
        decimals=0,
    ),
]:
    SIGNALS[_signal.code] = _signal
# The director's post is not a signal: the registry records no vacancy (a contact's « fonction » is free text).


class Comparison(models.TextChoices):
    BELOW = "below", "inférieur à"
    AT_MOST = "at_most", "inférieur ou égal à"
    EQUAL = "equal", "égal à"
    AT_LEAST = "at_least", "supérieur ou égal à"
    ABOVE = "above", "supérieur à"


COMPARE = {
    Comparison.BELOW: operator.lt,
    Comparison.AT_MOST: operator.le,
    Comparison.EQUAL: operator.eq,
    Comparison.AT_LEAST: operator.ge,
    Comparison.ABOVE: operator.gt,
}


class Severity(models.TextChoices):
    VIGILANCE = "vigilance", "vigilance"
    ALERT = "alerte", "alerte"


class HealthLevel(models.TextChoices):
    GREEN = "vert", "vert"
    VIGILANCE = "vigilance", "vigilance"
    ALERT = "alerte", "alerte"


LEVEL_OF_SEVERITY = {Severity.VIGILANCE: HealthLevel.VIGILANCE, Severity.ALERT: HealthLevel.ALERT}
LEVEL_RANK = {HealthLevel.GREEN: 0, HealthLevel.VIGILANCE: 1, HealthLevel.ALERT: 2}


class AlertRuleQuerySet(models.QuerySet):
    def active(self):
        return self.filter(active=True)


class AlertRule(VersionedModel):
    """« When <signal> is <comparison> <threshold> for <consecutive_years> years in a row: <severity> »."""

    code = models.SlugField(
        "code",
        max_length=40,
        unique=True,
        null=True,
        blank=True,
        editable=False,
        help_text="Celui des règles livrées (load_alert_rules) ; vide pour une règle ajoutée.",
    )
    name = models.CharField(
        "intitulé", max_length=120, help_text="Tel qu'il ouvre le fait écrit : « trésorerie », « deux déficits »…"
    )
    signal = models.CharField(
        "signal", max_length=40, choices=[(signal.code, signal.label) for signal in SIGNALS.values()]
    )
    comparison = models.CharField("comparaison", max_length=10, choices=Comparison.choices)
    threshold = models.DecimalField("seuil", max_digits=14, decimal_places=2)
    consecutive_years = models.PositiveSmallIntegerField(
        "exercices consécutifs", default=1, help_text="Le signal doit tenir ce nombre d'années de suite."
    )
    severity = models.CharField("gravité", max_length=10, choices=Severity.choices, default=Severity.VIGILANCE)
    active = models.BooleanField("active", default=True)
    source = models.TextField("méthode et source", blank=True)
    position = models.PositiveSmallIntegerField("ordre", default=0)

    objects = AlertRuleQuerySet.as_manager()
    history = TrackedHistory()

    class Meta:
        verbose_name = "règle d'alerte"
        verbose_name_plural = "règles d'alerte"
        ordering = ["position", "pk"]

    def __str__(self):
        return self.name

    @property
    def signal_definition(self):
        return SIGNALS[self.signal]

    def matches(self, value):
        return value is not None and COMPARE[self.comparison](value, self.threshold)

    def clean(self):
        errors = {}
        signal = SIGNALS.get(self.signal)
        if self.consecutive_years is not None and not 1 <= self.consecutive_years <= 10:
            errors["consecutive_years"] = "De 1 à 10 exercices consécutifs."
        if signal is not None and self.threshold is not None:
            unit = f" {signal.unit}" if signal.unit else ""
            if signal.minimum is not None and self.threshold < signal.minimum:
                errors["threshold"] = (
                    f"« {signal.label} » ne descend pas sous {_plain(signal.minimum)}{unit} : ce seuil n'a pas de sens."
                )
            elif signal.maximum is not None and self.threshold > signal.maximum:
                errors["threshold"] = (
                    f"« {signal.label} » ne dépasse pas {_plain(signal.maximum)}{unit} : ce seuil n'a pas de sens."
                )
            elif signal.whole and self.threshold != self.threshold.to_integral_value():
                errors["threshold"] = f"« {signal.label} » se compte en nombres entiers : le seuil aussi."
        if errors:
            raise ValidationError(errors)


def _plain(value):
    return f"{value.normalize():f}".replace(".", ",")


class HealthStatusQuerySet(models.QuerySet):
    def visible_to(self, user):
        """The statuses of the structures a user may see (structures.visible_to decides)."""
        return self.filter(structure__in=Structure.objects.visible_to(user))

    def with_acknowledgement(self):
        """`acknowledged`: a partner acknowledged this level since the structure reached it; `ever_acknowledged`:
        someone acknowledged an earlier level of the same year (so a status not covered is « nouvelle alerte »)."""
        same_year = AlertAcknowledgement.objects.filter(
            structure=models.OuterRef("structure"), year=models.OuterRef("year")
        )
        # A status written before level_since existed counts from the start.
        since = Coalesce(models.OuterRef("level_since"), models.Value(EPOCH))
        covering = same_year.filter(level=models.OuterRef("level"), acknowledged_at__gte=since)
        return self.annotate(
            acknowledged=models.Exists(covering),
            ever_acknowledged=models.Exists(same_year),
        )

    def current(self, today):
        """Each structure's current status: the gravest of this year's and last year's (the accounts of a year are
        accepted the year after, while the other signals speak of this one), the later on a tie. A green year
        without accounts does not hide last year's alerte."""
        rank = models.Case(
            *(models.When(level=level, then=models.Value(value)) for level, value in LEVEL_RANK.items()),
            output_field=models.IntegerField(),
        )
        since = today.year - 1
        graver = (
            HealthStatus.objects.filter(structure=models.OuterRef("structure"), year__gte=since)
            .annotate(rank=rank)
            .filter(
                models.Q(rank__gt=models.OuterRef("rank"))
                | models.Q(rank=models.OuterRef("rank"), year__gt=models.OuterRef("year"))
            )
        )
        return self.filter(year__gte=since).annotate(rank=rank).exclude(models.Exists(graver))

    def latest_per_structure(self):
        """Each structure's most recent status (PostgreSQL and SQLite alike: no DISTINCT ON)."""
        later = HealthStatus.objects.filter(structure=models.OuterRef("structure"), year__gt=models.OuterRef("year"))
        return self.exclude(models.Exists(later))


def current_status(statuses, today):
    """HealthStatusQuerySet.current() for one structure's statuses already read: the gravest of this year's and
    last year's, the later on a tie; None when it has neither."""
    recent = [status for status in statuses if status.year >= today.year - 1]
    return max(recent, key=lambda status: (LEVEL_RANK[status.level], status.year), default=None)


class HealthStatus(models.Model):
    """A structure's financial health for one year, as the engine last found it: the level and the facts that
    triggered it, written out in French, with the ratios of the year's accepted statement (None: no statement
    or no meaning). Pages read it as is; alerts.py rewrites it."""

    structure = models.ForeignKey(
        Structure, verbose_name="structure", on_delete=models.CASCADE, related_name="health_statuses"
    )
    year = models.PositiveSmallIntegerField("exercice")
    level = models.CharField("état", max_length=10, choices=HealthLevel.choices, default=HealthLevel.GREEN)
    # [{"rule": code or pk, "signal": code, "severity": …, "text": "trésorerie : 18 jours de charges, seuil 30"}]
    facts = models.JSONField("faits", default=list, blank=True)
    # {ratio code: "18.0" or None}: Decimal written as text, so nothing is lost in JSON
    ratios = models.JSONField("ratios", default=dict, blank=True)
    computed_at = models.DateTimeField("calculé le")
    # When the structure reached this level for this year: kept by a recompute that finds the same level, so an
    # acknowledgement made since still covers the status, and one made before a change of level no longer does.
    level_since = models.DateTimeField("état depuis le", null=True, blank=True)

    objects = HealthStatusQuerySet.as_manager()

    class Meta:
        verbose_name = "état de santé financière"
        verbose_name_plural = "états de santé financière"
        ordering = ["structure", "-year"]
        constraints = [models.UniqueConstraint(fields=["structure", "year"], name="one_health_status_per_year")]
        indexes = [models.Index(fields=["year", "level"])]

    def __str__(self):
        return f"{self.structure} {self.year} : {self.get_level_display()}"

    @property
    def fact_texts(self):
        return [fact["text"] for fact in self.facts]

    def ratio(self, code):
        value = self.ratios.get(code)
        return None if value is None else Decimal(value)


class RatioQuartiles(models.Model):
    """The first quartile, median and third quartile of one ratio among the structures of a département for a
    year (accepted statements only), refreshed with the statuses: what a ratio is shown beside."""

    department = models.ForeignKey(Department, verbose_name="département", on_delete=models.CASCADE, related_name="+")
    year = models.PositiveSmallIntegerField("exercice")
    ratio = models.CharField("ratio", max_length=40)
    count = models.PositiveIntegerField("structures")
    first_quartile = models.DecimalField("premier quartile", max_digits=16, decimal_places=2)
    median = models.DecimalField("médiane", max_digits=16, decimal_places=2)
    third_quartile = models.DecimalField("troisième quartile", max_digits=16, decimal_places=2)

    class Meta:
        verbose_name = "quartiles d'un ratio"
        verbose_name_plural = "quartiles des ratios"
        constraints = [
            models.UniqueConstraint(fields=["department", "year", "ratio"], name="one_quartiles_per_ratio_and_year")
        ]


class AlertAcknowledgement(models.Model):
    """A partner's « pris en compte » of a structure's status for one year, with a comment. Never rewritten: each
    acknowledgement is a new row, so the history stays whole. It covers the status as long as the level it
    acknowledged stays (HealthStatus.level_since); a graver level later is a « nouvelle alerte »."""

    structure = models.ForeignKey(
        Structure, verbose_name="structure", on_delete=models.CASCADE, related_name="alert_acknowledgements"
    )
    year = models.PositiveSmallIntegerField("exercice")
    level = models.CharField("état pris en compte", max_length=10, choices=HealthLevel.choices)
    facts = models.JSONField("faits pris en compte", default=list, blank=True)
    comment = models.TextField("commentaire")
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name="par", on_delete=models.SET_NULL, null=True, related_name="+"
    )
    acknowledged_at = models.DateTimeField("le", auto_now_add=True)

    class Meta:
        verbose_name = "prise en compte d'une alerte"
        verbose_name_plural = "prises en compte d'alertes"
        ordering = ["-acknowledged_at", "-pk"]
        indexes = [models.Index(fields=["structure", "year"])]

    def __str__(self):
        return f"{self.structure} {self.year} : {self.get_level_display()} pris en compte"


class AlertSubscription(models.Model):
    """A partner user's wish to receive an e-mail when a structure its partner funds turns to alerte: one
    structure, or (structure empty) every structure its partners fund."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="utilisateur",
        on_delete=models.CASCADE,
        related_name="alert_subscriptions",
    )
    structure = models.ForeignKey(
        Structure,
        verbose_name="structure",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="alert_subscriptions",
        help_text="Vide : toutes les structures que financent ses partenaires.",
    )
    created_at = models.DateTimeField("abonné le", auto_now_add=True)

    class Meta:
        verbose_name = "abonnement aux alertes"
        verbose_name_plural = "abonnements aux alertes"
        constraints = [
            models.UniqueConstraint(fields=["user", "structure"], name="one_alert_subscription_per_structure"),
            models.UniqueConstraint(
                fields=["user"], condition=models.Q(structure__isnull=True), name="one_alert_subscription_to_all"
            ),
        ]

    def __str__(self):
        return f"{self.user} : {self.structure or 'toutes les structures financées'}"


# A structure's ratio charts beside its département's quartiles, and the method (the formulas, the rules
# applied), rendered once per change of the statuses, the quartiles or the rules (any write, by a recompute or an
# import), not at each visit of its health page.
HEALTH_FIGURES = Stamped("health-figures", [HealthStatus, RatioQuartiles, AlertRule])
# The alerts list's statuses in their order, for a user, a set of filters and a day (views_alerts.alerts): the
# current status of each structure is found among all of them, too slow to do at each page of the list.
ALERT_LIST = Stamped("alert-list", [HealthStatus, AlertAcknowledgement, Structure, Commune])
