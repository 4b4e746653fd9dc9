from django.contrib import admin

from .models import AnswerImport, RegistryImport


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


@admin.register(RegistryImport)
class RegistryImportAdmin(admin.ModelAdmin):
    """Read only, as the answer imports."""

    list_display = ["file_name", "target", "status", "uploaded_by", "uploaded_at", "created_count", "updated_count"]
    list_filter = ["status", "target"]
    exclude = ["content", "pending"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
