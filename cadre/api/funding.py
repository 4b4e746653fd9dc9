"""Agreements, funding lines and payments. Same scope as the pages: a caller sees the agreements of
its partner's territory or to which it is party, and the funding lines of its own partner or
structure (the other funders' totals are on the structure's page, not here). Amounts are strings
of euros with their cents ("12500.50"): exact, never floats — in the answers and in the requests.

Writes (a funding line, its amounts and decision, a payment) are the web pages' ones: the same named
rights (funding/permissions.py), the model's own validation, `record_payment` for a payment."""

import datetime
import re
from decimal import Decimal
from typing import Annotated, Any
from uuid import UUID

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Prefetch
from django.http import HttpResponse
from django.urls import reverse
from ninja import Field, Header, Query, Router, Schema, Status
from pydantic import WithJsonSchema

from cadre.agreements.models import Agreement, FrameworkAgreement
from cadre.api.errors import ApiError, FieldErrors, django_errors
from cadre.api.pagination import PageParams, paginate
from cadre.api.schemas import WRITE_CONFIG, ConflictOut, ErrorOut, Page
from cadre.api.writes import assign_fields, check_version, etag, expected_version, full_clean_into, get_or_404, save
from cadre.funding import actions
from cadre.funding.forms import partners_for
from cadre.funding.models import CENT, FundingLine, FundingScheme, Payment, PaymentKind
from cadre.funding.permissions import can_manage_line, can_manage_partner_funding
from cadre.funding.queries import with_paid
from cadre.partners.models import Partner
from cadre.structures.models import Structure

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
    version: int = Field(description="Version de la ligne (aussi dans l'en-tête ETag d'une ligne lue seule).")


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
        "version": line.version,
    }


LINE_RELATIONS = ("structure", "partner", "scheme", "agreement")


def lines(user):
    return with_paid(
        FundingLine.objects.visible_to(user)
        .select_related(*LINE_RELATIONS)
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
    summary="Une ligne de financement et ses versements (en-tête ETag : sa version)",
)
def get_line(request, line_id: UUID, response: HttpResponse):
    line = line_in_scope(request.user, line_id)
    response["ETag"] = etag(line.version)
    return line_out(line)


# -- writing -------------------------------------------------------------------------------------

LINE_NOT_FOUND = "Aucune ligne de financement avec cet identifiant."
STRUCTURE_NOT_FOUND = "Aucune structure avec cet identifiant dans votre périmètre."
CANNOT_RECORD = (
    "Vous ne pouvez pas enregistrer de financement pour « {partner} » : c'est réservé à ses contributeurs "
    "(et aux administrateurs). Rien n'a été enregistré."
)
CANNOT_EDIT = (
    "Vous pouvez consulter cette ligne mais pas la modifier : c'est réservé aux contributeurs de « {partner} » "
    "(et aux administrateurs)."
)
CANNOT_PAY = (
    "Vous pouvez consulter cette ligne mais pas y enregistrer de versement : c'est réservé aux contributeurs "
    "de « {partner} » (et aux administrateurs)."
)

# An amount travels as text: a JSON number is a binary float, which cannot hold every amount in cents.
AMOUNT_TEXT = re.compile(r"-?\d+(?:\.\d+)?")
AMOUNT_NUMBER = (
    'Montant attendu en texte, avec ses centimes : "{example}" et non {value}. Un nombre JSON est un nombre '
    "à virgule flottante, qui peut fausser les centimes."
)
AMOUNT_MALFORMED = (
    "Montant mal écrit : « {value} ». Écrivez-le en euros avec un point décimal, sans espace ni symbole, "
    'par exemple "1234.50".'
)
AMOUNT_EMPTY = "Montant vide : envoyez null s'il n'y en a pas, sinon un texte comme \"1234.50\"."
AMOUNT_TYPE = 'Montant attendu en texte avec ses centimes, par exemple "1234.50".'
AMOUNT_MISSING = 'Indiquez le montant, en texte avec ses centimes, par exemple "1234.50".'
AMOUNT_SCHEMA = {
    "type": "string",
    "pattern": r"^\d+(\.\d{1,2})?$",
    "examples": ["1234.50"],
    "description": "Euros en texte, point décimal, au plus 2 décimales (jamais un nombre JSON).",
}
Amount = Annotated[Any, WithJsonSchema(AMOUNT_SCHEMA)]
OptionalAmount = Annotated[Any, WithJsonSchema({"anyOf": [AMOUNT_SCHEMA, {"type": "null"}]})]
AMOUNT_FIELDS = ("eligible_expenses", "forecast", "voted")


def parse_amount(value, *, nullable):
    """The Decimal of an amount sent as text ("1234.50"); ValueError with the French message otherwise.
    The model then checks its range and its 2 decimals, as it does for the web form."""
    if value is None:
        if nullable:
            return None
        raise ValueError(AMOUNT_MISSING)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        example = f"{Decimal(str(value)).quantize(CENT)}" if abs(value) < 1e12 else "1234.50"
        raise ValueError(AMOUNT_NUMBER.format(example=example, value=value))
    if not isinstance(value, str):
        raise ValueError(AMOUNT_TYPE)
    text = value.strip()
    if not text:
        raise ValueError(AMOUNT_EMPTY if nullable else AMOUNT_MISSING)
    if not AMOUNT_TEXT.fullmatch(text):
        raise ValueError(AMOUNT_MALFORMED.format(value=value))
    return Decimal(text)


def parse_amounts(data, errors):
    """Replace the amounts of `data` by Decimals; a wrong one goes to `errors` and out of `data`."""
    for name in AMOUNT_FIELDS:
        if name in data:
            try:
                data[name] = parse_amount(data[name], nullable=True)
            except ValueError as error:
                errors[name] = [str(error)]
                del data[name]
    return data


class LineFields(Schema):
    model_config = WRITE_CONFIG

    eligible_expenses: OptionalAmount = Field(None, description='Dépenses retenues (prestation de service), "1234.50".')
    forecast: OptionalAmount = Field(None, description='Montant prévisionnel, "1234.50".')
    voted: OptionalAmount = Field(None, description='Montant voté, "1234.50".')
    decision_reference: str | None = Field(None, description="Référence de la décision (délibération, arrêté…).")
    decision_date: datetime.date | None = None


class LineIn(LineFields):
    """Nouvelle ligne : structure, financeur, dispositif et année sont obligatoires."""

    structure: UUID = Field(description="Identifiant de la structure financée.")
    partner: UUID = Field(description="Identifiant du financeur (votre partenaire).")
    scheme: str = Field(description="Code du dispositif (par exemple ps-animation-globale) ou son identifiant.")
    year: int
    agreement: UUID | None = Field(None, description="Convention dont la ligne fait partie (engagement pluriannuel).")


class LinePatch(LineFields):
    """Montants et décision à modifier : les autres gardent leur valeur ; `null` vide un champ."""

    version: int | None = Field(None, description="Version lue (à défaut de l'en-tête If-Match).")


REQUIRED = {
    "kind": "Indiquez la nature du versement : advance (avance), instalment (acompte) ou balance (solde).",
    "paid_on": "Date attendue : indiquez la date du versement (AAAA-MM-JJ).",
}


class PaymentIn(Schema):
    """Un versement : refusé au-delà du montant voté, et le solde tant que des pièces exigées manquent."""

    model_config = WRITE_CONFIG

    # Required, but checked in the view: scope and rights come first (an empty body out of scope is a 404).
    kind: PaymentKind | None = Field(
        None, description="Obligatoire : advance (avance), instalment (acompte) ou balance (solde)."
    )
    amount: Amount = Field(None, description='Obligatoire : montant versé, en texte avec ses centimes : "1234.50".')
    paid_on: datetime.date | None = Field(None, description="Obligatoire : date du versement.")
    reference: str = Field("", description="Référence du mandat.")


class PaymentRecordedOut(Schema):
    payment: PaymentOut
    line: UUID
    voted: Decimal | None
    paid: Decimal = Field(description="Total versé sur la ligne, ce versement compris.")
    left_to_pay: Decimal | None = Field(description="Reste à verser sur le montant voté.")


WRITE_ERRORS = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut}
IF_MATCH_DESCRIPTION = 'Version de la ligne lue (ETag), par exemple "3".'


def validate_line(line, errors):
    """The model's validation (as the web form runs it) on the fields not already refused: a refused
    amount is not also reported as missing by the rules that need it."""
    checked = {field: list(messages) for field, messages in errors.items()}
    full_clean_into(line, checked)
    errors.update({field: messages for field, messages in checked.items() if field not in errors})


def line_in_scope(user, line_id):
    return get_or_404(lines(user), LINE_NOT_FOUND, uuid=line_id)


def find_scheme(user, value, errors):
    value = value.strip()
    schemes = FundingScheme.objects.visible_to(user)
    try:
        scheme = schemes.filter(uuid=UUID(value)).first()
    except ValueError:
        scheme = schemes.filter(code=value).first()
    if scheme is None:
        errors["scheme"] = [
            f"Dispositif inconnu : « {value} » n'est ni le code ni l'identifiant d'un dispositif "
            "(par exemple ps-animation-globale)."
        ]
    return scheme


def find_agreement(user, value, errors):
    if value is None:
        return None
    agreement = Agreement.objects.visible_to(user).filter(uuid=value).first()
    if agreement is None:
        errors["agreement"] = ["Aucune convention avec cet identifiant dans votre périmètre."]
    return agreement  # the model checks that the structure is a party to it


def created(request, response, line):
    line = line_in_scope(request.user, line.uuid)
    response["ETag"] = etag(line.version)
    response["Location"] = reverse("api-1.0.0:funding_line", args=[line.uuid])
    return Status(201, line_out(line))


@router.post(
    "/funding-lines",
    response={201: FundingLineOut, **WRITE_ERRORS},
    url_name="funding_lines",
    summary="Créer une ligne de financement (contributeurs du financeur, administrateurs)",
)
def create_line(request, payload: LineIn, response: HttpResponse):
    user = request.user
    structure = get_or_404(Structure.objects.visible_to(user), STRUCTURE_NOT_FOUND, uuid=payload.structure)
    errors = {}
    partner = Partner.objects.filter(uuid=payload.partner).first()
    if partner is None:
        errors["partner"] = ["Aucun partenaire avec cet identifiant."]
    elif not can_manage_partner_funding(user, partner):
        raise ApiError(403, CANNOT_RECORD.format(partner=partner.name))
    elif not partners_for(user).filter(pk=partner.pk).exists():  # the web form's list of funders
        errors["partner"] = [f"« {partner.name} » ne figure pas parmi les financeurs que vous pouvez choisir."]
    scheme = find_scheme(user, payload.scheme, errors)
    agreement = find_agreement(user, payload.agreement, errors)
    line = FundingLine(structure=structure, year=payload.year, agreement=agreement)
    if "partner" not in errors:
        line.partner = partner
    if scheme is not None:
        line.scheme = scheme
    data = parse_amounts(payload.model_dump(include=set(LineFields.model_fields)), errors)
    assign_fields(line, data, errors)
    validate_line(line, errors)
    if errors:
        raise FieldErrors(errors)
    try:
        save(line, user=user)
    except IntegrityError:
        # The same line created meanwhile: the model's check now says so.
        full_clean_into(line, errors)
        raise FieldErrors(errors or {"__all__": ["Cette ligne n'a pas pu être enregistrée : réessayez."]})
    return created(request, response, line)


@router.patch(
    "/funding-lines/{line_id}",
    response={200: FundingLineOut, **WRITE_ERRORS, 409: ConflictOut, 428: ErrorOut},
    url_name="funding_line",
    summary="Modifier les montants ou la décision d'une ligne (en-tête If-Match obligatoire)",
)
def update_line(
    request,
    line_id: UUID,
    payload: LinePatch,
    response: HttpResponse,
    if_match: str | None = Header(None, alias="If-Match", description=IF_MATCH_DESCRIPTION),
):
    user = request.user
    line = line_in_scope(user, line_id)
    if not can_manage_line(user, line):
        raise ApiError(403, CANNOT_EDIT.format(partner=line.partner.name))
    expected = expected_version(if_match, payload.version)
    check_version(line, expected)
    with transaction.atomic():
        # Locked, as record_payment locks it: the voted amount and the payments are checked together.
        line = FundingLine.objects.select_for_update(of=("self",)).select_related(*LINE_RELATIONS).get(pk=line.pk)
        check_version(line, expected)
        errors = {}
        data = parse_amounts(payload.model_dump(exclude_unset=True, exclude={"version"}), errors)
        assign_fields(line, data, errors)
        validate_line(line, errors)
        if errors:
            raise FieldErrors(errors)
        save(line, user=user, expected=expected)
    line = line_in_scope(user, line_id)
    response["ETag"] = etag(line.version)
    return line_out(line)


@router.post(
    "/funding-lines/{line_id}/payments",
    response={201: PaymentRecordedOut, **WRITE_ERRORS, 409: ConflictOut},
    url_name="funding_line_payments",
    summary="Enregistrer un versement sur une ligne (If-Match facultatif : la version de la ligne lue)",
)
def create_payment(
    request,
    line_id: UUID,
    payload: PaymentIn,
    response: HttpResponse,
    if_match: str | None = Header(
        None, alias="If-Match", description=IF_MATCH_DESCRIPTION + " Refusé (409) si la ligne a changé depuis."
    ),
):
    user = request.user
    line = line_in_scope(user, line_id)
    if not can_manage_line(user, line):
        raise ApiError(403, CANNOT_PAY.format(partner=line.partner.name))
    expected = expected_version(if_match, None) if if_match else None
    errors = {name: [message] for name, message in REQUIRED.items() if getattr(payload, name) is None}
    try:
        amount = parse_amount(payload.amount, nullable=False)
    except ValueError as error:
        errors["amount"] = [str(error)]
    if errors:
        raise FieldErrors(errors)
    with transaction.atomic():
        if expected is not None:
            # The line as the caller read it: locked first, then the payment (which locks it again) is checked.
            check_version(FundingLine.objects.select_for_update(of=("self",)).get(pk=line.pk), expected)
        try:
            payment = actions.record_payment(
                line,
                actor=user,
                kind=payload.kind,
                amount=amount,
                paid_on=payload.paid_on,
                reference=payload.reference.strip(),
            )
        except ValidationError as error:
            raise FieldErrors(django_errors(error))
    line.refresh_from_db(fields=["voted", "version"])
    paid = line.paid()
    response["ETag"] = etag(line.version)
    return Status(
        201,
        {
            "payment": {
                "id": payment.uuid,
                "kind": payment.kind,
                "amount": payment.amount.quantize(CENT),
                "paid_on": payment.paid_on,
                "reference": payment.reference,
            },
            "line": line.uuid,
            "voted": line.voted,
            "paid": paid,
            "left_to_pay": line.voted - paid if line.voted is not None else None,
        },
    )
