"""REST API v1: /api/v1/, OpenAPI document at /api/v1/openapi.json, docs at /api/v1/docs."""

from ninja import NinjaAPI

api = NinjaAPI(
    title="API Cadre",
    version="1.0.0",
    description="API de Cadre : territoires, structures et partenaires.",
    urls_namespace="api-1.0.0",
)
