"""Annual accounts of the structures, their ratios and the health statuses, with the pages' scope: a caller sees the
accounts of the structures it sees (FinancialStatement.visible_to, HealthStatus.visible_to). Amounts are strings of
euros with their cents, exact — in the answers and in the requests.

Writes are the pages' ones: the same named rights (monitoring/permissions.py), the model's own validation with its
French messages by field, the same actions (monitoring/actions.py) to submit, accept or return; a change is made on
the version the caller read (If-Match, or `version` in the body), as for the other writes of the API."""

import datetime
from decimal import Decimal
from typing import Annotated, Any
from uuid import UUID

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.http import HttpResponse
from django.urls import reverse
from ninja import Field, Header, Query, Router, Schema, Status
from pydantic import WithJsonSchema, create_model

from cadre.api.errors import ApiError, FieldErrors, django_errors
from cadre.api.funding import AMOUNT_SCHEMA, OptionalAmount, parse_amount
from cadre.api.pagination import PageParams, paginate
from cadre.api.schemas import WRITE_CONFIG, ConflictOut, ErrorOut, Page
from cadre.api.writes import check_version, etag, expected_version, full_clean_into, get_or_404, save
from cadre.monitoring import actions, permissions
from cadre.monitoring.alert_models import HealthLevel, HealthStatus
from cadre.monitoring.enums import StatementStatus
from cadre.monitoring.forms import AMOUNTS as FORM_AMOUNTS
from cadre.monitoring.models import EDITABLE_STATUSES, SIGNED_FIELDS, ZERO, FinancialStatement
from cadre.monitoring.ratios import RATIOS, ratios_of
from cadre.structures.models import Structure

router = Router(tags=["Prévention"])

AMOUNTS = [
    field.name for field in FinancialStatement._meta.concrete_fields if field.get_internal_type() == "DecimalField"
]


class RatioOut(Schema):
    code: str
    label: str
    unit: str
    formula: str
    value: Decimal | int | None = Field(description="Vide quand le ratio n'a pas de sens (produits nuls…).")


class StatementOut(Schema):
    id: UUID
    structure: UUID
    year: int = Field(description="Exercice : l'année de clôture.")
    starts_on: datetime.date
    ends_on: datetime.date
    status: str = Field(description="draft, submitted, returned ou accepted")
    version: int = Field(description="Version des comptes (aussi dans l'en-tête ETag) : à renvoyer dans If-Match.")
    comment: str
    review_comment: str = Field(description="Motif du dernier renvoi à la structure.")
    amounts: dict[str, Decimal] = Field(description="Chaque ligne du compte de résultat et du bilan, en euros.")
    income: Decimal
    expenses: Decimal
    total_assets: Decimal
    total_liabilities: Decimal


class StatementDetailOut(StatementOut):
    ratios: list[RatioOut]


class StatementFilters(Schema):
    structure: UUID | None = None
    year: int | None = None
    status: str | None = None


def statement_out(statement):
    return {
        "id": statement.uuid,
        "structure": statement.structure.uuid,
        "year": statement.year,
        "starts_on": statement.starts_on,
        "ends_on": statement.ends_on,
        "status": statement.status,
        "version": statement.version,
        "comment": statement.comment,
        "review_comment": statement.review_comment,
        "amounts": {name: getattr(statement, name) for name in AMOUNTS},
        "income": statement.income,
        "expenses": statement.expenses,
        "total_assets": statement.total_assets,
        "total_liabilities": statement.total_liabilities,
    }


def statements(user):
    return FinancialStatement.objects.visible_to(user).select_related("structure").order_by("structure__name", "-year")


@router.get(
    "/financial-statements",
    response={200: Page[StatementOut], 400: ErrorOut, 401: ErrorOut},
    url_name="financial_statements",
    summary="Comptes annuels des structures visibles",
)
def list_statements(request, paging: Query[PageParams], filters: Query[StatementFilters]):
    found = statements(request.user)
    if filters.structure:
        found = found.filter(structure__uuid=filters.structure)
    if filters.year:
        found = found.filter(year=filters.year)
    if filters.status:
        found = found.filter(status=filters.status)
    page = paginate(found, paging)
    return {**page, "results": [statement_out(s) for s in page["results"]]}


def ratios_out(statement):
    history = sorted(
        FinancialStatement.objects.filter(structure_id=statement.structure_id, ends_on__lte=statement.ends_on),
        key=lambda s: s.ends_on,
    )
    values = ratios_of(statement, history)
    return [
        {"code": r.code, "label": r.label, "unit": r.unit, "formula": r.formula, "value": values[r.code]}
        for r in RATIOS
    ]


NOT_FOUND = "Comptes introuvables."


@router.get(
    "/financial-statements/{uuid}",
    response={200: StatementDetailOut, 401: ErrorOut, 404: ErrorOut},
    url_name="financial_statement",
    summary="Comptes annuels d'un exercice, avec leurs ratios (en-tête ETag : leur version)",
)
def get_statement(request, uuid: UUID, response: HttpResponse):
    statement = get_or_404(statements(request.user), NOT_FOUND, uuid=uuid)
    response["ETag"] = etag(statement.version)
    return {**statement_out(statement), "ratios": ratios_out(statement)}


@router.get(
    "/financial-statements/{uuid}/ratios",
    response={200: list[RatioOut], 401: ErrorOut, 404: ErrorOut},
    url_name="financial_statement_ratios",
    summary="Les ratios d'un exercice, chacun avec sa formule",
)
def get_statement_ratios(request, uuid: UUID):
    return ratios_out(get_or_404(statements(request.user), NOT_FOUND, uuid=uuid))


# -- writes --------------------------------------------------------------------------------------

CANNOT_ENTER = (
    "Seuls les membres de la structure habilités à écrire et les administrateurs saisissent ses comptes : vous "
    "pouvez les consulter."
)
CANNOT_REVIEW = (
    "Seuls les administrateurs et les contributeurs d'un partenaire qui finance la structure acceptent ou renvoient "
    "ses comptes, une fois envoyés."
)
RETURN_REASON = "Dites à la structure ce qu'il faut corriger."


class WriteSchema(Schema):
    model_config = WRITE_CONFIG


# The results and the loss carried forward may be negative ("-5000.00"): the model says which lines may.
OptionalSignedAmount = Annotated[
    Any,
    WithJsonSchema(
        {"anyOf": [{**AMOUNT_SCHEMA, "pattern": r"^-?\d+(\.\d{1,2})?$", "examples": ["-5000.00"]}, {"type": "null"}]}
    ),
]


def _amount_field(name):
    kind = OptionalSignedAmount if name in SIGNED_FIELDS else OptionalAmount
    label = FinancialStatement._meta.get_field(name).verbose_name
    return kind, Field(None, description=f'{label} (euros en texte, "1234.50" ; null ou absent : 0).')


# Every line of the accounts, optional: a line the accounts do not have is 0, as in the entry form.
StatementAmounts = create_model(
    "StatementAmounts", __base__=WriteSchema, **{name: _amount_field(name) for name in FORM_AMOUNTS}
)


class StatementIn(StatementAmounts):
    """Nouveaux comptes d'un exercice : la structure et les dates sont obligatoires, chaque ligne absente vaut 0."""

    structure: UUID = Field(description="Identifiant de la structure.")
    starts_on: datetime.date = Field(description="Début de l'exercice.")
    ends_on: datetime.date = Field(description="Clôture de l'exercice : son année est l'exercice.")
    comment: str = ""


class StatementPatch(StatementAmounts):
    """Lignes à modifier : les autres gardent leur valeur ; `null` met une ligne à 0."""

    starts_on: datetime.date | None = None
    ends_on: datetime.date | None = None
    comment: str | None = None
    version: int | None = Field(None, description="Version lue (à défaut de l'en-tête If-Match).")


class StepIn(WriteSchema):
    version: int | None = Field(None, description="Version lue (à défaut de l'en-tête If-Match).")


class ReturnIn(StepIn):
    comment: str = Field("", description="Motif du renvoi (obligatoire) : la structure le lit avec ses comptes.")


IF_MATCH = Header(None, alias="If-Match", description='Version des comptes lue (ETag), par exemple "3".')
WRITE_ERRORS = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut}
STEP_RESPONSES = {200: StatementOut, **WRITE_ERRORS, 409: ConflictOut, 428: ErrorOut}


def assign(statement, data, errors):
    """The fields of a request on `statement`; amounts parsed (`null` is 0), a wrong one reported at its field."""
    for name, value in data.items():
        if name in FORM_AMOUNTS:
            try:
                value = parse_amount(value, nullable=True)
            except ValueError as error:
                errors[name] = [str(error)]
                continue
            value = ZERO if value is None else value
        elif name == "comment":
            value = (value or "").strip()
        if value is not None:
            setattr(statement, name, value)


DUPLICATE = FinancialStatement._meta.constraints[0].violation_error_message


def validate(statement, errors):
    """The model's validation (as the entry form runs it); a second statement of a year is told at the closing
    date, as the form tells it."""
    if statement.ends_on:
        statement.year = statement.ends_on.year
    full_clean_into(statement, errors)
    general = [message for message in errors.pop("__all__", []) if message != DUPLICATE]
    if general:
        errors["__all__"] = general
    if statement.ends_on and "ends_on" not in errors:
        others = FinancialStatement.objects.filter(structure_id=statement.structure_id, year=statement.ends_on.year)
        if others.exclude(pk=statement.pk).exists():
            errors["ends_on"] = [f"Cette structure a déjà des comptes pour l'exercice {statement.ends_on.year}."]
    if errors:
        raise FieldErrors(errors)


def answer(request, response, statement, status=200):
    statement = get_or_404(statements(request.user), NOT_FOUND, pk=statement.pk)
    response["ETag"] = etag(statement.version)
    return Status(status, statement_out(statement))


@router.post(
    "/financial-statements",
    response={201: StatementOut, **WRITE_ERRORS},
    url_name="financial_statements",
    summary="Saisir les comptes d'un exercice (la structure, les administrateurs)",
)
def create_statement(request, payload: StatementIn, response: HttpResponse):
    user = request.user
    structure = get_or_404(Structure.objects.visible_to(user), "Structure introuvable.", uuid=payload.structure)
    if not permissions.can_enter(user, structure):
        raise ApiError(403, CANNOT_ENTER)
    statement = FinancialStatement(structure=structure)
    errors = {}
    assign(statement, payload.model_dump(exclude={"structure"}), errors)
    validate(statement, errors)
    try:
        save(statement, user=user)
    except IntegrityError:  # the same year entered meanwhile: the check now says so
        validate(statement, {})
        raise
    response["Location"] = reverse("api-1.0.0:financial_statement", args=[statement.uuid])
    return answer(request, response, statement, 201)


def editable(user, uuid):
    statement = get_or_404(statements(user), NOT_FOUND, uuid=uuid)
    if not permissions.can_enter(user, statement.structure):
        raise ApiError(403, CANNOT_ENTER)
    if statement.status not in EDITABLE_STATUSES:
        raise ApiError(
            403,
            f"Ces comptes sont « {statement.get_status_display()} » : ils ne se modifient plus (un partenaire qui "
            "finance la structure doit d'abord les lui renvoyer).",
        )
    return statement


@router.patch(
    "/financial-statements/{uuid}",
    response={200: StatementOut, **WRITE_ERRORS, 409: ConflictOut, 428: ErrorOut},
    url_name="financial_statement",
    summary="Modifier des comptes en cours de saisie ou renvoyés (en-tête If-Match obligatoire)",
)
def update_statement(
    request, uuid: UUID, payload: StatementPatch, response: HttpResponse, if_match: str | None = IF_MATCH
):
    user = request.user
    statement = editable(user, uuid)
    expected = expected_version(if_match, payload.version)
    check_version(statement, expected)
    with transaction.atomic():
        statement = (
            FinancialStatement.objects.select_for_update(of=("self",)).select_related("structure").get(pk=statement.pk)
        )
        check_version(statement, expected)
        errors = {}
        assign(statement, payload.model_dump(exclude_unset=True, exclude={"version"}), errors)
        validate(statement, errors)
        save(statement, user=user, expected=expected)
    return answer(request, response, statement)


def step(request, uuid, response, payload, if_match, allowed, refusal, action, *args):
    """Submit, accept or return, on the version the caller read; the action is the web page's."""
    user = request.user
    statement = get_or_404(statements(user), NOT_FOUND, uuid=uuid)
    if not allowed(user, statement):
        raise ApiError(403, refusal(statement))
    expected = expected_version(if_match, payload.version)
    with transaction.atomic():
        locked = (
            FinancialStatement.objects.select_for_update(of=("self",)).select_related("structure").get(pk=statement.pk)
        )
        check_version(locked, expected)
        try:
            moved = action(locked, user, *args)
        except ValidationError as error:
            raise FieldErrors(
                django_errors(error),
                detail="Ces comptes ne s'équilibrent pas encore : corrigez les champs indiqués avant de les envoyer.",
            )
        except actions.StatementStateError as error:
            raise ApiError(
                409, str(error), headers={"ETag": etag(locked.version)}, changes=[], current_version=locked.version
            )
    return answer(request, response, moved)


def cannot_submit(statement):
    if statement.status not in EDITABLE_STATUSES:
        return f"Ces comptes sont déjà « {statement.get_status_display()} »."
    return CANNOT_ENTER


def cannot_review(statement):
    if statement.status != StatementStatus.SUBMITTED:
        shown = statement.get_status_display()
        return f"Seuls des comptes envoyés s'acceptent ou se renvoient : ceux-ci sont « {shown} »."
    return CANNOT_REVIEW


@router.post(
    "/financial-statements/{uuid}/submit",
    response=STEP_RESPONSES,
    url_name="financial_statement_submit",
    summary="Envoyer les comptes aux partenaires (la structure ; en-tête If-Match obligatoire)",
)
def submit_statement(
    request, uuid: UUID, response: HttpResponse, payload: StepIn | None = None, if_match: str | None = IF_MATCH
):
    return step(
        request, uuid, response, payload or StepIn(), if_match, permissions.can_submit, cannot_submit, actions.submit
    )


@router.post(
    "/financial-statements/{uuid}/accept",
    response=STEP_RESPONSES,
    url_name="financial_statement_accept",
    summary="Accepter des comptes envoyés (un partenaire qui finance la structure ; en-tête If-Match obligatoire)",
)
def accept_statement(
    request, uuid: UUID, response: HttpResponse, payload: StepIn | None = None, if_match: str | None = IF_MATCH
):
    return step(
        request, uuid, response, payload or StepIn(), if_match, permissions.can_review, cannot_review, actions.accept
    )


@router.post(
    "/financial-statements/{uuid}/return",
    response=STEP_RESPONSES,
    url_name="financial_statement_return",
    summary="Renvoyer des comptes à la structure, avec le motif (en-tête If-Match obligatoire)",
)
def return_statement(
    request, uuid: UUID, response: HttpResponse, payload: ReturnIn | None = None, if_match: str | None = IF_MATCH
):
    payload = payload or ReturnIn()
    user = request.user
    statement = get_or_404(statements(user), NOT_FOUND, uuid=uuid)
    if permissions.can_review(user, statement):  # the version read first, then the reason, as a form would
        expected_version(if_match, payload.version)
        if not payload.comment.strip():
            raise FieldErrors({"comment": [RETURN_REASON]})
    return step(
        request,
        uuid,
        response,
        payload,
        if_match,
        permissions.can_review,
        cannot_review,
        actions.return_to_structure,
        payload.comment.strip(),
    )


# -- health statuses -----------------------------------------------------------------------------


class FactOut(Schema):
    signal: str | None = None
    severity: str | None = None
    text: str


class HealthStatusOut(Schema):
    structure: UUID
    structure_name: str
    department: str
    year: int
    level: str = Field(description="vert, vigilance ou alerte")
    facts: list[FactOut] = Field(description="Ce qui a déclenché l'état, écrit en clair.")
    ratios: dict[str, Decimal | None] = Field(description="Les ratios de l'exercice accepté, par code.")
    computed_at: datetime.datetime


class HealthFilters(Schema):
    structure: UUID | None = None
    year: int | None = None
    level: HealthLevel | None = Field(None, description="vert, vigilance ou alerte")
    department: str | None = Field(None, description="Code du département de la structure, par exemple 69.")
    latest: bool = Field(False, description="true : le dernier état de chaque structure seulement.")


@router.get(
    "/health-statuses",
    response={200: Page[HealthStatusOut], 400: ErrorOut, 401: ErrorOut},
    url_name="health_statuses",
    summary="États de santé financière des structures visibles, avec les faits qui les expliquent",
)
def list_health_statuses(request, paging: Query[PageParams], filters: Query[HealthFilters]):
    found = HealthStatus.objects.visible_to(request.user).select_related("structure__commune")
    if filters.structure:
        found = found.filter(structure__uuid=filters.structure)
    if filters.year:
        found = found.filter(year=filters.year)
    if filters.level:
        found = found.filter(level=filters.level)
    if filters.department:
        found = found.filter(structure__commune__department_id=filters.department.strip().upper())
    if filters.latest:
        found = found.latest_per_structure()
    page = paginate(found.order_by("structure__name", "-year"), paging)
    return {
        **page,
        "results": [
            {
                "structure": status.structure.uuid,
                "structure_name": status.structure.name,
                "department": status.structure.commune.department_id,
                "year": status.year,
                "level": status.level,
                "facts": [
                    {"signal": f.get("signal"), "severity": f.get("severity"), "text": f.get("text", "")}
                    for f in status.facts
                ],
                "ratios": {code: status.ratio(code) for code in status.ratios},
                "computed_at": status.computed_at,
            }
            for status in page["results"]
        ],
    }
