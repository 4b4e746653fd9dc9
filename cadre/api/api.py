"""REST API v1: /api/v1/, OpenAPI document at /api/v1/openapi.json, docs at /api/v1/docs."""

import json

from django.contrib.auth.decorators import login_not_required
from django.http import JsonResponse
from django.shortcuts import render
from django.urls import URLPattern, URLResolver, path, reverse
from ninja import NinjaAPI, Swagger
from ninja.openapi.docs import _csrf_needed

from cadre.accounts.middleware import two_factor_exempt
from cadre.api import cases, funding, indicators, monitoring, observatory, partners, structures, territories
from cadre.api.auth import DEFAULT_AUTH
from cadre.api.errors import install_handlers


def exempt_from_login_redirect(patterns):
    """LoginRequiredMiddleware would send API callers to the login page, and TwoFactorMiddleware to the code
    page; ninja's auth answers 401 instead (see cadre.api.auth)."""
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            exempt_from_login_redirect(pattern.url_patterns)
        elif isinstance(pattern, URLPattern):
            two_factor_exempt(login_not_required(pattern.callback))
    return patterns


class CadreDocs(Swagger):
    """Swagger inside the site's layout (header, breadcrumb, footer), with a way back."""

    template = "api/docs.html"

    def render_page(self, request, api, **kwargs):
        self.settings["url"] = self.get_openapi_url(api, kwargs)
        context = {
            "swagger_settings": json.dumps(self.settings, indent=1),
            "api": api,
            "add_csrf": _csrf_needed(api),
            "openapi_url": self.settings["url"],
            "title": "Documentation de l’API",
            "breadcrumb": [("Documentation de l’API", None)],
        }
        return render(request, self.template, context)


class CadreAPI(NinjaAPI):
    def get_openapi_schema(self, *, path_prefix=None, path_params=None):
        """The document depends only on the code: built once per process and root path, not per request
        (building it walks every operation and schema, about 300 ms)."""
        if path_prefix is None:
            path_prefix = self.get_root_path(path_params or {})
        cache = self.__dict__.setdefault("_openapi_schemas", {})
        if path_prefix not in cache:
            cache[path_prefix] = super().get_openapi_schema(path_prefix=path_prefix)
        return cache[path_prefix]

    def _get_urls(self):
        urls = [self.index_url() if getattr(p, "name", None) == "api-root" else p for p in super()._get_urls()]
        return exempt_from_login_redirect(urls)

    def index_url(self):
        """/api/v1/ answers where the documentation is (ninja's own root view is a bare 404)."""

        def index(request):
            return JsonResponse(
                {
                    "title": self.title,
                    "version": self.version,
                    "documentation": reverse(f"{self.urls_namespace}:openapi-view"),
                    "openapi": reverse(f"{self.urls_namespace}:openapi-json"),
                },
                json_dumps_params={"ensure_ascii": False},
            )

        return path("", index, name="api-root")


api = CadreAPI(
    title="API Cadre",
    version="1.0.0",
    description=(
        "API de Cadre : territoires, structures, partenaires, observatoire (campagnes, saisies, réponses), "
        "indicateurs, conventions et financements. Les territoires et les indicateurs publiés (sous secret "
        "statistique) sont publics ; le reste demande un jeton (`Authorization: Bearer <jeton>`, créé sur la "
        "page « Mon compte ») ou une session ouverte. "
        "Chacun ne voit et ne modifie que ce que lui permettent les pages web. Voir docs/api.md."
    ),
    urls_namespace="api-1.0.0",
    auth=DEFAULT_AUTH,
    docs=CadreDocs(),
)
install_handlers(api)
api.add_router("", territories.router)
api.add_router("/structures", structures.router)
api.add_router("/partners", partners.router)
api.add_router("", observatory.router)
api.add_router("", indicators.router)
api.add_router("", funding.router)
api.add_router("", monitoring.router)
api.add_router("", cases.router)
