from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from .models import Approval, Structure, StructureContact


class ApprovalInline(admin.TabularInline):
    model = Approval
    extra = 0


class ContactInline(admin.TabularInline):
    model = StructureContact
    extra = 0


@admin.register(Structure)
class StructureAdmin(SimpleHistoryAdmin):
    list_display = ["name", "kind", "commune", "management"]
    list_filter = ["kind", "management", "priority_area_status"]
    search_fields = ["name", "siret"]
    raw_id_fields = ["commune", "federation"]
    filter_horizontal = ["priority_areas"]
    inlines = [ApprovalInline, ContactInline]
