"""Columns of the structure list export (CSV and XLSX)."""

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
