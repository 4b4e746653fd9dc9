from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from cadre.monitoring.models import FinancialStatement


@admin.register(FinancialStatement)
class FinancialStatementAdmin(SimpleHistoryAdmin):
    list_display = ["structure", "year", "status"]
    list_filter = ["status", "year"]
    search_fields = ["structure__name"]
    raw_id_fields = ["structure"]
