"""Official geography, readable by anyone (no authentication)."""

from django.db.models import Q
from ninja import Field, Query, Router, Schema

from cadre.api.errors import FieldErrors
from cadre.api.pagination import PageParams, paginate
from cadre.api.schemas import CommuneOut, DepartmentOut, EpciOut, ErrorOut, Page, PriorityAreaOut, RegionOut
from cadre.api.writes import get_or_404
from cadre.territories.models import Commune, Department, Epci, PriorityArea, Region

router = Router(tags=["Territoires"], auth=None)

LIST_ERRORS = {400: ErrorOut}
DETAIL_ERRORS = {400: ErrorOut, 404: ErrorOut}


class DepartmentFilters(Schema):
    region: str | None = Field(None, description="Code INSEE de la région, par exemple 84.")


class EpciFilters(Schema):
    q: str | None = Field(None, description="Début ou partie du nom.")
    department: str | None = Field(None, description="Code du département, par exemple 69.")


class CommuneFilters(Schema):
    q: str | None = Field(None, description="Nom, code postal ou code INSEE (début).")
    department: str | None = Field(None, description="Code du département, par exemple 69.")


class PriorityAreaFilters(Schema):
    department: str | None = Field(None, description="Code du département, par exemple 69.")
    commune: str | None = Field(None, description="Code INSEE de la commune (ses arrondissements compris).")


def known_code(model, value, field, unknown):
    """The code of an existing area, or a 400 naming the query parameter."""
    code = (value or "").strip().upper()
    if code and not model.objects.filter(pk=code).exists():
        raise FieldErrors({field: [f"{unknown} : « {value} »."]}, detail="Filtres invalides.", status=400)
    return code


@router.get("/regions", response={200: Page[RegionOut], **LIST_ERRORS}, url_name="regions", summary="Régions")
def list_regions(request, paging: Query[PageParams]):
    return paginate(Region.objects.all(), paging)


@router.get("/regions/{code}", response={200: RegionOut, **DETAIL_ERRORS}, url_name="region", summary="Une région")
def get_region(request, code: str):
    return get_or_404(Region.objects.all(), "Aucune région avec ce code.", code=code.upper())


@router.get(
    "/departments", response={200: Page[DepartmentOut], **LIST_ERRORS}, url_name="departments", summary="Départements"
)
def list_departments(request, filters: Query[DepartmentFilters], paging: Query[PageParams]):
    departments = Department.objects.all()
    if region := known_code(Region, filters.region, "region", "Région inconnue"):
        departments = departments.filter(region=region)
    return paginate(departments, paging)


@router.get(
    "/departments/{code}",
    response={200: DepartmentOut, **DETAIL_ERRORS},
    url_name="department",
    summary="Un département",
)
def get_department(request, code: str):
    return get_or_404(Department.objects.all(), "Aucun département avec ce code.", code=code.upper())


@router.get("/epcis", response={200: Page[EpciOut], **LIST_ERRORS}, url_name="epcis", summary="EPCI")
def list_epcis(request, filters: Query[EpciFilters], paging: Query[PageParams]):
    epcis = Epci.objects.all()
    if filters.q and filters.q.strip():
        epcis = epcis.filter(name__icontains=filters.q.strip())
    if department := known_code(Department, filters.department, "department", "Département inconnu"):
        epcis = epcis.filter(communes__department=department).distinct()
    return paginate(epcis, paging)


@router.get("/epcis/{siren}", response={200: EpciOut, **DETAIL_ERRORS}, url_name="epci", summary="Un EPCI")
def get_epci(request, siren: str):
    return get_or_404(Epci.objects.all(), "Aucun EPCI avec ce SIREN.", siren=siren)


@router.get("/communes", response={200: Page[CommuneOut], **LIST_ERRORS}, url_name="communes", summary="Communes")
def list_communes(request, filters: Query[CommuneFilters], paging: Query[PageParams]):
    communes = Commune.objects.search(filters.q) if filters.q and filters.q.strip() else Commune.objects.all()
    if department := known_code(Department, filters.department, "department", "Département inconnu"):
        communes = communes.filter(department=department)
    return paginate(communes, paging)


@router.get("/communes/{code}", response={200: CommuneOut, **DETAIL_ERRORS}, url_name="commune", summary="Une commune")
def get_commune(request, code: str):
    return get_or_404(Commune.objects.all(), "Aucune commune avec ce code INSEE.", code=code.upper())


@router.get(
    "/priority-areas",
    response={200: Page[PriorityAreaOut], **LIST_ERRORS},
    url_name="priority_areas",
    summary="Quartiers prioritaires (QPV)",
)
def list_priority_areas(request, filters: Query[PriorityAreaFilters], paging: Query[PageParams]):
    areas = PriorityArea.objects.prefetch_related("communes")
    if department := known_code(Department, filters.department, "department", "Département inconnu"):
        areas = areas.filter(department=department)
    if commune := known_code(Commune, filters.commune, "commune", "Commune inconnue (code INSEE attendu)"):
        areas = areas.filter(Q(communes=commune) | Q(communes__parent=commune)).distinct()
    return paginate(areas, paging)


@router.get(
    "/priority-areas/{code}",
    response={200: PriorityAreaOut, **DETAIL_ERRORS},
    url_name="priority_area",
    summary="Un quartier prioritaire",
)
def get_priority_area(request, code: str):
    return get_or_404(PriorityArea.objects.prefetch_related("communes"), "Aucun QPV avec ce code.", code=code.upper())
