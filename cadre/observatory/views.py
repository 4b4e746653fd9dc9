from django.contrib import messages
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_POST

from cadre.core.pagination import paginate
from cadre.exchanges import permissions as exchange_permissions
from cadre.observatory import actions, permissions
from cadre.observatory.dashboard import dashboard
from cadre.observatory.entry import definition
from cadre.observatory.forms import CampaignForm, CorrespondentForm
from cadre.observatory.models import (
    TO_REVIEW_STATUSES,
    Campaign,
    Questionnaire,
    RuleLevel,
    Submission,
    SubmissionStatus,
)

# A campaign has one or two correspondants per département: about 200 at national scale.
CORRESPONDENTS_PER_PAGE = 50
BODY_CACHE_SECONDS = 24 * 3600


def questionnaire_list(request):
    questionnaires = Questionnaire.objects.visible_to(request.user).annotate(
        question_count=Count("questions", distinct=True), campaign_count=Count("campaigns", distinct=True)
    )
    return render(
        request,
        "observatory/questionnaire_list.html",
        {
            "questionnaires": questionnaires,
            "title": "Questionnaires de l'observatoire",
            "breadcrumb": [("Questionnaires", None)],
        },
    )


def questionnaire_detail(request, uuid):
    questionnaire = get_object_or_404(Questionnaire.objects.visible_to(request.user), uuid=uuid)
    sections, questions, rules = definition(questionnaire)
    return render(
        request,
        "observatory/questionnaire_detail.html",
        {
            "questionnaire": questionnaire,
            "section_count": len(sections),
            "question_count": len(questions),
            "rule_count": len(rules),
            "body": _questionnaire_body(questionnaire),
            "campaigns": questionnaire.campaigns.all(),
            "title": str(questionnaire),
            "breadcrumb": [("Questionnaires", reverse("observatory:questionnaires")), (str(questionnaire), None)],
        },
    )


def _questionnaire_body(questionnaire):
    """Its sections, questions and rules rendered: about 130 rows, kept in the cache under the same key as
    `definition` (a loaded version never changes in place)."""
    key = f"cadre:questionnaire-body:{questionnaire.pk}:{questionnaire.digest}:{questionnaire.loaded_at.isoformat()}"
    body = cache.get(key)
    if body is None:
        sections, questions, rules = definition(questionnaire)
        body = render_to_string(
            "observatory/_questionnaire_body.html",
            {
                "sections": [(s, [q for q in questions if q.section_id == s.pk]) for s in sections],
                "rules": rules,
                "error_level": RuleLevel.ERROR,
            },
        )
        cache.set(key, str(body), BODY_CACHE_SECONDS)
    return mark_safe(body)  # our own template rendered it (escaped)


# -- campaigns -----------------------------------------------------------------------------------


def _campaign_breadcrumb(campaign=None, *more):
    crumbs = [("Observatoire", reverse("observatory:campaigns"))]
    if campaign is not None:
        crumbs.append((campaign.title, reverse("observatory:campaign", args=[campaign.uuid])))
    return [*crumbs, *more]


def campaign_list(request):
    today = timezone.localdate()
    visible = Submission.objects.visible_to(request.user)
    campaigns = list(Campaign.objects.visible_to(request.user).select_related("questionnaire"))
    # Counted apart, by campaign: grouped with the campaigns' (and questionnaires') columns, PostgreSQL
    # sorted every submission with them, on disk at national scale.
    counts = {
        row["campaign_id"]: row
        for row in visible.values("campaign_id")
        .annotate(
            total=Count("pk"),
            sent=Count("pk", filter=Q(status__in=TO_REVIEW_STATUSES)),
            validated=Count("pk", filter=Q(status=SubmissionStatus.VALIDATED)),
        )
        .order_by()
    }
    own = {}
    structure_ids = request.user.structure_ids()
    if structure_ids:
        for submission in visible.filter(structure_id__in=structure_ids).select_related("structure"):
            own.setdefault(submission.campaign_id, []).append(submission)
    for campaign in campaigns:
        found = counts.get(campaign.pk, {})
        campaign.total, campaign.sent, campaign.validated = (found.get(k, 0) for k in ("total", "sent", "validated"))
        campaign.current_phase = campaign.phase(today)
        campaign.own_submissions = own.get(campaign.pk, [])
    return render(
        request,
        "observatory/campaign_list.html",
        {
            "campaigns": campaigns,
            "can_manage": permissions.can_manage_campaigns(request.user),
            "title": "Observatoire : campagnes annuelles",
            "breadcrumb": [("Observatoire", None)],
        },
    )


def _require_manager(request):
    if not permissions.can_manage_campaigns(request.user):
        raise PermissionDenied


def campaign_create(request):
    _require_manager(request)
    form = CampaignForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        campaign = form.save()
        messages.success(
            request, f"La campagne « {campaign} » est créée. Choisissez ses correspondants puis ouvrez-la."
        )
        return redirect("observatory:campaign", uuid=campaign.uuid)
    return render(
        request,
        "observatory/campaign_form.html",
        {
            "form": form,
            "cancel_url": reverse("observatory:campaigns"),
            "title": "Nouvelle campagne",
            "breadcrumb": _campaign_breadcrumb(None, ("Nouvelle campagne", None)),
        },
    )


def _campaign(request, uuid):
    return get_object_or_404(Campaign.objects.visible_to(request.user).select_related("questionnaire"), uuid=uuid)


def campaign_edit(request, uuid):
    campaign = _campaign(request, uuid)
    _require_manager(request)
    form = CampaignForm(request.POST or None, instance=campaign)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, "La campagne a été modifiée.")
        return redirect("observatory:campaign", uuid=campaign.uuid)
    return render(
        request,
        "observatory/campaign_form.html",
        {
            "form": form,
            "campaign": campaign,
            "cancel_url": reverse("observatory:campaign", args=[campaign.uuid]),
            "title": f"Modifier {campaign.title}",
            "breadcrumb": _campaign_breadcrumb(campaign, ("Modifier", None)),
        },
    )


def campaign_correspondents(request, uuid):
    campaign = _campaign(request, uuid)
    _require_manager(request)
    form = CorrespondentForm(request.POST or None, campaign=campaign)
    if request.method == "POST":
        if "defaults" in request.POST:
            added = actions.assign_default_correspondents(campaign)
            messages.success(
                request, f"{added} correspondant{'s' if added > 1 else ''} ajouté{'s' if added > 1 else ''}."
            )
            return redirect("observatory:campaign_correspondents", uuid=campaign.uuid)
        if "remove" in request.POST:
            campaign.correspondents.filter(pk=request.POST.get("remove")).delete()
            messages.success(request, "Le correspondant a été retiré.")
            return redirect("observatory:campaign_correspondents", uuid=campaign.uuid)
        if form.is_valid():
            correspondent = form.save()
            messages.success(
                request, f"{correspondent.user.display_name} est correspondant pour {correspondent.department}."
            )
            return redirect("observatory:campaign_correspondents", uuid=campaign.uuid)
    correspondents = campaign.correspondents.select_related("user", "department").order_by(
        "department", "user__last_name", "pk"
    )
    return render(
        request,
        "observatory/campaign_correspondents.html",
        {
            "campaign": campaign,
            "form": form,
            "page": paginate(correspondents, request.GET.get("page"), CORRESPONDENTS_PER_PAGE),
            "cancel_url": reverse("observatory:campaign", args=[campaign.uuid]),
            "title": f"Correspondants — {campaign.title}",
            "breadcrumb": _campaign_breadcrumb(campaign, ("Correspondants", None)),
        },
    )


@require_POST
def campaign_open(request, uuid):
    campaign = _campaign(request, uuid)
    _require_manager(request)
    try:
        submissions = actions.open_campaign(campaign, actor=request.user)
    except actions.CampaignAlreadyOpen as error:
        messages.error(request, str(error))
    else:
        if not campaign.correspondents.exists():
            actions.assign_default_correspondents(campaign)
        messages.success(
            request,
            f"La campagne est ouverte : {len(submissions)} questionnaires créés, les structures sont prévenues "
            "par courriel.",
        )
    return redirect("observatory:campaign", uuid=campaign.uuid)


def campaign_detail(request, uuid):
    campaign = _campaign(request, uuid)
    can_manage = permissions.can_manage_campaigns(request.user)
    can_remind = permissions.can_remind(request.user, campaign) and campaign.opened_at is not None
    figures = dashboard(request.user, campaign, request.GET.get("departement"), can_remind)
    return render(
        request,
        "observatory/campaign_detail.html",
        {
            "campaign": campaign,
            "phase": campaign.phase(timezone.localdate()),
            **figures,
            "can_manage": can_manage,
            "can_remind": can_remind,
            "can_import": exchange_permissions.can_import(request.user, campaign),
            # Shown on the managers' button only.
            "correspondent_count": campaign.correspondents.count() if can_manage else None,
            "title": campaign.title,
            "breadcrumb": _campaign_breadcrumb(None, (campaign.title, None)),
        },
    )


@require_POST
def campaign_remind(request, uuid):
    campaign = _campaign(request, uuid)
    if not permissions.can_remind(request.user, campaign):
        raise PermissionDenied
    submissions = Submission.objects.reviewable_by(request.user).filter(campaign=campaign)
    if request.POST.get("submission"):
        submissions = submissions.filter(uuid=request.POST["submission"])
    elif request.POST.get("departement"):
        submissions = submissions.filter(structure__commune__department_id=request.POST["departement"])
    reminded, sent = actions.send_reminders(campaign, submissions, actor=request.user)
    if reminded:
        messages.success(
            request,
            f"{reminded} structure{'s' if reminded > 1 else ''} relancée{'s' if reminded > 1 else ''} "
            f"({sent} courriel{'s' if sent > 1 else ''}).",
        )
    else:
        messages.info(request, "Aucune structure à relancer : toutes ont envoyé leur questionnaire.")
    back = reverse("observatory:campaign", args=[campaign.uuid])
    wanted = request.POST.get("next", "")
    # Back to the dashboard as it was filtered; never to another site.
    return redirect(wanted if wanted.startswith(back) else back)
