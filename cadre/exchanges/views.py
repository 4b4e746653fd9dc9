from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from cadre.core.exports import CSV_TYPE, XLSX_TYPE
from cadre.exchanges import permissions
from cadre.exchanges.actions import ImportRefused, apply_import, start_apply
from cadre.exchanges.forms import AnswerImportForm
from cadre.exchanges.models import AnswerImport
from cadre.exchanges.observatory import cached_export, export_codebook_csv
from cadre.observatory.models import Campaign

SHOWN_ERRORS = 200
CHANGES_PER_PAGE = 50


def _campaign(request, uuid):
    return get_object_or_404(Campaign.objects.visible_to(request.user).select_related("questionnaire"), uuid=uuid)


def _download(content, content_type, filename):
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
    return _download(cached_export(campaign, request.user, fmt), content_type, filename)


def campaign_codebook(request, uuid):
    campaign = _campaign(request, uuid)
    return _download(export_codebook_csv(campaign), CSV_TYPE, f"observatoire-{campaign.year}-codebook.csv")


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


def import_detail(request, uuid):
    """The import's state; while the worker checks or applies it, htmx asks again for the state
    fragment (same URL) until the work ends."""
    answer_import = _visible_import(request, uuid)
    campaign = answer_import.campaign
    report = answer_import.report
    errors = report.get("errors", [])
    template = "exchanges/_import_state.html" if request.htmx else "exchanges/import_detail.html"
    changes = report.get("changes", [])
    changes_page = Paginator(changes, CHANGES_PER_PAGE).get_page(request.GET.get("page"))
    return render(
        request,
        template,
        {
            "answer_import": answer_import,
            "campaign": campaign,
            "report": report,
            "errors": errors[:SHOWN_ERRORS],
            "hidden_errors": answer_import.error_count - min(len(errors), SHOWN_ERRORS),
            "warnings": report.get("warnings", [])[:SHOWN_ERRORS],
            "notes": report.get("notes", [])[:SHOWN_ERRORS],
            "page": changes_page,
            "unlisted_changes": max(report.get("changed", 0) - len(changes), 0),
            "can_apply": permissions.can_apply(request.user, answer_import),
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
