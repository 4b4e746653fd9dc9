from django.contrib import admin

from .models import Commune, Department, Epci, PriorityArea, Region

admin.site.register(Region)


@admin.register(Department)
class DepartmentAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "region"]


@admin.register(Epci)
class EpciAdmin(admin.ModelAdmin):
    list_display = ["siren", "name", "kind"]
    search_fields = ["name", "siren"]


@admin.register(Commune)
class CommuneAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "department", "population"]
    search_fields = ["name", "code", "postal_codes"]
    list_select_related = ["department"]
    raw_id_fields = ["epci", "parent"]


@admin.register(PriorityArea)
class PriorityAreaAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "department"]
    search_fields = ["name", "code"]
    filter_horizontal = ["communes"]
