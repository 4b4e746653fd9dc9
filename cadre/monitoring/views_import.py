"""The accounts import pages: upload and dry run, the import's state, apply; the exchanges' import pages' parts."""

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from cadre.accounts.models import WRITE_ROLES
from cadre.core.exports import XLSX_TYPE
from cadre.exchanges.actions import ImportRefused
from cadre.exchanges.views import download, state_context
from cadre.monitoring import permissions, statement_file
from cadre.monitoring.actions import apply_statement_import, start_statement_apply
from cadre.monitoring.forms_import import StatementImportForm
from cadre.monitoring.models import StatementImport
from cadre.structures.models import Structure

STATEMENTS_TITLE = "Importer des comptes annuels"


def _statements_allowed(request):
    if not permissions.can_import_statements(request.user):
        raise PermissionDenied


def _statements_home(user):
    """Where the import page leads back: a structure's accounts for its own people, else the structures."""
    if not user.is_administrator:
        own = Structure.objects.filter(pk__in=user.structure_ids(WRITE_ROLES)).values_list("uuid", flat=True)[:2]
        if len(own) == 1:
            return reverse("monitoring:statements", args=[own[0]])
    return reverse("structures:list")


def _statements_breadcrumb(*items):
    return [("Structures", reverse("structures:list")), *items]


def statement_template(request):
    _statements_allowed(request)
    return download(statement_file.template_xlsx(), XLSX_TYPE, "modele-import-comptes-annuels.xlsx")


def statement_import(request):
    _statements_allowed(request)
    form = StatementImportForm(request.POST or None, request.FILES or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        statement_import = form.save()
        return redirect("monitoring:statement_import_detail", uuid=statement_import.uuid)
    imports = StatementImport.objects.visible_to(request.user).select_related("uploaded_by")
    return render(
        request,
        "monitoring/statement_import.html",
        {
            "columns": statement_file.COLUMNS,
            "form": form,
            "imports": imports.defer("content", "report", "pending")[:10],
            "cancel_url": _statements_home(request.user),
            "title": STATEMENTS_TITLE,
            "breadcrumb": _statements_breadcrumb((STATEMENTS_TITLE, None)),
        },
    )


def _visible_statement_import(request, uuid):
    imports = StatementImport.objects.visible_to(request.user).select_related("uploaded_by")
    return get_object_or_404(imports.defer("content", "pending"), uuid=uuid)


def statement_import_detail(request, uuid):
    """The import's state; while the worker works, htmx asks again for the state fragment (same URL)."""
    statement_import = _visible_statement_import(request, uuid)
    template = "monitoring/_statement_state.html" if request.htmx else "monitoring/statement_import_detail.html"
    return render(
        request,
        template,
        {
            **state_context(
                request,
                statement_import,
                reverse("monitoring:statement_import_detail", args=[statement_import.uuid]),
                reverse("monitoring:statement_import_apply", args=[statement_import.uuid]),
                reverse("monitoring:statement_import"),
                changed=statement_import.report.get("change_count", 0),
                can_apply=permissions.can_apply_statements(request.user, statement_import),
            ),
            "statement_import": statement_import,
            "title": f"Import du fichier {statement_import.file_name}",
            "breadcrumb": _statements_breadcrumb(
                (STATEMENTS_TITLE, reverse("monitoring:statement_import")), (statement_import.file_name, None)
            ),
        },
    )


@require_POST
def statement_import_apply(request, uuid):
    statement_import = _visible_statement_import(request, uuid)
    if statement_import.uploaded_by_id != request.user.pk:
        raise PermissionDenied
    try:
        if statement_import.row_count > settings.CADRE_REGISTRY_INLINE_MAX_ROWS:
            start_statement_apply(statement_import, actor=request.user)
            return redirect("monitoring:statement_import_detail", uuid=statement_import.uuid)
        applied = apply_statement_import(statement_import, actor=request.user)
    except ImportRefused as refused:
        messages.error(request, str(refused))
    else:
        created, updated = applied.created_count, applied.updated_count
        messages.success(
            request,
            f"L'import est appliqué : {created} création{'s' if created > 1 else ''}, "
            f"{updated} mise{'s' if updated > 1 else ''} à jour.",
        )
    return redirect("monitoring:statement_import_detail", uuid=statement_import.uuid)
