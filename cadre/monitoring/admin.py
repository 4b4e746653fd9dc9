from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from cadre.monitoring.models import AlertRule, FinancialStatement


@admin.register(FinancialStatement)
class FinancialStatementAdmin(SimpleHistoryAdmin):
    list_display = ["structure", "year", "status"]
    list_filter = ["status", "year"]
    search_fields = ["structure__name"]
    raw_id_fields = ["structure"]


@admin.register(AlertRule)
class AlertRuleAdmin(SimpleHistoryAdmin):
    list_display = ["name", "signal", "comparison", "threshold", "consecutive_years", "severity", "active"]
    list_filter = ["severity", "active", "signal"]
