from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from .models import Partner, PartnerContact


class ContactInline(admin.TabularInline):
    model = PartnerContact
    extra = 0


@admin.register(Partner)
class PartnerAdmin(SimpleHistoryAdmin):
    list_display = ["name", "kind"]
    list_filter = ["kind"]
    search_fields = ["name"]
    filter_horizontal = ["departments"]
    raw_id_fields = ["communes"]
    inlines = [ContactInline]
