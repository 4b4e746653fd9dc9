"""Institutional partners and their territory (departments and communes by code)."""

from uuid import UUID

from django.db import transaction
from django.http import HttpResponse
from django.urls import reverse
from ninja import Field, Header, Query, Router, Schema, Status

from cadre.api.errors import ApiError, FieldErrors, form_errors
from cadre.api.pagination import PageParams, paginate
from cadre.api.schemas import ConflictOut, ErrorOut, Page, PartnerIn, PartnerOut, PartnerPatch
from cadre.api.writes import assign_fields, check_version, etag, expected_version, full_clean_into, get_or_404, save
from cadre.partners.forms import PartnerFilterForm
from cadre.partners.models import Partner
from cadre.partners.permissions import can_create_partner, can_edit_partner
from cadre.territories.models import Commune, Department

router = Router(tags=["Partenaires"])

NOT_FOUND = "Aucun partenaire avec cet identifiant."
CANNOT_CREATE = "Seuls les administrateurs peuvent créer un partenaire."
CANNOT_EDIT = "Seuls les administrateurs et les responsables de ce partenaire peuvent le modifier."


class PartnerFilters(Schema):
    """Les filtres de la page « Partenaires »."""

    # Documentation only: PartnerFilterForm reads them again from the query string, as the page does.
    q: str | None = Field(None, description="Partie du nom.")
    kind: str | None = Field(None, description="caf, state, region, department, metropolis, commune, federation…")
    department: str | None = Field(None, description="Code du département couvert.")


def visible_partners(user):
    return Partner.objects.visible_to(user).prefetch_related("departments", "communes")


def by_codes(model, codes, field, unknown):
    """The areas named by `codes`, or an error message naming the unknown ones."""
    codes = list(dict.fromkeys(c.strip().upper() for c in codes or []))
    found = {area.pk: area for area in model.objects.filter(pk__in=codes)}
    missing = [c for c in codes if c not in found]
    if missing:
        return None, [f"{unknown} : {', '.join(missing)}."]
    return [found[c] for c in codes], None


def apply_payload(partner, data):
    """Set `data` on `partner` and validate it; returns save_relations or raises 422."""
    errors = {}
    relations = {}
    for field, model, unknown in [
        ("departments", Department, "Code de département inconnu"),
        ("communes", Commune, "Code INSEE de commune inconnu"),
    ]:
        if field in data:
            areas, error = by_codes(model, data.pop(field), field, unknown)
            if error:
                errors[field] = error
            else:
                relations[field] = areas
    if data.get("siret"):
        data["siret"] = "".join(data["siret"].split())
    assign_fields(partner, data, errors)
    full_clean_into(partner, errors)
    if errors:
        raise FieldErrors(errors)

    def save_relations():
        for field, areas in relations.items():
            getattr(partner, field).set(areas)

    return save_relations


@router.get(
    "",
    response={200: Page[PartnerOut], 400: ErrorOut, 401: ErrorOut},
    url_name="partners",
    summary="Liste des partenaires, avec les filtres de la page « Partenaires »",
)
def list_partners(request, filters: Query[PartnerFilters], paging: Query[PageParams]):
    form = PartnerFilterForm(request.GET)
    if not form.is_valid():
        raise FieldErrors(form_errors(form), detail="Filtres invalides.", status=400)
    return paginate(form.apply(visible_partners(request.user)), paging)


@router.get(
    "/{partner_id}",
    response={200: PartnerOut, 400: ErrorOut, 401: ErrorOut, 404: ErrorOut},
    url_name="partner",
    summary="Un partenaire (en-tête ETag : sa version)",
)
def get_partner(request, partner_id: UUID, response: HttpResponse):
    partner = get_or_404(visible_partners(request.user), NOT_FOUND, uuid=partner_id)
    response["ETag"] = etag(partner.version)
    return partner


@router.post(
    "",
    response={201: PartnerOut, 400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 422: ErrorOut},
    url_name="partners",
    summary="Créer un partenaire (administrateurs)",
)
def create_partner(request, payload: PartnerIn, response: HttpResponse):
    if not can_create_partner(request.user):
        raise ApiError(403, CANNOT_CREATE)
    with transaction.atomic():
        partner = Partner()
        relations = apply_payload(partner, payload.model_dump(exclude_unset=True))
        save(partner, user=request.user, relations=relations)
    partner = get_or_404(visible_partners(request.user), NOT_FOUND, pk=partner.pk)
    response["ETag"] = etag(partner.version)
    response["Location"] = reverse("api-1.0.0:partner", args=[partner.uuid])
    return Status(201, partner)


@router.patch(
    "/{partner_id}",
    response={
        200: PartnerOut,
        400: ErrorOut,
        401: ErrorOut,
        403: ErrorOut,
        404: ErrorOut,
        409: ConflictOut,
        422: ErrorOut,
        428: ErrorOut,
    },
    url_name="partner",
    summary="Modifier un partenaire (en-tête If-Match obligatoire)",
)
def update_partner(
    request,
    partner_id: UUID,
    payload: PartnerPatch,
    response: HttpResponse,
    if_match: str | None = Header(None, alias="If-Match", description='Version lue, par exemple "3".'),
):
    partner = get_or_404(visible_partners(request.user), NOT_FOUND, uuid=partner_id)
    if not can_edit_partner(request.user, partner):
        raise ApiError(403, CANNOT_EDIT)
    expected = expected_version(if_match, payload.version)
    check_version(partner, expected)
    with transaction.atomic():
        relations = apply_payload(partner, payload.model_dump(exclude_unset=True, exclude={"version"}))
        save(partner, user=request.user, expected=expected, relations=relations)
    partner = get_or_404(visible_partners(request.user), NOT_FOUND, pk=partner.pk)
    response["ETag"] = etag(partner.version)
    return partner
