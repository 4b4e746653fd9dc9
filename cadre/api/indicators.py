"""Indicators: their definitions and their values by territory and year — the open data.

Open without authentication, like the web pages of the open data: anonymous callers read the
published indicators only, with statistical secrecy (a value resting on fewer than
CADRE_OPEN_DATA_MIN_STRUCTURES structures, or one that would let such a value be deduced by
difference, comes with its figures nulled and `suppressed: true`: queries.secrecy).
Signed-in callers (token or session) read every indicator and every value: indicator values are
aggregates, not confidential for the partners. A wrong token is a 401, not an anonymous read.
"""

import datetime
from typing import Literal
from uuid import UUID

from django.urls import reverse
from ninja import Field, Query, Router, Schema
from ninja.errors import AuthenticationError

from cadre.api.auth import DEFAULT_AUTH
from cadre.api.errors import FieldErrors
from cadre.api.observatory import number
from cadre.api.pagination import PageParams, paginate
from cadre.api.schemas import ErrorOut, Page
from cadre.api.writes import get_or_404
from cadre.indicators import queries
from cadre.indicators.models import Indicator, IndicatorKind, IndicatorValue, Level, Theme
from cadre.observatory.models import Campaign


class Anonymous:
    """No credentials at all: the public's reading. Credentials that fail are still refused."""

    def __call__(self, request):
        if request.headers.get("Authorization"):
            raise AuthenticationError()
        return "anonymous"


router = Router(tags=["Indicateurs (données ouvertes)"], auth=[*DEFAULT_AUTH, Anonymous()])

NOT_FOUND = "Aucun indicateur avec cet identifiant (ou non publié)."
LIST_ERRORS = {400: ErrorOut, 401: ErrorOut}
DETAIL_ERRORS = {400: ErrorOut, 401: ErrorOut, 404: ErrorOut}
Number = int | float
# OpenAPI: an empty requirement beside the token and the session says that none is needed.
OPTIONAL_AUTH = {"security": [{}]}


def signed_in(user):
    return user.is_authenticated and user.is_active


def public_reading(request):
    """True when the caller is the public: statistical secrecy applies."""
    return not signed_in(request.user)


# -- definitions ---------------------------------------------------------------------------------


class IndicatorOut(Schema):
    """Définition d'un indicateur, dans une version donnée (modifier une définition en crée une nouvelle)."""

    id: UUID = Field(description="Identifiant public de cette version.")
    code: str = Field(description="Code stable d'une version à l'autre.")
    version: int
    is_current: bool = Field(description="Faux pour une version remplacée (ses valeurs restent consultables).")
    title: str
    theme: Theme
    theme_label: str
    position: int = Field(description="Ordre dans le thème.")
    kind: IndicatorKind
    kind_label: str
    unit: str
    decimals: int = Field(description="Décimales de la valeur publiée.")
    method: str = Field(description="Méthode de calcul, en français courant.")
    is_public: bool = Field(description="Publié en données ouvertes.")
    structure_kinds: list[str] = Field(description="Types de structure retenus (vide : tous).")
    managements: list[str] = Field(description="Modes de gestion retenus (vide : tous).")
    priority_area: str = Field(description="in_area, not_in_area ou vide (toutes).")
    approval_kinds: list[str] = Field(description="Agréments retenus (vide : tous).")
    source: str = Field(description="Donnée lue : « question:code » ou « registry:champ ».")
    operator: str
    threshold: Number | None
    choice_codes: list[str]
    denominator: str = Field(description="Dénominateur d'un rapport : « question:code » ou « structures ».")
    created_at: datetime.datetime
    replaced_at: datetime.datetime | None
    method_url: str | None = Field(description="Page publique de la méthode (indicateur publié).")

    @staticmethod
    def resolve_id(obj):
        return obj.uuid

    @staticmethod
    def resolve_theme_label(obj):
        return obj.get_theme_display()

    @staticmethod
    def resolve_kind_label(obj):
        return obj.get_kind_display()

    @staticmethod
    def resolve_threshold(obj):
        return number(obj.threshold)

    @staticmethod
    def resolve_method_url(obj):
        return reverse("open_data:indicator", args=[obj.uuid]) if obj.is_public else None


class IndicatorFilters(Schema):
    code: str | None = Field(None, description="Code de l'indicateur.")
    theme: Theme | None = Field(None, description="Thème.")
    all_versions: bool = Field(False, description="Inclure les versions remplacées.")


def visible_indicators(request):
    return Indicator.objects.visible_to(request.user)


@router.get(
    "/indicators",
    response={200: Page[IndicatorOut], **LIST_ERRORS},
    url_name="indicators",
    openapi_extra=OPTIONAL_AUTH,
    summary="Indicateurs",
    description=(
        "Sans authentification : les indicateurs publiés en données ouvertes. Connecté : tous. "
        "Par défaut, la version en vigueur de chaque indicateur."
    ),
)
def list_indicators(request, filters: Query[IndicatorFilters], paging: Query[PageParams]):
    indicators = visible_indicators(request)
    if not filters.all_versions:
        indicators = indicators.current()
    if filters.code:
        indicators = indicators.filter(code=filters.code.strip())
    if filters.theme:
        indicators = indicators.filter(theme=filters.theme)
    return paginate(indicators, paging)


@router.get(
    "/indicators/{indicator_id}",
    response={200: IndicatorOut, **DETAIL_ERRORS},
    url_name="indicator",
    openapi_extra=OPTIONAL_AUTH,
    summary="Un indicateur",
)
def get_indicator(request, indicator_id: UUID):
    return get_or_404(visible_indicators(request), NOT_FOUND, uuid=indicator_id)


# -- values --------------------------------------------------------------------------------------


class IndicatorValueOut(Schema):
    """Valeur d'une version d'indicateur pour un territoire et une année. Sans authentification, une valeur
    reposant sur trop peu de structures est masquée (`suppressed`) : valeur, numérateur, dénominateur,
    quartiles et nombre de structures à null ; de même pour une valeur qui permettrait de déduire par
    différence une valeur masquée (secret secondaire)."""

    indicator: UUID = Field(description="Identifiant de la version de l'indicateur.")
    indicator_code: str
    indicator_version: int
    year: int = Field(description="Année de la campagne.")
    level: Level = Field(description="Échelon : national, region, department, epci ou commune.")
    territory: str = Field(description="Code officiel (INSEE, SIREN d'EPCI) ; vide pour la France.")
    territory_name: str
    value: Number | None
    unit: str
    decimals: int
    numerator: Number | None
    denominator: Number | None
    first_quartile: Number | None
    third_quartile: Number | None
    structure_count: int | None = Field(description="Structures dont la réponse entre dans le calcul.")
    status: Literal["published", "suppressed", "not_computable"]
    suppressed: bool = Field(
        description=(
            "Vrai : secret statistique (moins de structures que le seuil, ou valeur masquée pour qu'une autre "
            "valeur masquée ne puisse pas se déduire)."
        )
    )
    reason: str = Field(description="Pourquoi la valeur n'est pas calculable.")
    computed_at: datetime.datetime


class ValueFilters(Schema):
    year: int | None = Field(None, description="Année, par exemple 2025.")
    level: Level | None = Field(None, description="Échelon.")
    territory: str | None = Field(
        None, description="Code du territoire (avec `level`), par exemple 69 ; vide : France."
    )
    indicator: str | None = Field(None, description="Code de l'indicateur (sa version en vigueur).")
    indicator_id: UUID | None = Field(None, description="Identifiant d'une version précise (même remplacée).")


def value_out(value, names, public, masked):
    indicator = value.indicator
    status = queries.status(value, public=public, masked=masked.get((indicator.pk, value.year)))
    hidden = status == queries.SUPPRESSED
    figures = {
        field: None if hidden else number(getattr(value, field))
        for field in ("value", "numerator", "denominator", "first_quartile", "third_quartile")
    }
    return {
        "indicator": indicator.uuid,
        "indicator_code": indicator.code,
        "indicator_version": indicator.version,
        "year": value.year,
        "level": value.level,
        "territory": value.territory,
        "territory_name": names[value.level][value.territory],
        "unit": indicator.unit,
        "decimals": indicator.decimals,
        **figures,
        "structure_count": None if hidden else value.structure_count,
        "status": status,
        "suppressed": hidden,
        "reason": "" if hidden else value.reason,
        "computed_at": value.computed_at,
    }


@router.get(
    "/indicator-values",
    response={200: Page[IndicatorValueOut], **LIST_ERRORS},
    url_name="indicator_values",
    openapi_extra=OPTIONAL_AUTH,
    summary="Valeurs des indicateurs",
    description=(
        "Valeurs par année, échelon et territoire, des versions en vigueur (ou de `indicator_id`). "
        "Sans authentification : indicateurs publiés seulement, avec le secret statistique."
    ),
)
def list_values(request, filters: Query[ValueFilters], paging: Query[PageParams]):
    public = public_reading(request)
    indicators = visible_indicators(request)
    if filters.indicator_id:
        indicators = indicators.filter(uuid=filters.indicator_id)
    else:
        indicators = indicators.current()
    if filters.indicator:
        indicators = indicators.filter(code=filters.indicator.strip())
    values = IndicatorValue.objects.filter(indicator__in=indicators).select_related("indicator")
    if filters.year is not None:
        values = values.filter(year=filters.year)
    else:
        # Values exist for campaign years only; naming them lets a territory's values be read through the
        # primary key (indicator, year, level, territory) instead of scanning every value (80 → 7 ms).
        values = values.filter(year__in=Campaign.objects.values("year"))
    if filters.territory is not None:
        if filters.level is None:
            raise FieldErrors(
                {
                    "territory": [
                        "Indiquez aussi l'échelon (level) : un même code peut être une région et un département."
                    ]
                },
                detail="Filtres invalides.",
                status=400,
            )
        values = values.filter(territory="" if filters.level == Level.NATIONAL else filters.territory.strip().upper())
    if filters.level:
        values = values.filter(level=filters.level)
    values = values.order_by(
        "indicator__theme", "indicator__position", "indicator__code", "-year", "level", "territory"
    )
    page = paginate(values, paging)
    codes = {}
    for value in page["results"]:
        codes.setdefault(value.level, set()).add(value.territory)
    names = {level: queries.territory_names(level, found) for level, found in codes.items()}
    masked = {}
    if public:  # secondary secrecy of the indicators and years of this page
        by_year = {}
        for value in page["results"]:
            by_year.setdefault(value.year, {})[value.indicator_id] = value.indicator
        for year, indicators in by_year.items():
            masked.update(queries.masked_places(indicators.values(), [year]))
    page["results"] = [value_out(value, names, public, masked) for value in page["results"]]
    return page
