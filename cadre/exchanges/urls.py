from django.urls import path, register_converter

from . import views


class SheetFormat:
    regex = "csv|xlsx"

    def to_python(self, value):
        return value

    def to_url(self, value):
        return value


register_converter(SheetFormat, "sheet_format")

app_name = "exchanges"

urlpatterns = [
    path("campagnes/<uuid:uuid>/reponses.<sheet_format:fmt>", views.campaign_export, name="campaign_export"),
    path("campagnes/<uuid:uuid>/codebook.csv", views.campaign_codebook, name="campaign_codebook"),
    path("campagnes/<uuid:uuid>/import/", views.campaign_import, name="campaign_import"),
    path("imports/<uuid:uuid>/", views.import_detail, name="import_detail"),
    path("imports/<uuid:uuid>/appliquer/", views.import_apply, name="import_apply"),
    path(
        "repertoire/structures/",
        views.registry_import,
        {"target": "structures"},
        name="registry_structures",
    ),
    path(
        "repertoire/structures/modele.xlsx",
        views.registry_template,
        {"target": "structures"},
        name="registry_structures_template",
    ),
    path("repertoire/partenaires/", views.registry_import, {"target": "partners"}, name="registry_partners"),
    path(
        "repertoire/partenaires/modele.xlsx",
        views.registry_template,
        {"target": "partners"},
        name="registry_partners_template",
    ),
    path("repertoire/imports/<uuid:uuid>/", views.registry_import_detail, name="registry_import_detail"),
    path("repertoire/imports/<uuid:uuid>/appliquer/", views.registry_import_apply, name="registry_import_apply"),
]
