from django.contrib import admin

from .models import AnswerImport


@admin.register(AnswerImport)
class AnswerImportAdmin(admin.ModelAdmin):
    """Read only: an import is made and applied from its pages, with the checks."""

    list_display = ["file_name", "campaign", "status", "uploaded_by", "uploaded_at", "changed_count", "error_count"]
    list_filter = ["status", "campaign"]
    exclude = ["content"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
