"""Structures (centres sociaux, EVS) with their approvals: same scope, filters and rules as the web pages."""

from uuid import UUID

from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpResponse
from django.urls import reverse
from ninja import Field, Header, Query, Router, Schema, Status

from cadre.api.errors import ApiError, FieldErrors, form_errors
from cadre.api.pagination import PageParams, paginate
from cadre.api.schemas import (
    ConflictOut,
    ErrorOut,
    Page,
    StructureIn,
    StructureOut,
    StructurePatch,
    StructureSummaryOut,
)
from cadre.api.writes import assign_fields, check_version, etag, expected_version, full_clean_into, get_or_404, save
from cadre.partners.models import Partner
from cadre.structures.forms import StructureFilterForm
from cadre.structures.models import Structure, attach_priority_area_codes, normalise_rna
from cadre.structures.permissions import can_create_structure, can_edit_structure
from cadre.territories.forms import PriorityAreaCodesField
from cadre.territories.models import Commune

router = Router(tags=["Structures"])

NOT_FOUND = "Aucune structure avec cet identifiant dans votre périmètre."
CANNOT_CREATE = "Vous ne pouvez pas créer de structure : c'est réservé aux contributeurs de la Caf et des fédérations."
CANNOT_EDIT = "Vous pouvez consulter cette structure mais pas la modifier."
OUT_OF_SCOPE = (
    "Cette structure serait hors de votre périmètre : vous ne pourriez plus la modifier. "
    "Vérifiez la commune (elle doit être sur le territoire de votre Caf) ou, pour une fédération, "
    "indiquez la vôtre dans « federation ». Rien n'a été enregistré."
)
RELATED_FIELDS = {"commune", "priority_areas", "federation"}


class StructureFilters(Schema):
    """Les filtres de la page « Structures »."""

    # Documentation only: StructureFilterForm reads them again from the query string, as the page does.
    q: str | None = Field(None, description="Nom, gestionnaire, commune ou SIRET.")
    region: str | None = Field(None, description="Code INSEE de la région.")
    department: str | None = Field(None, description="Code du département.")
    commune: str | None = Field(
        None, description="Code INSEE, code postal ou nom de la commune (arrondissements compris)."
    )
    kind: str | None = Field(None, description="centre_social ou evs.")
    management: str | None = Field(None, description="association, local_authority, caf ou other.")
    qpv: str | None = Field(None, description="yes, in_area ou no.")
    approval_ending: str | None = Field(None, description="Agrément se terminant dans 3, 6, 12 ou 18 mois.")
    sort: str | None = Field(None, description="name, -name, commune, department, approval ou -updated.")


# What StructureSummaryOut reads: the list loads nothing else.
SUMMARY_FIELDS = [
    *("uuid", "name", "kind", "management", "manager_name", "siret", "rna", "postal_code", "priority_area_status"),
    *("closed_on", "version", "updated_at", "commune__name", "commune__department_id", "federation__uuid"),
]


def visible_structures(user):
    return Structure.objects.visible_to(user).select_related("commune", "federation")


def structure_in_scope(user, structure_id):
    structures = visible_structures(user).with_current_approval_end().prefetch_related("priority_areas", "approvals")
    return get_or_404(structures, NOT_FOUND, uuid=structure_id)


def apply_payload(structure, data):
    """Set `data` on `structure` and validate it as the web form does; returns save_relations or raises 422."""
    errors = {}
    if "commune" in data:
        code = (data["commune"] or "").strip().upper()
        commune = Commune.objects.filter(pk=code).first() if code else None
        if commune is None:
            errors["commune"] = [
                f"Commune inconnue : « {data['commune']} » n'est pas un code INSEE (5 caractères, par exemple 69266)."
                if code
                else "Indiquez la commune (code INSEE)."
            ]
        else:
            structure.commune = commune
    if "priority_areas" in data:
        try:
            areas = PriorityAreaCodesField().clean(", ".join(data["priority_areas"] or []))
        except ValidationError as error:
            errors["priority_areas"] = list(error.messages)
            areas = []
    else:
        areas = list(structure.priority_areas.prefetch_related("communes")) if structure.pk else []
    if "federation" in data:
        federation = None
        if data["federation"] is not None:
            federation = Partner.objects.federations().filter(uuid=data["federation"]).first()
            if federation is None:
                errors["federation"] = ["Aucune fédération des centres sociaux avec cet identifiant."]
        if "federation" not in errors:
            structure.federation = federation
    plain = {k: v for k, v in data.items() if k not in RELATED_FIELDS}
    if plain.get("siret"):
        plain["siret"] = "".join(plain["siret"].split())
    if plain.get("rna"):
        plain["rna"] = normalise_rna(plain["rna"])
    if plain.get("project_axes"):
        plain["project_axes"] = [axis.strip() for axis in plain["project_axes"]]
    assign_fields(structure, plain, errors)
    full_clean_into(structure, errors)
    if not errors.keys() & {"commune", "priority_areas", "priority_area_status"}:
        if error := structure.check_priority_areas(areas):
            errors["priority_areas"] = [error]
    if errors:
        raise FieldErrors(errors)
    return lambda: structure.priority_areas.set(areas)


@router.get(
    "",
    response={200: Page[StructureSummaryOut], 400: ErrorOut, 401: ErrorOut},
    url_name="structures",
    summary="Liste des structures visibles, avec les filtres de la page « Structures »",
)
def list_structures(request, filters: Query[StructureFilters], paging: Query[PageParams]):
    # `filters` documents the parameters; the form reads the query string itself, exactly as the page does.
    form = StructureFilterForm(request.GET)
    if not form.is_valid():
        raise FieldErrors(form_errors(form), detail="Filtres invalides.", status=400)
    page = paginate(form.apply(visible_structures(request.user)).only(*SUMMARY_FIELDS), paging)
    attach_priority_area_codes(page["results"])
    return page


@router.get(
    "/{structure_id}",
    response={200: StructureOut, 400: ErrorOut, 401: ErrorOut, 404: ErrorOut},
    url_name="structure",
    summary="Une structure, avec ses agréments (en-tête ETag : sa version)",
)
def get_structure(request, structure_id: UUID, response: HttpResponse):
    structure = structure_in_scope(request.user, structure_id)
    response["ETag"] = etag(structure.version)
    return structure


@router.post(
    "",
    response={201: StructureOut, 400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 422: ErrorOut},
    url_name="structures",
    summary="Créer une structure",
)
def create_structure(request, payload: StructureIn, response: HttpResponse):
    if not can_create_structure(request.user):
        raise ApiError(403, CANNOT_CREATE)
    with transaction.atomic():
        structure = Structure()
        relations = apply_payload(structure, payload.model_dump(exclude_unset=True))
        save(structure, user=request.user, relations=relations)
        if not can_edit_structure(request.user, structure):
            raise ApiError(403, OUT_OF_SCOPE)  # leaving the block rolls the creation back
    structure = structure_in_scope(request.user, structure.uuid)
    response["ETag"] = etag(structure.version)
    response["Location"] = reverse("api-1.0.0:structure", args=[structure.uuid])
    return Status(201, structure)


@router.patch(
    "/{structure_id}",
    response={
        200: StructureOut,
        400: ErrorOut,
        401: ErrorOut,
        403: ErrorOut,
        404: ErrorOut,
        409: ConflictOut,
        422: ErrorOut,
        428: ErrorOut,
    },
    url_name="structure",
    summary="Modifier une structure (en-tête If-Match obligatoire)",
)
def update_structure(
    request,
    structure_id: UUID,
    payload: StructurePatch,
    response: HttpResponse,
    if_match: str | None = Header(None, alias="If-Match", description='Version lue, par exemple "3".'),
):
    structure = structure_in_scope(request.user, structure_id)
    if not can_edit_structure(request.user, structure):
        raise ApiError(403, CANNOT_EDIT)
    expected = expected_version(if_match, payload.version)
    check_version(structure, expected)
    with transaction.atomic():
        relations = apply_payload(structure, payload.model_dump(exclude_unset=True, exclude={"version"}))
        save(structure, user=request.user, expected=expected, relations=relations)
        # A mistyped commune must not move the structure out of reach of the one who could fix it.
        if not can_edit_structure(request.user, structure):
            raise ApiError(403, OUT_OF_SCOPE)
    structure = structure_in_scope(request.user, structure_id)
    response["ETag"] = etag(structure.version)
    return structure
