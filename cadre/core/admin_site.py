"""The technical administration (/admin-technique/), for administrators only."""

from django.contrib import admin
from django.contrib.admin.apps import AdminConfig


class CadreAdminSite(admin.AdminSite):
    site_header = "Cadre — administration technique"
    site_title = "Cadre"
    # The index already lists every model: a sidebar repeating the list on every admin page doubled its rendering.
    enable_nav_sidebar = False

    def get_app_list(self, request, app_label=None):
        """Built once per request: Django asks for it twice on the index (its page and `available_apps`),
        and each build reverses two addresses and checks four permissions for each of some eighty models."""
        if app_label is not None:
            return super().get_app_list(request, app_label)
        if not hasattr(request, "_cadre_app_list"):
            request._cadre_app_list = super().get_app_list(request)
        return request._cadre_app_list


class CadreAdminConfig(AdminConfig):
    default_site = "cadre.core.admin_site.CadreAdminSite"
