"""Financial health of the structures: their yearly simplified accounts (règlement ANC 2018-06 for associations).

A statement holds the income statement and the balance sheet of one fiscal year of one structure, in euros with
cents. Totals are computed, never stored; the two results and the balance are entered (as in the accounts the
structure has) and must agree with what the lines add up to. Ratios are in ratios.py.
"""

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from cadre.core.models import TrackedHistory, VersionedModel
from cadre.funding.models import Document, format_euros
from cadre.monitoring.enums import STATUS_BADGES, StatementStatus
from cadre.structures.models import Structure, add_months

ZERO = Decimal("0.00")


def amount(label, *, help_text=""):
    return models.DecimalField(label, max_digits=12, decimal_places=2, default=ZERO, help_text=help_text)


# Operating subsidies by funder kind, in the order of the accounts' annex.
SUBSIDY_FIELDS = [
    "subsidy_caf_service",
    "subsidy_caf_other",
    "subsidy_state",
    "subsidy_region",
    "subsidy_department",
    "subsidy_municipal",
    "subsidy_msa",
    "subsidy_carsat",
    "subsidy_other",
]
PUBLIC_SUBSIDY_FIELDS = SUBSIDY_FIELDS[:-1]  # every funder kind named, the « others » aside
OPERATING_INCOME_FIELDS = [*SUBSIDY_FIELDS, "users_contributions", "other_income"]
OTHER_INCOME_FIELDS = ["financial_income", "exceptional_income"]
OPERATING_EXPENSE_FIELDS = ["staff_costs", "external_charges", "depreciation", "other_expenses"]
OTHER_EXPENSE_FIELDS = ["financial_exceptional_expenses"]
ASSET_FIELDS = ["fixed_assets", "receivables", "cash"]
EQUITY_FIELDS = ["association_funds", "reserves", "retained_earnings", "balance_result"]
LIABILITY_FIELDS = [
    *EQUITY_FIELDS,
    "provisions",
    "dedicated_funds",
    "financial_debts",
    "bank_overdrafts",
    "supplier_debts",
    "tax_social_debts",
    "deferred_income",
]
# A loss carried forward and a result may be negative; no other line of these accounts can.
SIGNED_FIELDS = {"retained_earnings", "balance_result", "operating_result", "net_result"}


EDITABLE_STATUSES = {StatementStatus.DRAFT, StatementStatus.RETURNED}


class FinancialStatementQuerySet(models.QuerySet):
    def visible_to(self, user):
        """The accounts of the structures a user sees: a structure's own people, the partners of its territory
        (who fund it or may), the administrators. Nobody else."""
        return self.filter(structure__in=Structure.objects.visible_to(user))

    def accepted(self):
        return self.filter(status=StatementStatus.ACCEPTED)


class FinancialStatement(VersionedModel):
    structure = models.ForeignKey(
        Structure, verbose_name="structure", on_delete=models.PROTECT, related_name="financial_statements"
    )
    starts_on = models.DateField("début de l'exercice")
    ends_on = models.DateField("clôture de l'exercice")
    year = models.PositiveSmallIntegerField("exercice", editable=False, help_text="L'année de clôture.")
    status = models.CharField("état", max_length=10, choices=StatementStatus.choices, default=StatementStatus.DRAFT)

    # Income statement: income
    subsidy_caf_service = amount("prestations de service de la Caf")
    subsidy_caf_other = amount("autres subventions de la Caf")
    subsidy_state = amount("subventions de l'État")
    subsidy_region = amount("subventions de la Région")
    subsidy_department = amount("subventions du Département")
    subsidy_municipal = amount("subventions des communes et des EPCI")
    subsidy_msa = amount("subventions de la MSA")
    subsidy_carsat = amount("subventions de la Carsat")
    subsidy_other = amount("autres subventions d'exploitation")
    users_contributions = amount("participation des usagers")
    other_income = amount("autres produits d'exploitation")
    financial_income = amount("produits financiers")
    exceptional_income = amount("produits exceptionnels")
    # Income statement: expenses
    staff_costs = amount("charges de personnel", help_text="Salaires et charges sociales.")
    external_charges = amount("autres achats et charges externes")
    depreciation = amount("dotations aux amortissements et aux provisions")
    other_expenses = amount("autres charges d'exploitation", help_text="Impôts et taxes compris.")
    financial_exceptional_expenses = amount("charges financières et exceptionnelles")
    operating_result = amount("résultat d'exploitation")
    net_result = amount("résultat net de l'exercice")
    # Balance sheet: assets
    fixed_assets = amount("immobilisations nettes")
    receivables = amount("créances")
    subsidies_receivable = amount("dont subventions à recevoir")
    cash = amount("disponibilités", help_text="Trésorerie et placements.")
    # Balance sheet: liabilities
    association_funds = amount("fonds associatifs")
    reserves = amount("réserves")
    retained_earnings = amount("report à nouveau")
    balance_result = amount("résultat de l'exercice (au bilan)")
    provisions = amount("provisions pour risques et charges")
    dedicated_funds = amount("fonds dédiés")
    financial_debts = amount("emprunts et dettes financières", help_text="Hors découverts bancaires.")
    bank_overdrafts = amount(
        "concours bancaires courants", help_text="Découverts et crédits de trésorerie : de la trésorerie négative."
    )
    supplier_debts = amount("dettes fournisseurs")
    tax_social_debts = amount("dettes fiscales et sociales")
    deferred_income = amount("produits constatés d'avance")

    comment = models.TextField("commentaire", blank=True)
    # The annual accounts deposited as a document owed, when the structure has deposited them.
    accounts_document = models.ForeignKey(
        Document,
        verbose_name="comptes annuels déposés",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    submitted_at = models.DateTimeField("envoyés le", null=True, blank=True, editable=False)
    submitted_by = models.ForeignKey(
        "accounts.User", verbose_name="envoyés par", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    reviewed_at = models.DateTimeField("examinés le", null=True, blank=True, editable=False)
    reviewed_by = models.ForeignKey(
        "accounts.User", verbose_name="examinés par", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    review_comment = models.TextField("motif du renvoi", blank=True)

    objects = FinancialStatementQuerySet.as_manager()
    history = TrackedHistory()

    class Meta:
        verbose_name = "comptes annuels"
        verbose_name_plural = "comptes annuels"
        ordering = ["structure", "-year"]
        constraints = [
            models.UniqueConstraint(
                fields=["structure", "year"],
                name="one_statement_per_structure_and_year",
                violation_error_message="Cette structure a déjà des comptes pour cet exercice.",
            ),
            models.CheckConstraint(
                condition=Q(ends_on__gt=models.F("starts_on")),
                name="statement_ends_after_it_starts",
                violation_error_message="La clôture doit suivre le début de l'exercice.",
            ),
        ]

    def __str__(self):
        return f"Comptes {self.year} de {self.structure}"

    @property
    def status_badge(self):
        return STATUS_BADGES[self.status]

    def save(self, *args, **kwargs):
        self.year = self.ends_on.year
        super().save(*args, **kwargs)

    # -- Totals ---------------------------------------------------------------------------------------

    def _sum(self, fields):
        return sum((getattr(self, name) or ZERO for name in fields), ZERO)

    @property
    def subsidies(self):
        return self._sum(SUBSIDY_FIELDS)

    @property
    def operating_income(self):
        return self._sum(OPERATING_INCOME_FIELDS)

    @property
    def income(self):
        return self._sum(OPERATING_INCOME_FIELDS + OTHER_INCOME_FIELDS)

    @property
    def operating_expenses(self):
        return self._sum(OPERATING_EXPENSE_FIELDS)

    @property
    def expenses(self):
        return self._sum(OPERATING_EXPENSE_FIELDS + OTHER_EXPENSE_FIELDS)

    @property
    def total_assets(self):
        return self._sum(ASSET_FIELDS)

    @property
    def total_liabilities(self):
        return self._sum(LIABILITY_FIELDS)

    @property
    def equity(self):
        return self._sum(EQUITY_FIELDS)

    @property
    def days(self):
        """Length of the fiscal year in days (365 for a calendar year; more or less when it changes)."""
        return (self.ends_on - self.starts_on).days + 1

    # -- Rules ----------------------------------------------------------------------------------------

    def clean(self):
        errors = {}
        if self.starts_on and self.ends_on:
            if self.ends_on <= self.starts_on:
                errors["ends_on"] = "La clôture doit suivre le début de l'exercice."
            elif self.ends_on > add_months(self.starts_on, 24):
                errors["ends_on"] = "Un exercice dure au plus 24 mois : vérifiez les dates."
        for field in self._meta.concrete_fields:
            if not isinstance(field, models.DecimalField) or field.name in SIGNED_FIELDS:
                continue
            value = getattr(self, field.name)
            if value and value < 0:
                errors[field.name] = f"Un montant de « {field.verbose_name} » ne peut pas être négatif."
        if errors:  # totals of lines already wrong would only add confusing messages
            raise ValidationError(errors)
        operating = self.operating_income - self.operating_expenses
        if self.operating_result != operating:
            errors["operating_result"] = (
                f"Le résultat d'exploitation des lignes est {format_euros(operating)} (produits d'exploitation "
                f"{format_euros(self.operating_income)} moins charges d'exploitation "
                f"{format_euros(self.operating_expenses)}), pas {format_euros(self.operating_result)}."
            )
        net = self.income - self.expenses
        if self.net_result != net:
            errors["net_result"] = (
                f"Le résultat net des lignes est {format_euros(net)} (produits {format_euros(self.income)} moins "
                f"charges {format_euros(self.expenses)}), pas {format_euros(self.net_result)}."
            )
        if self.balance_result != self.net_result:
            errors["balance_result"] = (
                f"Le résultat inscrit au bilan ({format_euros(self.balance_result)}) doit être celui du compte de "
                f"résultat ({format_euros(self.net_result)})."
            )
        if self.subsidies_receivable > self.receivables:
            errors["subsidies_receivable"] = (
                f"Les subventions à recevoir ({format_euros(self.subsidies_receivable)}) font partie des créances "
                f"({format_euros(self.receivables)}) : elles ne peuvent pas les dépasser."
            )
        if not errors and self.total_assets != self.total_liabilities:
            gap = self.total_assets - self.total_liabilities
            errors["cash"] = (
                f"Le bilan n'est pas équilibré : actif {format_euros(self.total_assets)}, passif "
                f"{format_euros(self.total_liabilities)} (écart {format_euros(gap)})."
            )
        if errors:
            raise ValidationError(errors)


from cadre.monitoring.alert_models import *  # noqa: E402, F401, F403 — the early-warning models (alert_models.py)
from cadre.monitoring.case_models import *  # noqa: E402, F401, F403 — difficulty reports and support cases (case_models.py)
from cadre.monitoring.import_models import *  # noqa: E402, F401, F403 — the accounts import (import_models.py)
