from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from cadre.core.exports import CSV_TYPE, XLSX_TYPE
from cadre.exchanges import permissions, registry
from cadre.exchanges.actions import (
    ImportRefused,
    apply_import,
    apply_registry_import,
    start_apply,
    start_registry_apply,
)
from cadre.exchanges.forms import AnswerImportForm, RegistryImportForm
from cadre.exchanges.models import AnswerImport, RegistryImport
from cadre.exchanges.observatory import cached_export, export_codebook_csv
from cadre.observatory.models import Campaign

SHOWN_ERRORS = 200
CHANGES_PER_PAGE = 50


def _campaign(request, uuid):
    return get_object_or_404(Campaign.objects.visible_to(request.user).select_related("questionnaire"), uuid=uuid)


def download(content, content_type, filename):
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _breadcrumb(campaign, *items):
    return [
        ("Observatoire", reverse("observatory:campaigns")),
        (campaign.title, reverse("observatory:campaign", args=[campaign.uuid])),
        *items,
    ]


def campaign_export(request, uuid, fmt):
    """The answers the user may see: rows are scoped by Submission.objects.visible_to."""
    campaign = _campaign(request, uuid)
    filename = f"observatoire-{campaign.year}-reponses.{fmt}"
    content_type = XLSX_TYPE if fmt == "xlsx" else CSV_TYPE
    return download(cached_export(campaign, request.user, fmt), content_type, filename)


def campaign_codebook(request, uuid):
    campaign = _campaign(request, uuid)
    return download(export_codebook_csv(campaign), CSV_TYPE, f"observatoire-{campaign.year}-codebook.csv")


def campaign_import(request, uuid):
    campaign = _campaign(request, uuid)
    if not permissions.can_import(request.user, campaign):
        raise PermissionDenied
    form = AnswerImportForm(request.POST or None, request.FILES or None, campaign=campaign, user=request.user)
    if request.method == "POST" and form.is_valid():
        answer_import = form.save()
        return redirect("exchanges:import_detail", uuid=answer_import.uuid)
    imports = AnswerImport.objects.visible_to(request.user).filter(campaign=campaign).select_related("uploaded_by")
    return render(
        request,
        "exchanges/campaign_import.html",
        {
            "campaign": campaign,
            "form": form,
            "imports": imports.defer("content", "report")[:10],
            "cancel_url": reverse("observatory:campaign", args=[campaign.uuid]),
            "title": f"Import et export des réponses — {campaign.title}",
            "breadcrumb": _breadcrumb(campaign, ("Import et export des réponses", None)),
        },
    )


def _visible_import(request, uuid):
    imports = AnswerImport.objects.visible_to(request.user).select_related("campaign", "uploaded_by")
    return get_object_or_404(imports.defer("content", "pending"), uuid=uuid)


def state_context(request, job, detail_url, apply_url, upload_url, *, changed, can_apply):
    """What the state of an import shows (exchanges/_state_base.html), answers or registry alike: its report,
    its first errors, a page of the changes it lists out of the `changed` it makes."""
    report = job.report
    errors, changes = report.get("errors", []), report.get("changes", [])
    return {
        "job": job,
        "report": report,
        "detail_url": detail_url,
        "apply_url": apply_url,
        "upload_url": upload_url,
        "errors": errors[:SHOWN_ERRORS],
        "hidden_errors": job.error_count - min(len(errors), SHOWN_ERRORS),
        "page": Paginator(changes, CHANGES_PER_PAGE).get_page(request.GET.get("page")),
        "unlisted_changes": max(changed - len(changes), 0),
        "can_apply": can_apply,
    }


def import_detail(request, uuid):
    """The import's state; while the worker checks or applies it, htmx asks again for the state
    fragment (same URL) until the work ends."""
    answer_import = _visible_import(request, uuid)
    campaign = answer_import.campaign
    report = answer_import.report
    template = "exchanges/_import_state.html" if request.htmx else "exchanges/import_detail.html"
    return render(
        request,
        template,
        {
            **state_context(
                request,
                answer_import,
                reverse("exchanges:import_detail", args=[answer_import.uuid]),
                reverse("exchanges:import_apply", args=[answer_import.uuid]),
                reverse("exchanges:campaign_import", args=[campaign.uuid]),
                changed=report.get("changed", 0),
                can_apply=permissions.can_apply(request.user, answer_import),
            ),
            "answer_import": answer_import,
            "campaign": campaign,
            "warnings": report.get("warnings", [])[:SHOWN_ERRORS],
            "notes": report.get("notes", [])[:SHOWN_ERRORS],
            "title": f"Import du fichier {answer_import.file_name}",
            "breadcrumb": _breadcrumb(
                campaign,
                ("Import et export des réponses", reverse("exchanges:campaign_import", args=[campaign.uuid])),
                (answer_import.file_name, None),
            ),
        },
    )


@require_POST
def import_apply(request, uuid):
    answer_import = _visible_import(request, uuid)
    if answer_import.uploaded_by_id != request.user.pk:
        raise PermissionDenied
    try:
        if answer_import.changed_count > settings.CADRE_IMPORT_INLINE_MAX_WRITES:
            start_apply(answer_import, actor=request.user)
            return redirect("exchanges:import_detail", uuid=answer_import.uuid)
        applied = apply_import(answer_import, actor=request.user)
    except ImportRefused as refused:
        messages.error(request, str(refused))
    else:
        messages.success(
            request,
            f"L'import est appliqué : {applied.changed_count} réponse{'s' if applied.changed_count > 1 else ''} "
            f"modifiée{'s' if applied.changed_count > 1 else ''}.",
        )
    return redirect("exchanges:import_detail", uuid=answer_import.uuid)


# -- the registry --------------------------------------------------------------------------------

REGISTRY_PAGES = {
    registry.STRUCTURES: {
        "title": "Importer des structures",
        "list": ("Structures", "structures:list"),
        "upload": "exchanges:registry_structures",
        "template": "exchanges:registry_structures_template",
        "file": "modele-import-structures.xlsx",
    },
    registry.PARTNERS: {
        "title": "Importer des partenaires",
        "list": ("Partenaires", "partners:list"),
        "upload": "exchanges:registry_partners",
        "template": "exchanges:registry_partners_template",
        "file": "modele-import-partenaires.xlsx",
    },
}


def _registry_breadcrumb(target, *items):
    label, name = REGISTRY_PAGES[target]["list"]
    return [(label, reverse(name)), *items]


def _registry_allowed(request, target):
    if not permissions.can_import_registry(request.user, target):
        raise PermissionDenied


def registry_template(request, target):
    _registry_allowed(request, target)
    return download(registry.template_xlsx(target), XLSX_TYPE, REGISTRY_PAGES[target]["file"])


def registry_import(request, target):
    _registry_allowed(request, target)
    form = RegistryImportForm(request.POST or None, request.FILES or None, target=target, user=request.user)
    if request.method == "POST" and form.is_valid():
        registry_import = form.save()
        return redirect("exchanges:registry_import_detail", uuid=registry_import.uuid)
    imports = RegistryImport.objects.visible_to(request.user).filter(target=target).select_related("uploaded_by")
    page = REGISTRY_PAGES[target]
    return render(
        request,
        "exchanges/registry_import.html",
        {
            "target": target,
            "page_info": page,
            "columns": registry.COLUMNS[target],
            "form": form,
            "imports": imports.defer("content", "report", "pending")[:10],
            "cancel_url": reverse(page["list"][1]),
            "title": page["title"],
            "breadcrumb": _registry_breadcrumb(target, (page["title"], None)),
        },
    )


def _visible_registry_import(request, uuid):
    imports = RegistryImport.objects.visible_to(request.user).select_related("uploaded_by")
    return get_object_or_404(imports.defer("content", "pending"), uuid=uuid)


def registry_import_detail(request, uuid):
    """The import's state; while the worker works, htmx asks again for the state fragment (same URL)."""
    registry_import = _visible_registry_import(request, uuid)
    page = REGISTRY_PAGES[registry_import.target]
    template = "exchanges/_registry_state.html" if request.htmx else "exchanges/registry_import_detail.html"
    return render(
        request,
        template,
        {
            **state_context(
                request,
                registry_import,
                reverse("exchanges:registry_import_detail", args=[registry_import.uuid]),
                reverse("exchanges:registry_import_apply", args=[registry_import.uuid]),
                reverse(page["upload"]),
                changed=registry_import.report.get("change_count", 0),
                can_apply=permissions.can_apply_registry(request.user, registry_import),
            ),
            "registry_import": registry_import,
            "page_info": page,
            "title": f"Import du fichier {registry_import.file_name}",
            "breadcrumb": _registry_breadcrumb(
                registry_import.target,
                (page["title"], reverse(page["upload"])),
                (registry_import.file_name, None),
            ),
        },
    )


@require_POST
def registry_import_apply(request, uuid):
    registry_import = _visible_registry_import(request, uuid)
    if registry_import.uploaded_by_id != request.user.pk:
        raise PermissionDenied
    try:
        if registry_import.row_count > settings.CADRE_REGISTRY_INLINE_MAX_ROWS:
            start_registry_apply(registry_import, actor=request.user)
            return redirect("exchanges:registry_import_detail", uuid=registry_import.uuid)
        applied = apply_registry_import(registry_import, actor=request.user)
    except ImportRefused as refused:
        messages.error(request, str(refused))
    else:
        created, updated = applied.created_count, applied.updated_count
        messages.success(
            request,
            f"L'import est appliqué : {created} création{'s' if created > 1 else ''}, "
            f"{updated} mise{'s' if updated > 1 else ''} à jour.",
        )
    return redirect("exchanges:registry_import_detail", uuid=registry_import.uuid)
