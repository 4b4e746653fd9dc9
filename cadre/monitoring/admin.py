from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from cadre.monitoring.models import (
    AlertAcknowledgement,
    AlertRule,
    AlertSubscription,
    FinancialStatement,
    StatementImport,
)


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


@admin.register(AlertAcknowledgement)
class AlertAcknowledgementAdmin(admin.ModelAdmin):
    """Read only: an acknowledgement is part of the alert's history."""

    list_display = ["structure", "year", "level", "acknowledged_by", "acknowledged_at"]
    list_filter = ["level", "year"]
    search_fields = ["structure__name", "comment"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(AlertSubscription)
class AlertSubscriptionAdmin(admin.ModelAdmin):
    list_display = ["user", "structure", "created_at"]
    raw_id_fields = ["user", "structure"]


@admin.register(StatementImport)
class StatementImportAdmin(admin.ModelAdmin):
    """Read only, as the other imports."""

    list_display = ["file_name", "status", "uploaded_by", "uploaded_at", "created_count", "updated_count"]
    list_filter = ["status"]
    exclude = ["content", "pending"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
