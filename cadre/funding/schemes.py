"""The schemes every partnership has: the Caf's three service fundings, with their rates by year
(national rules; the ceilings are entered by the administrator each year), and the framework's
own subsidies. `load_default_schemes` creates what is missing and never overwrites an edit."""

from decimal import Decimal

from django.db import transaction

from cadre.funding.models import (
    DocumentKind,
    FundingScheme,
    PaymentKind,
    PaymentStep,
    RequiredDocument,
    SchemeCategory,
    SchemeRule,
    SchemeYear,
)
from cadre.partners.models import PartnerKind
from cadre.structures.models import ApprovalKind, StructureKind

FIRST_YEAR, LAST_RATED_YEAR = 2016, 2027


# Rates of the Cnaf: 40 % for animation globale and 60 % for families and EVS until 2022, raised
# to 42.4 % and 63.6 % from 2023 (issue 5 of this project, after the Cnaf's circulars).
def _rates(before, after):
    return {year: before if year <= 2022 else after for year in range(FIRST_YEAR, LAST_RATED_YEAR + 1)}


# Documents owed each year: (kind, due month, due day, due the following year, blocks the balance).
ACCOUNTS_AND_REPORT = [
    (DocumentKind.FORECAST_BUDGET, 1, 31, False, False),
    (DocumentKind.ANNUAL_ACCOUNTS, 6, 30, True, True),
    (DocumentKind.ACTIVITY_REPORT, 6, 30, True, True),
]
FRAMEWORK_DOCUMENTS = [
    (DocumentKind.ANNUAL_ACCOUNTS, 6, 30, True, True),
    (DocumentKind.OBSERVATORY, 4, 30, True, False),
]

# When a voted line is paid: (kind, share of the voted amount in %, month, day, the following year).
# The Caf pays an advance on its service funding during the year and the balance once the accounts
# and the activity report are in (due by 30 June of the next year).
CAF_PAYMENTS = [
    (PaymentKind.ADVANCE, Decimal("70"), 3, 31, False),
    (PaymentKind.BALANCE, None, 9, 30, True),
]
SUBSIDY_PAYMENTS = [
    (PaymentKind.ADVANCE, Decimal("50"), 4, 30, False),
    (PaymentKind.BALANCE, None, 9, 30, True),
]

DEFAULT_SCHEMES = [
    {
        "code": "ps-animation-globale",
        "name": "Prestation de service animation globale et coordination",
        "category": SchemeCategory.MAINSTREAM,
        "rule": SchemeRule.CAF_SERVICE,
        "partner_kind": PartnerKind.CAF,
        "structure_kind": StructureKind.CENTRE_SOCIAL,
        "approval_kind": ApprovalKind.SOCIAL_PROJECT,
        "rates": _rates(Decimal("40"), Decimal("42.4")),
        "documents": ACCOUNTS_AND_REPORT,
        "payments": CAF_PAYMENTS,
        "description": "Finance le pilotage du projet social d'un centre social agréé.",
    },
    {
        "code": "ps-animation-collective-familles",
        "name": "Prestation de service animation collective familles",
        "category": SchemeCategory.MAINSTREAM,
        "rule": SchemeRule.CAF_SERVICE,
        "partner_kind": PartnerKind.CAF,
        "structure_kind": StructureKind.CENTRE_SOCIAL,
        "approval_kind": ApprovalKind.FAMILY_PROJECT,
        "rates": _rates(Decimal("60"), Decimal("63.6")),
        "documents": ACCOUNTS_AND_REPORT,
        "payments": CAF_PAYMENTS,
        "description": "Finance le projet familles agréé d'un centre social.",
    },
    {
        "code": "ps-evs",
        "name": "Prestation de service animation locale (espace de vie sociale)",
        "category": SchemeCategory.MAINSTREAM,
        "rule": SchemeRule.CAF_SERVICE,
        "partner_kind": PartnerKind.CAF,
        "structure_kind": StructureKind.EVS,
        "approval_kind": ApprovalKind.EVS,
        "rates": _rates(Decimal("60"), Decimal("63.6")),
        "documents": ACCOUNTS_AND_REPORT,
        "payments": CAF_PAYMENTS,
        "description": "Finance le projet agréé d'un espace de vie sociale.",
    },
    {
        "code": "subvention-convention-cadre",
        "name": "Subvention complémentaire pluriannuelle de la convention cadre",
        "category": SchemeCategory.FRAMEWORK,
        "rule": SchemeRule.VOTED,
        "description": "En complément du droit commun, votée par chaque signataire pour la durée de la convention.",
        "documents": FRAMEWORK_DOCUMENTS,
        "payments": SUBSIDY_PAYMENTS,
    },
    {
        "code": "subvention-qpv",
        "name": "Subvention spécifique des structures en quartier prioritaire",
        "category": SchemeCategory.PRIORITY_AREA,
        "rule": SchemeRule.VOTED,
        "description": "Pour les structures implantées dans un QPV ou qui en accueillent les habitants.",
        "documents": [(DocumentKind.ACTIVITY_REPORT, 6, 30, True, True)],
        "payments": SUBSIDY_PAYMENTS,
    },
    {
        "code": "subvention-projet",
        "name": "Subvention de projet",
        "category": SchemeCategory.PROJECT,
        "rule": SchemeRule.VOTED,
    },
]


@transaction.atomic
def load_default_schemes():
    """(schemes created, yearly rates created). A scheme's payment schedule is added if it never had
    one (a base made before schedules existed), never again once an administrator has edited it."""
    created_schemes = created_years = 0
    for spec in DEFAULT_SCHEMES:
        fields = {k: v for k, v in spec.items() if k not in ("code", "rates", "documents", "payments")}
        scheme = FundingScheme.objects.filter(code=spec["code"]).first()
        if scheme is None:
            scheme = FundingScheme(code=spec["code"], **fields)
            scheme.full_clean()
            scheme.save_tracked()
            created_schemes += 1
            for kind, month, day, following, blocks in spec.get("documents", []):
                RequiredDocument(
                    scheme=scheme,
                    kind=kind,
                    due_month=month,
                    due_day=day,
                    following_year=following,
                    blocks_balance=blocks,
                ).save_tracked()
        if not PaymentStep.history.filter(scheme_id=scheme.pk).exists():
            for kind, share, month, day, following in spec.get("payments", []):
                step = PaymentStep(
                    scheme=scheme, kind=kind, share=share, due_month=month, due_day=day, following_year=following
                )
                step.full_clean()
                step.save_tracked()
        known = set(scheme.years.values_list("year", flat=True))
        for year, rate in spec.get("rates", {}).items():
            if year not in known:
                SchemeYear.objects.create(scheme=scheme, year=year, rate=rate)
                created_years += 1
    return created_schemes, created_years
