"""Agreements, funding lines and payments (reading). Same scope as the pages: a caller sees the
agreements of its partner's territory or to which it is party, and the funding lines of its own
partner or structure (the other funders' totals are on the structure's page, not here). Amounts
are strings of euros with their cents ("12500.50"): exact, never floats."""

import datetime
from decimal import Decimal
from uuid import UUID

from django.db.models import Prefetch
from ninja import Field, Query, Router, Schema

from cadre.agreements.models import Agreement, FrameworkAgreement
from cadre.api.pagination import PageParams, paginate
from cadre.api.schemas import ErrorOut, Page
from cadre.api.writes import get_or_404
from cadre.funding.models import FundingLine, Payment
from cadre.funding.queries import with_paid

router = Router(tags=["Conventions et financements"])

LIST_ERRORS = {400: ErrorOut, 401: ErrorOut}
DETAIL_ERRORS = {400: ErrorOut, 401: ErrorOut, 404: ErrorOut}


class PartyOut(Schema):
    kind: str = Field(description="partner ou structure")
    id: UUID
    name: str
    role: str = Field(description="co_chair (coprésidence) ou signatory")
    signed_on: datetime.date | None
    left_on: datetime.date | None


def parties(signatories):
    return [
        {
            "kind": "partner" if s.partner_id else "structure",
            "id": s.party.uuid,
            "name": s.party.name,
            "role": s.role,
            "signed_on": s.signed_on,
            "left_on": s.left_on,
        }
        for s in signatories
    ]


class AmendmentOut(Schema):
    number: int
    signed_on: datetime.date
    purpose: str
    new_end: datetime.date | None
    joined: list[UUID] = Field(description="Partenaires qui entrent.")
    left: list[UUID] = Field(description="Partenaires qui sortent.")
    amount_change: Decimal | None
    description: str


class FrameworkOut(Schema):
    id: UUID
    title: str
    department: str
    starts: datetime.date
    ends: datetime.date
    extended_to: datetime.date | None
    status: str
    values: list[str]
    purposes: list[str]
    charter: str
    previous: UUID | None = Field(description="L'édition précédente.")
    signatories: list[PartyOut]
    amendments: list[AmendmentOut]


def framework_out(framework):
    return {
        "id": framework.uuid,
        "title": framework.title,
        "department": framework.department_id,
        "starts": framework.starts,
        "ends": framework.ends,
        "extended_to": framework.extended_to,
        "status": framework.status,
        "values": framework.values,
        "purposes": framework.purposes,
        "charter": framework.charter,
        "previous": framework.previous.uuid if framework.previous_id else None,
        "signatories": parties(framework.signatories.all()),
        "amendments": [
            {
                "number": a.number,
                "signed_on": a.signed_on,
                "purpose": a.purpose,
                "new_end": a.new_end,
                "joined": [p.uuid for p in a.joined.all()],
                "left": [p.uuid for p in a.left.all()],
                "amount_change": a.amount_change,
                "description": a.description,
            }
            for a in framework.amendments.all()
        ],
    }


def frameworks(user):
    return (
        FrameworkAgreement.objects.visible_to(user)
        .select_related("previous")
        .prefetch_related("signatories__partner", "amendments__joined", "amendments__left")
    )


@router.get(
    "/framework-agreements",
    response={200: Page[FrameworkOut], **LIST_ERRORS},
    url_name="framework_agreements",
    summary="Conventions cadres visibles (signataires, charte, avenants)",
)
def list_frameworks(request, paging: Query[PageParams]):
    page = paginate(frameworks(request.user), paging)
    return {**page, "results": [framework_out(f) for f in page["results"]]}


@router.get(
    "/framework-agreements/{framework_id}",
    response={200: FrameworkOut, **DETAIL_ERRORS},
    url_name="framework_agreement",
    summary="Une convention cadre",
)
def get_framework(request, framework_id: UUID):
    return framework_out(
        get_or_404(frameworks(request.user), "Aucune convention cadre avec cet identifiant.", uuid=framework_id)
    )


class AgreementOut(Schema):
    id: UUID
    kind: str = Field(description="structure, tripartite ou ctg")
    title: str
    reference: str
    framework: UUID | None
    commune: str | None
    starts: datetime.date
    ends: datetime.date
    status: str
    parties: list[PartyOut]


def agreement_out(agreement):
    return {
        "id": agreement.uuid,
        "kind": agreement.kind,
        "title": agreement.title,
        "reference": agreement.reference,
        "framework": agreement.framework.uuid if agreement.framework_id else None,
        "commune": agreement.commune_id,
        "starts": agreement.starts,
        "ends": agreement.ends,
        "status": agreement.status,
        "parties": parties(agreement.parties.all()),
    }


def agreements(user):
    return (
        Agreement.objects.visible_to(user)
        .select_related("framework")
        .prefetch_related("parties__partner", "parties__structure")
    )


@router.get(
    "/agreements",
    response={200: Page[AgreementOut], **LIST_ERRORS},
    url_name="agreements",
    summary="Conventions des structures, tripartites et CTG visibles",
)
def list_agreements(request, paging: Query[PageParams]):
    page = paginate(agreements(request.user), paging)
    return {**page, "results": [agreement_out(a) for a in page["results"]]}


@router.get(
    "/agreements/{agreement_id}",
    response={200: AgreementOut, **DETAIL_ERRORS},
    url_name="agreement",
    summary="Une convention",
)
def get_agreement(request, agreement_id: UUID):
    return agreement_out(
        get_or_404(agreements(request.user), "Aucune convention avec cet identifiant.", uuid=agreement_id)
    )


class PaymentOut(Schema):
    id: UUID
    kind: str = Field(description="advance (avance), instalment (acompte) ou balance (solde)")
    amount: Decimal
    paid_on: datetime.date
    reference: str


class FundingLineOut(Schema):
    id: UUID
    year: int
    structure: UUID
    structure_name: str
    partner: UUID
    partner_name: str
    scheme: str = Field(description="Code du dispositif.")
    agreement: UUID | None
    eligible_expenses: Decimal | None
    forecast: Decimal | None
    voted: Decimal | None
    decision_reference: str
    decision_date: datetime.date | None
    paid: Decimal = Field(description="Somme des versements.")
    payments: list[PaymentOut]


class LineFilters(Schema):
    year: int | None = Field(None, description="Année.")
    partner: UUID | None = Field(None, description="Identifiant du financeur.")
    structure: UUID | None = Field(None, description="Identifiant de la structure.")


def line_out(line):
    return {
        "id": line.uuid,
        "year": line.year,
        "structure": line.structure.uuid,
        "structure_name": line.structure.name,
        "partner": line.partner.uuid,
        "partner_name": line.partner.name,
        "scheme": line.scheme.code,
        "agreement": line.agreement.uuid if line.agreement_id else None,
        "eligible_expenses": line.eligible_expenses,
        "forecast": line.forecast,
        "voted": line.voted,
        "decision_reference": line.decision_reference,
        "decision_date": line.decision_date,
        "paid": line.paid_total.quantize(Decimal("0.01")),
        "payments": [
            {"id": p.uuid, "kind": p.kind, "amount": p.amount, "paid_on": p.paid_on, "reference": p.reference}
            for p in line.payments.all()
        ],
    }


def lines(user):
    return with_paid(
        FundingLine.objects.visible_to(user)
        .select_related("structure", "partner", "scheme", "agreement")
        .prefetch_related(Prefetch("payments", queryset=Payment.objects.order_by("paid_on", "pk")))
    )


@router.get(
    "/funding-lines",
    response={200: Page[FundingLineOut], **LIST_ERRORS},
    url_name="funding_lines",
    summary="Lignes de financement de votre partenaire ou de votre structure, avec leurs versements",
)
def list_lines(request, filters: Query[LineFilters], paging: Query[PageParams]):
    queryset = lines(request.user)
    if filters.year:
        queryset = queryset.filter(year=filters.year)
    if filters.partner:
        queryset = queryset.filter(partner__uuid=filters.partner)
    if filters.structure:
        queryset = queryset.filter(structure__uuid=filters.structure)
    page = paginate(queryset.order_by("-year", "structure__name", "partner__name", "scheme__code"), paging)
    return {**page, "results": [line_out(line) for line in page["results"]]}


@router.get(
    "/funding-lines/{line_id}",
    response={200: FundingLineOut, **DETAIL_ERRORS},
    url_name="funding_line",
    summary="Une ligne de financement et ses versements",
)
def get_line(request, line_id: UUID):
    return line_out(get_or_404(lines(request.user), "Aucune ligne de financement avec cet identifiant.", uuid=line_id))
