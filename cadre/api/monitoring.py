"""Annual accounts of the structures and their ratios, with the pages' scope: a caller sees the accounts of the
structures it sees (FinancialStatement.visible_to). Amounts are strings of euros with their cents, exact."""

import datetime
from decimal import Decimal
from uuid import UUID

from ninja import Field, Query, Router, Schema

from cadre.api.pagination import PageParams, paginate
from cadre.api.schemas import ErrorOut, Page
from cadre.api.writes import get_or_404
from cadre.monitoring.models import FinancialStatement
from cadre.monitoring.ratios import RATIOS, ratios_of

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


@router.get(
    "/financial-statements/{uuid}",
    response={200: StatementDetailOut, 401: ErrorOut, 404: ErrorOut},
    url_name="financial_statement",
    summary="Comptes annuels d'un exercice, avec leurs ratios",
)
def get_statement(request, uuid: UUID):
    statement = get_or_404(statements(request.user), "Comptes introuvables.", uuid=uuid)
    history = sorted(
        FinancialStatement.objects.filter(structure_id=statement.structure_id, ends_on__lte=statement.ends_on),
        key=lambda s: s.ends_on,
    )
    values = ratios_of(statement, history)
    ratios = [
        {"code": r.code, "label": r.label, "unit": r.unit, "formula": r.formula, "value": values[r.code]}
        for r in RATIOS
    ]
    return {**statement_out(statement), "ratios": ratios}
