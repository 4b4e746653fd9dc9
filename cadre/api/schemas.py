"""Shapes of the API's requests and answers.

Objects are named by their UUID (`id`), geography by its official code (INSEE, SIREN, QPV code),
never by database ids. Write schemas forbid unknown fields, so a misspelt field is an error
rather than silently ignored. Class docstrings are shown in the OpenAPI document: they are in French.
"""

import datetime
from typing import Generic, Literal, TypeVar
from uuid import UUID

from ninja import Field, Schema
from pydantic import ConfigDict

from cadre.partners.models import PartnerKind
from cadre.structures.models import Management, PriorityAreaStatus, StructureKind, TerritorySize, TerritoryType

T = TypeVar("T")


class Page(Schema, Generic[T]):
    count: int = Field(description="Nombre total de résultats, toutes pages confondues.")
    page: int
    page_size: int
    results: list[T]


class ErrorOut(Schema):
    detail: str
    errors: dict[str, list[str]] | None = Field(None, description="Messages par champ en faute.")


class ChangeOut(Schema):
    field: str = Field(description="Libellé du champ modifié entre-temps.")
    your_version: str = Field(description="Valeur dans la version que vous avez lue.")
    current: str = Field(description="Valeur enregistrée actuellement.")
    by: str | None = Field(description="Auteur de la modification.")
    at: datetime.datetime | None


class ConflictOut(Schema):
    detail: str
    changes: list[ChangeOut]
    current_version: int


# Territories


class RegionOut(Schema):
    code: str
    name: str


class DepartmentOut(Schema):
    code: str
    name: str
    region: str = Field(description="Code INSEE de la région.")

    @staticmethod
    def resolve_region(obj):
        return obj.region_id


class EpciOut(Schema):
    siren: str
    name: str
    kind: str


class CommuneOut(Schema):
    code: str = Field(description="Code INSEE.")
    name: str
    kind: str
    department: str
    epci: str | None = Field(description="SIREN de l'EPCI.")
    parent: str | None = Field(description="Pour un arrondissement municipal : code INSEE de la commune.")
    population: int | None
    postal_codes: list[str]
    latitude: float | None
    longitude: float | None

    @staticmethod
    def resolve_department(obj):
        return obj.department_id

    @staticmethod
    def resolve_epci(obj):
        return obj.epci_id

    @staticmethod
    def resolve_parent(obj):
        return obj.parent_id

    @staticmethod
    def resolve_postal_codes(obj):
        return obj.postal_code_list


class PriorityAreaOut(Schema):
    code: str = Field(description="Code QPV (2024), par exemple QN06921M.")
    name: str
    department: str
    communes: list[str] = Field(description="Codes INSEE des communes du quartier.")

    @staticmethod
    def resolve_department(obj):
        return obj.department_id

    @staticmethod
    def resolve_communes(obj):
        return [c.code for c in obj.communes.all()]


# Structures


class ApprovalOut(Schema):
    id: UUID
    kind: str
    starts: datetime.date
    ends: datetime.date
    board_decision_date: datetime.date | None
    notes: str
    version: int

    @staticmethod
    def resolve_id(obj):
        return obj.uuid


class StructureSummaryOut(Schema):
    id: UUID
    name: str
    kind: str
    management: str
    manager_name: str
    siret: str
    rna: str = Field(description="Numéro RNA des associations : W suivi de 9 chiffres, ou vide.")
    postal_code: str
    commune: str = Field(description="Code INSEE de la commune d'implantation.")
    commune_name: str
    department: str
    priority_area_status: str
    priority_areas: list[str] = Field(description="Codes des QPV concernés.")
    federation: UUID | None = Field(description="Identifiant de la fédération d'adhésion.")
    approval_ends: datetime.date | None = Field(None, description="Fin de l'agrément principal en cours.")
    closed_on: datetime.date | None
    version: int
    updated_at: datetime.datetime

    @staticmethod
    def resolve_id(obj):
        return obj.uuid

    @staticmethod
    def resolve_commune(obj):
        return obj.commune_id

    @staticmethod
    def resolve_commune_name(obj):
        return obj.commune.name

    @staticmethod
    def resolve_department(obj):
        return obj.commune.department_id

    @staticmethod
    def resolve_priority_areas(obj):
        if hasattr(obj, "priority_area_codes"):  # lists read them for a whole page at once
            return obj.priority_area_codes
        return [a.code for a in obj.priority_areas.all()]

    @staticmethod
    def resolve_federation(obj):
        return obj.federation.uuid if obj.federation_id else None

    @staticmethod
    def resolve_approval_ends(obj):
        return getattr(obj, "approval_ends", None)


class StructureOut(StructureSummaryOut):
    address: str
    address_complement: str
    served_population: int | None
    territory_type: str
    territory_size: str
    serves_travellers: bool
    multi_site: bool
    itinerant: bool
    project_axes: list[str]
    first_approval_date: datetime.date | None
    email: str
    phone: str
    website: str
    created_at: datetime.datetime
    approvals: list[ApprovalOut]

    @staticmethod
    def resolve_approvals(obj):
        return list(obj.approvals.all())


WRITE_CONFIG = ConfigDict(extra="forbid", use_enum_values=True)


class StructureFields(Schema):
    model_config = WRITE_CONFIG

    name: str | None = None
    kind: StructureKind | None = None
    siret: str | None = Field(None, description="14 chiffres.")
    rna: str | None = Field(None, description="Numéro RNA : W suivi de 9 chiffres, par exemple W691012345.")
    manager_name: str | None = None
    management: Management | None = None
    address: str | None = None
    address_complement: str | None = None
    postal_code: str | None = None
    commune: str | None = Field(None, description="Code INSEE, par exemple 69266.")
    served_population: int | None = None
    territory_type: TerritoryType | Literal[""] | None = None
    territory_size: TerritorySize | Literal[""] | None = None
    priority_area_status: PriorityAreaStatus | None = None
    priority_areas: list[str] | None = Field(None, description='Codes QPV, par exemple ["QN06921M"].')
    federation: UUID | None = Field(None, description="Identifiant d'un partenaire de type fédération.")
    serves_travellers: bool | None = None
    multi_site: bool | None = None
    itinerant: bool | None = None
    project_axes: list[str] | None = Field(None, description="Au plus 5 axes.")
    first_approval_date: datetime.date | None = None
    email: str | None = None
    phone: str | None = None
    website: str | None = None
    closed_on: datetime.date | None = None


class StructurePatch(StructureFields):
    """Champs à modifier : les autres gardent leur valeur ; `null` vide un champ facultatif."""

    version: int | None = Field(None, description="Version lue (à défaut de l'en-tête If-Match).")


class StructureIn(StructureFields):
    """Nouvelle structure : nom, type, mode de gestion et commune sont obligatoires."""

    name: str
    kind: StructureKind
    management: Management
    commune: str = Field(description="Code INSEE, par exemple 69266.")


# Partners


class PartnerOut(Schema):
    id: UUID
    name: str
    short_name: str
    kind: str
    siret: str
    departments: list[str] = Field(description="Codes des départements couverts entièrement.")
    communes: list[str] = Field(description="Codes INSEE des communes couvertes en plus.")
    address: str
    email: str
    phone: str
    website: str
    version: int
    created_at: datetime.datetime
    updated_at: datetime.datetime

    @staticmethod
    def resolve_id(obj):
        return obj.uuid

    @staticmethod
    def resolve_departments(obj):
        return [d.code for d in obj.departments.all()]

    @staticmethod
    def resolve_communes(obj):
        return [c.code for c in obj.communes.all()]


class PartnerFields(Schema):
    model_config = WRITE_CONFIG

    name: str | None = None
    short_name: str | None = None
    kind: PartnerKind | None = None
    siret: str | None = None
    departments: list[str] | None = Field(None, description='Codes de départements, par exemple ["69"].')
    communes: list[str] | None = Field(None, description='Codes INSEE, par exemple ["69266"].')
    address: str | None = None
    email: str | None = None
    phone: str | None = None
    website: str | None = None


class PartnerPatch(PartnerFields):
    """Champs à modifier : les autres gardent leur valeur."""

    version: int | None = Field(None, description="Version lue (à défaut de l'en-tête If-Match).")


class PartnerIn(PartnerFields):
    """Nouveau partenaire : nom et type sont obligatoires."""

    name: str
    kind: PartnerKind
