from django.contrib import admin
from django.urls import include, path

from cadre.api.api import api

urlpatterns = [
    path("", include("cadre.core.urls")),
    path("compte/", include("cadre.accounts.urls")),
    path("territoires/", include("cadre.territories.urls")),
    path("partenaires/", include("cadre.partners.urls")),
    path("structures/", include("cadre.structures.urls")),
    path("conventions/", include("cadre.agreements.urls")),
    path("financements/", include("cadre.funding.urls")),
    path("observatoire/", include("cadre.observatory.urls")),
    path("echanges/", include("cadre.exchanges.urls")),
    path("indicateurs/definitions/", include("cadre.indicators.definition_urls")),
    path("indicateurs/", include("cadre.indicators.urls")),
    path("donnees-ouvertes/", include("cadre.indicators.public_urls")),
    path("annuaire/", include("cadre.structures.directory_urls")),
    path("prevention/", include("cadre.monitoring.urls")),
    path("api/v1/", api.urls),
    path("admin-technique/", admin.site.urls),
]

handler404 = "cadre.core.views.not_found"
handler403 = "cadre.core.views.forbidden"
