"""Columns of the structure list export (CSV and XLSX)."""

from django.db.models import Count, Max

from cadre.structures.models import Approval, Structure

COLUMNS = [
    ("Nom", lambda s: s.name),
    ("Type", lambda s: s.get_kind_display()),
    ("SIRET", lambda s: s.siret),
    ("Numéro RNA", lambda s: s.rna),
    ("Gestionnaire", lambda s: s.manager_name),
    ("Mode de gestion", lambda s: s.get_management_display()),
    ("Adresse", lambda s: s.address),
    ("Complément d'adresse", lambda s: s.address_complement),
    ("Code postal", lambda s: s.postal_code),
    ("Commune", lambda s: s.commune.name),
    ("Code INSEE", lambda s: s.commune_id),
    ("Département", lambda s: s.commune.department.name),
    ("Région", lambda s: s.commune.department.region.name),
    ("Population de la zone d'influence", lambda s: s.served_population),
    ("Type de territoire", lambda s: s.get_territory_type_display()),
    ("Taille du territoire", lambda s: s.get_territory_size_display()),
    ("Politique de la ville", lambda s: s.get_priority_area_status_display()),
    ("QPV", lambda s: ", ".join(a.code for a in s.priority_areas.all())),
    ("Fédération", lambda s: s.federation.name if s.federation else ""),
    ("Gens du voyage", lambda s: s.serves_travellers),
    ("Multi-sites", lambda s: s.multi_site),
    ("Itinérant", lambda s: s.itinerant),
    ("Axes du projet", lambda s: " | ".join(s.project_axes)),
    ("Premier agrément", lambda s: s.first_approval_date),
    ("Fin de l'agrément en cours", lambda s: s.approval_ends),
    ("Courriel", lambda s: s.email),
    ("Téléphone", lambda s: s.phone),
    ("Identifiant Cadre", lambda s: str(s.uuid)),
]


def export_rows(queryset):
    queryset = queryset.select_related("commune__department__region", "federation").prefetch_related("priority_areas")
    for structure in queryset.iterator(chunk_size=500):
        yield [getter(structure) for _, getter in COLUMNS]


HEADERS = [title for title, _ in COLUMNS]


def export_stamp(queryset):
    """What the export of `queryset` is made of, for `cached_file`: its structures in their order with
    their and their federation's last change, and the number and last change of their approvals and
    QPV links (a form saving a structure's QPV moves its `updated_at` too)."""
    rows = tuple(queryset.values_list("pk", "updated_at", "federation__updated_at"))
    chosen = queryset.order_by().values("pk")
    approvals = Approval.objects.filter(structure__in=chosen).aggregate(n=Count("pk"), latest=Max("updated_at"))
    areas = Structure.priority_areas.through.objects.filter(structure__in=chosen).count()
    return rows, approvals["n"], approvals["latest"], areas
