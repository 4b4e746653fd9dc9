"""Pages of difficulty reports and support cases. Everything read goes through the querysets' `visible_to`
(case_models.py): a note, a document, an action or a timeline step of a circle the user is not in is never
read, so it cannot show."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import Exists, OuterRef
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from cadre.agreements.models import Committee
from cadre.core.models import ConcurrentEditError
from cadre.core.uploads import stored_file_response
from cadre.monitoring import actions, permissions_cases
from cadre.monitoring.alert_models import HealthLevel, HealthStatus
from cadre.monitoring.case_models import (
    CASE_STATUS_ORDER,
    CaseAction,
    CaseDocument,
    CaseEvent,
    CaseStatus,
    Circle,
    DifficultyReport,
    RecoveryPlan,
    ReportAttachment,
    SupportCase,
)
from cadre.monitoring.forms_cases import (
    ActionEditForm,
    ActionForm,
    CaseDocumentForm,
    CaseOpenForm,
    LinkForm,
    MilestoneForm,
    NoteForm,
    PlanForm,
    ReportForm,
    StatusForm,
    TargetForm,
)
from cadre.monitoring.models import FinancialStatement
from cadre.monitoring.ratios import RATIOS, ratios_of
from cadre.structures.models import Structure


def _structure(request, uuid):
    return get_object_or_404(Structure.objects.visible_to(request.user), uuid=uuid)


def _structure_crumbs(structure, *more):
    return [
        ("Structures", reverse("structures:list")),
        (structure.name, reverse("structures:detail", args=[structure.uuid])),
        *more,
    ]


# -- Difficulty reports -------------------------------------------------------------------------------------


def reports(request, uuid):
    structure = _structure(request, uuid)
    found = DifficultyReport.objects.visible_to(request.user).filter(structure=structure).select_related("reported_by")
    context = {
        "structure": structure,
        "reports": found,
        "can_report": permissions_cases.can_report(request.user, structure),
        "title": f"Signalements de difficulté : {structure.name}",
        "breadcrumb": _structure_crumbs(structure, ("Signalements", None)),
    }
    return render(request, "monitoring/reports.html", context)


def report_create(request, uuid):
    structure = _structure(request, uuid)
    if not permissions_cases.can_report(request.user, structure):
        raise PermissionDenied
    form = ReportForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        report = actions.report_difficulty(
            structure,
            actor=request.user,
            category=form.cleaned_data["category"],
            description=form.cleaned_data["description"],
            urgency=form.cleaned_data["urgency"],
            files=form.checked,
        )
        messages.success(
            request,
            "Votre signalement est envoyé aux partenaires qui financent la structure et à sa fédération.",
        )
        return redirect("monitoring:report", uuid=report.uuid)
    context = {
        "form": form,
        "structure": structure,
        "title": "Signaler une difficulté",
        "intro": "Le signalement est envoyé aussitôt aux partenaires qui financent la structure et à sa fédération.",
        "submit_label": "Envoyer le signalement",
        "cancel_url": reverse("structures:detail", args=[structure.uuid]),
        "breadcrumb": _structure_crumbs(
            structure,
            ("Signalements", reverse("monitoring:reports", args=[structure.uuid])),
            ("Signaler une difficulté", None),
        ),
    }
    return render(request, "monitoring/report_form.html", context)


def report_detail(request, uuid):
    report = get_object_or_404(
        DifficultyReport.objects.visible_to(request.user).select_related("structure", "reported_by"), uuid=uuid
    )
    cases = SupportCase.objects.visible_to(request.user).filter(report=report)
    context = {
        "report": report,
        "structure": report.structure,
        "attachments": report.attachments.defer("content"),
        "notified": report.notified.order_by("name"),
        "cases": cases,
        "can_open_case": permissions_cases.can_open_case(request.user),
        "title": f"Signalement du {timezone.localtime(report.created_at):%d/%m/%Y} : {report.structure.name}",
        "breadcrumb": _structure_crumbs(
            report.structure,
            ("Signalements", reverse("monitoring:reports", args=[report.structure.uuid])),
            (f"Signalement du {timezone.localtime(report.created_at):%d/%m/%Y}", None),
        ),
    }
    return render(request, "monitoring/report.html", context)


def report_attachment(request, uuid):
    attachment = get_object_or_404(
        ReportAttachment.objects.filter(report__in=DifficultyReport.objects.visible_to(request.user)), uuid=uuid
    )
    return stored_file_response(attachment)


# -- Support cases ------------------------------------------------------------------------------------------


def cases(request):
    """The cases the user sees, open ones first."""
    show = request.GET.get("etat", "ouverts")
    found = SupportCase.objects.visible_to(request.user).select_related("structure", "committee", "lead")
    if show == "ouverts":
        found = found.open()
    elif show == "clos":
        found = found.filter(status=CaseStatus.CLOSED)
    context = {
        "cases": found.order_by("-opened_on", "-pk"),
        "show": show,
        "filters": [("ouverts", "En cours"), ("clos", "Clos"), ("tous", "Tous")],
        "can_open_case": permissions_cases.can_open_case(request.user),
        "title": "Dossiers d'accompagnement",
        "breadcrumb": [("Dossiers d'accompagnement", None)],
    }
    return render(request, "monitoring/cases.html", context)


def case_create(request):
    """Open a case on a structure (?structure=), from one of its reports (?signalement=) or its latest alert
    (?alerte=1), or by hand."""
    bodies = permissions_cases.support_bodies(request.user)
    if not bodies:  # read once: the form offers them
        raise PermissionDenied
    structure_uuid = request.GET.get("structure") or request.POST.get("structure")
    report = health = None
    report_uuid = request.GET.get("signalement")
    if report_uuid:
        report = get_object_or_404(DifficultyReport.objects.visible_to(request.user), uuid=report_uuid)
        structure_uuid = str(report.structure.uuid)
    if not structure_uuid:
        raise Http404("Choisissez la structure depuis sa page.")
    try:
        structure = get_object_or_404(
            Structure.objects.visible_to(request.user).select_related("commune"), uuid=structure_uuid
        )
    except Exception as error:  # a malformed identifier
        raise Http404 from error
    if request.GET.get("alerte"):
        # The latest year that is not green: the alert the case answers.
        statuses = HealthStatus.objects.visible_to(request.user).filter(structure=structure).order_by("-year")
        health = statuses.exclude(level=HealthLevel.GREEN).first() or statuses.first()
    told = (
        list(report.notified.values_list("pk", flat=True))
        if report
        else actions.partners_told(structure, timezone.localdate().year)
    )
    default_title = (
        f"Signalement : {report.get_category_display().lower()}"
        if report
        else (f"Alerte {health.year} : {health.get_level_display()}" if health else "")
    )
    form = CaseOpenForm(
        request.POST or None, structure=structure, bodies=bodies, told=told, initial={"title": default_title}
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        case = actions.open_case(
            structure,
            committee=data["committee"],
            actor=request.user,
            title=data["title"],
            report=report,
            health_status=health,
            lead=data["lead"],
            lead_person=data["lead_person"],
            members=list(data["members"].values_list("pk", flat=True)),
        )
        messages.success(request, "Le dossier d'accompagnement est ouvert.")
        return redirect("monitoring:case", uuid=case.uuid)
    context = {
        "form": form,
        "structure": structure,
        "report": report,
        "health": health,
        "title": f"Ouvrir un dossier d'accompagnement : {structure.name}",
        "submit_label": "Ouvrir le dossier",
        "cancel_url": reverse("structures:detail", args=[structure.uuid]),
        "breadcrumb": [("Dossiers d'accompagnement", reverse("monitoring:cases")), ("Ouvrir un dossier", None)],
    }
    return render(request, "monitoring/case_form.html", context)


def _case(request, uuid):
    # `linked`: whether the case has meetings or decisions, so that a case without any (most) does not look.
    linked = Exists(SupportCase.meetings.through.objects.filter(supportcase=OuterRef("pk"))) | Exists(
        SupportCase.decisions.through.objects.filter(supportcase=OuterRef("pk"))
    )
    found = (
        SupportCase.objects.visible_to(request.user)
        .select_related("structure", "committee", "lead", "report", "plan")
        .annotate(linked=linked)
    )
    return get_object_or_404(found, uuid=uuid)


def _plan_of(case):
    """The case's recovery plan, read with the case (_case), or None."""
    try:
        return case.plan
    except RecoveryPlan.DoesNotExist:
        return None


def _targets(case, plan):
    """[(target, actual or None, reached or None)] against the structure's accepted statements."""
    if plan is None:
        return []
    statements = list(FinancialStatement.objects.filter(structure=case.structure).accepted().order_by("ends_on"))
    by_ratio = {ratio.code: ratio for ratio in RATIOS}
    values = {}
    for index, statement in enumerate(statements):
        values[statement.year] = ratios_of(statement, statements[: index + 1])
    rows = []
    for target in plan.targets.all():
        actual = values.get(target.year, {}).get(target.ratio)
        rows.append((target, by_ratio.get(target.ratio), actual, target.reached(actual)))
    return rows


def case_detail(request, uuid, bound=None, status=200):
    case = _case(request, uuid)
    return _case_page(request, case, bound or {}, status)


def _case_page(request, case, bound, status=200):
    """The case's summary and timeline. Its forms are not built here (issue 18: they cost the page most of its
    queries and time): a link opens each one, in place with htmx or on its own page without JavaScript
    (_case_form); a form sent back with errors (`bound`) shows here, open, with its messages."""
    user = request.user
    can_manage = permissions_cases.can_manage_case(user, case)
    today = timezone.localdate()
    visible_committees = Committee.objects.visible_to(user)
    plan = _plan_of(case)
    actions_list = list(CaseAction.objects.visible_to(user).filter(case=case).select_related("owner"))
    for action in actions_list:
        action.case = case  # read already, with its structure
        action.late = action.is_late(today)
        action.can_complete = permissions_cases.can_complete_action(user, action)
        action.can_edit = can_manage
    context = {
        "case": case,
        "structure": case.structure,
        "steps": [
            (CaseStatus(s), index <= CASE_STATUS_ORDER.index(case.status)) for index, s in enumerate(CASE_STATUS_ORDER)
        ],
        "members": case.members.order_by("name"),
        "report": DifficultyReport.objects.visible_to(user).filter(pk=case.report_id).first()
        if case.report_id
        else None,
        "events": CaseEvent.objects.visible_to(user).filter(case=case).select_related("actor", "note"),
        "documents": CaseDocument.objects.visible_to(user).filter(case=case).defer("content"),
        "actions": actions_list,
        "meetings": case.meetings.filter(committee__in=visible_committees).select_related("committee")
        if case.linked
        else [],
        "decisions": case.decisions.filter(meeting__committee__in=visible_committees).select_related("meeting")
        if case.linked
        else [],
        "plan": plan,
        "milestones": plan.milestones.all() if plan else [],
        "targets": _targets(case, plan),
        "can_manage": can_manage,
        "can_write": permissions_cases.can_write(user, case),
        "forms": {kind: _form_context(case, kind, bound.get(kind)) for kind in CASE_FORMS},
        "today": today,
        "title": f"Dossier d'accompagnement : {case.structure.name}",
        "breadcrumb": [("Dossiers d'accompagnement", reverse("monitoring:cases")), (case.structure.name, None)],
    }
    return render(request, "monitoring/case.html", context, status=status)


# The forms of the case page, by kind: (the URL that shows and takes it, the link that opens it, its button).
CASE_FORMS = {
    "status": ("monitoring:case_status", "Changer l’état du dossier", "Changer l’état"),
    "action": ("monitoring:case_action", "Ajouter une action", "Ajouter l’action"),
    "note": ("monitoring:case_note", "Ajouter une note", "Ajouter la note"),
    "document": ("monitoring:case_document", "Déposer un document", "Déposer"),
    "link": ("monitoring:case_link", "Lier une réunion ou une décision", "Lier"),
}


def _form_context(case, kind, form):
    url_name, heading, submit_label = CASE_FORMS[kind]
    url = reverse(url_name, args=[case.uuid])
    if kind == "status":  # the state seen on the page: changed meanwhile, the form is refused (409-like message)
        url += f"?version={case.version}"
    return {"form": form, "url": url, "heading": heading, "submit_label": submit_label}


def _case_form(request, case, kind, form):
    """One form of the case page, asked for by its link: the fragment htmx puts in place, or a page of its own."""
    context = {
        **_form_context(case, kind, form),
        "case": case,
        "structure": case.structure,
        "title": f"{CASE_FORMS[kind][1]} : {case.structure.name}",
        "breadcrumb": [
            ("Dossiers d'accompagnement", reverse("monitoring:cases")),
            (case.structure.name, reverse("monitoring:case", args=[case.uuid])),
            (CASE_FORMS[kind][1], None),
        ],
    }
    if not request.htmx:
        return render(request, "monitoring/case_form_alone.html", context)
    # In place of the link just followed, the form takes the focus (htmx focuses what has autofocus).
    next(iter(form.visible_fields())).field.widget.attrs["autofocus"] = True
    return render(request, "monitoring/_case_form.html", context)


def _writable_case(request, uuid):
    case = _case(request, uuid)
    circles = permissions_cases.writable_circles(request.user, case)
    if not circles:
        raise PermissionDenied
    return case, circles


def _managed_case(request, uuid):
    case = _case(request, uuid)
    if not permissions_cases.can_manage_case(request.user, case):
        raise PermissionDenied
    return case


def _back(case, anchor=""):
    return redirect(reverse("monitoring:case", args=[case.uuid]) + anchor)


@require_http_methods(["GET", "POST"])
def case_note(request, uuid):
    case, circles = _writable_case(request, uuid)
    if request.method == "GET":
        return _case_form(request, case, "note", NoteForm(circles=circles))
    form = NoteForm(request.POST, circles=circles)
    if not form.is_valid():
        return _case_page(request, case, {"note": form}, status=422)
    actions.add_note(case, actor=request.user, text=form.cleaned_data["text"], circle=form.cleaned_data["circle"])
    messages.success(request, f"La note est ajoutée ({Circle(form.cleaned_data['circle']).label.lower()}).")
    return _back(case, "#timeline-title")


@require_http_methods(["GET", "POST"])
def case_document(request, uuid):
    case, circles = _writable_case(request, uuid)
    if request.method == "GET":
        return _case_form(request, case, "document", CaseDocumentForm(circles=circles))
    form = CaseDocumentForm(request.POST, request.FILES, circles=circles)
    if not form.is_valid():
        return _case_page(request, case, {"document": form}, status=422)
    actions.add_document(
        case,
        actor=request.user,
        checked=form.checked,
        title=form.cleaned_data["title"],
        circle=form.cleaned_data["circle"],
    )
    messages.success(request, "Le document est déposé.")
    return _back(case, "#documents-title")


def case_document_download(request, uuid):
    document = get_object_or_404(CaseDocument.objects.visible_to(request.user), uuid=uuid)
    return stored_file_response(document)


@require_http_methods(["GET", "POST"])
def case_action(request, uuid):
    case = _managed_case(request, uuid)
    circles = permissions_cases.writable_circles(request.user, case)
    if request.method == "GET":
        return _case_form(request, case, "action", ActionForm(case=case, circles=circles))
    form = ActionForm(request.POST, case=case, circles=circles)
    if not form.is_valid():
        return _case_page(request, case, {"action": form}, status=422)
    actions.add_action(
        case,
        actor=request.user,
        title=form.cleaned_data["title"],
        description=form.cleaned_data["description"],
        due=form.cleaned_data["due"],
        circle=form.cleaned_data["circle"],
        owner=form.owner_partner,
        owner_is_structure=form.owner_is_structure,
    )
    messages.success(request, "L'action est ajoutée : elle paraît dans le calendrier des échéances.")
    return _back(case, "#actions-title")


@require_POST
def case_action_done(request, uuid):
    action = get_object_or_404(CaseAction.objects.visible_to(request.user).select_related("case"), uuid=uuid)
    if not permissions_cases.can_complete_action(request.user, action):
        raise PermissionDenied
    try:
        actions.complete_action(action, actor=request.user)
    except actions.CaseStateError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, "L'action est marquée faite.")
    return _back(action.case, "#actions-title")


def case_action_edit(request, uuid):
    """Change an action of a case (or reopen it once done), on the version read: its own page, so that it works
    without JavaScript. Only an action the user reads can be found here (a body-only one is a 404 to others)."""
    action = get_object_or_404(
        CaseAction.objects.visible_to(request.user).select_related("case__structure", "case__committee", "owner"),
        uuid=uuid,
    )
    case = action.case
    if not permissions_cases.can_edit_action(request.user, action):
        raise PermissionDenied
    form = ActionEditForm(request.POST or None, action=action)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                changed = actions.edit_action(
                    action,
                    actor=request.user,
                    expected_version=data["version"],
                    title=data["title"],
                    description=data["description"],
                    due=data["due"],
                    owner=form.owner_partner,
                    owner_is_structure=form.owner_is_structure,
                    reopen=data.get("reopen", False),
                )
            except actions.CaseStateError as error:
                form.add_error(None, str(error))
                status = 409
                # Sent again as it is, the form now overwrites the change it was told about, knowingly.
                form.data = form.data.copy()
                form.data["version"] = CaseAction.objects.values_list("version", flat=True).get(pk=action.pk)
            else:
                done = "rouverte" if data.get("reopen") else "modifiée"
                messages.success(request, f"L'action « {changed.title} » est {done} : le calendrier suit son échéance.")
                return _back(case, "#actions-title")
        else:
            status = 422
    context = {
        "form": form,
        "action": action,
        "case": case,
        "structure": case.structure,
        "title": f"Modifier une action : {case.structure.name}",
        "breadcrumb": [
            ("Dossiers d'accompagnement", reverse("monitoring:cases")),
            (case.structure.name, reverse("monitoring:case", args=[case.uuid])),
            ("Modifier une action", None),
        ],
    }
    return render(request, "monitoring/case_action_form.html", context, status=status)


@require_http_methods(["GET", "POST"])
def case_status(request, uuid):
    case = _managed_case(request, uuid)
    if request.method == "GET":
        # The version of the page the link was on, not the one read now: a change made meanwhile is not
        # overwritten unseen.
        seen = request.GET.get("version", "")
        initial = {"version": int(seen)} if seen.isdigit() else {}
        return _case_form(request, case, "status", StatusForm(case=case, initial=initial))
    form = StatusForm(request.POST, case=case)
    if not form.is_valid():
        return _case_page(request, case, {"status": form}, status=422)
    try:
        case = actions.change_status(
            case,
            actor=request.user,
            status=form.cleaned_data["status"],
            outcome=form.cleaned_data["outcome"],
            comment=form.cleaned_data["comment"],
            expected_version=form.cleaned_data["version"],
        )
    except actions.CaseStateError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, f"Le dossier passe à l'état « {case.get_status_display()} ».")
    return _back(case)


@require_http_methods(["GET", "POST"])
def case_link(request, uuid):
    case = _managed_case(request, uuid)
    if request.method == "GET":
        return _case_form(request, case, "link", LinkForm(case=case))
    form = LinkForm(request.POST, case=case)
    if not form.is_valid():
        return _case_page(request, case, {"link": form}, status=422)
    actions.link_governance(
        case, actor=request.user, meeting=form.cleaned_data["meeting"], decision=form.cleaned_data["decision"]
    )
    messages.success(request, "Le lien est ajouté au dossier.")
    return _back(case, "#governance-title")


def case_plan(request, uuid):
    """The recovery plan: its measures, milestones and ratio targets, with the actual values of the accepted
    statements beside the targets. The body's writers edit it."""
    case = _case(request, uuid)
    plan = _plan_of(case)
    can_manage = permissions_cases.can_manage_case(request.user, case)
    which = request.POST.get("form") if request.method == "POST" else None
    if which and not can_manage:
        raise PermissionDenied
    plan_initial = {"adopted_on": plan.adopted_on, "summary": plan.summary, "version": plan.version} if plan else {}
    plan_form = PlanForm(request.POST if which == "plan" else None, initial=plan_initial)
    milestone_form = MilestoneForm(request.POST if which == "milestone" else None)
    target_form = TargetForm(request.POST if which == "target" else None)
    status = 200
    if which == "plan" and plan_form.is_valid():
        try:
            actions.save_plan(
                case,
                actor=request.user,
                adopted_on=plan_form.cleaned_data["adopted_on"],
                summary=plan_form.cleaned_data["summary"],
                expected_version=plan_form.cleaned_data["version"],
            )
        except ConcurrentEditError:
            messages.error(request, "Le plan a été modifié entre-temps : relisez-le avant d'enregistrer.")
        else:
            messages.success(request, "Le plan de retour à l'équilibre est enregistré.")
        return redirect("monitoring:case_plan", uuid=case.uuid)
    if which in {"milestone", "target"} and plan is None:
        messages.error(request, "Adoptez d'abord le plan (ses mesures), puis ajoutez ses jalons et ses cibles.")
        return redirect("monitoring:case_plan", uuid=case.uuid)
    if which == "milestone_done" and plan is not None:
        milestone = plan.milestones.filter(pk=request.POST.get("milestone"), done_on__isnull=True).first()
        if milestone is not None:
            actions.reach_milestone(milestone, actor=request.user)
            messages.success(request, f"Le jalon « {milestone.title} » est atteint.")
        return redirect("monitoring:case_plan", uuid=case.uuid)
    if which == "milestone" and milestone_form.is_valid():
        actions.plan_milestone(plan, actor=request.user, **milestone_form.cleaned_data)
        messages.success(request, "Le jalon est ajouté.")
        return redirect("monitoring:case_plan", uuid=case.uuid)
    if which == "target" and target_form.is_valid():
        actions.plan_target(plan, actor=request.user, **target_form.cleaned_data)
        messages.success(request, "La valeur visée est enregistrée.")
        return redirect("monitoring:case_plan", uuid=case.uuid)
    if which:
        status = 422
    context = {
        "case": case,
        "structure": case.structure,
        "plan": plan,
        "milestones": plan.milestones.all() if plan else [],
        "targets": _targets(case, plan),
        "can_manage": can_manage,
        "plan_form": plan_form if can_manage else None,
        "milestone_form": milestone_form if can_manage and plan else None,
        "target_form": target_form if can_manage and plan else None,
        "today": timezone.localdate(),
        "title": f"Plan de retour à l'équilibre : {case.structure.name}",
        "breadcrumb": [
            ("Dossiers d'accompagnement", reverse("monitoring:cases")),
            (case.structure.name, reverse("monitoring:case", args=[case.uuid])),
            ("Plan de retour à l'équilibre", None),
        ],
    }
    return render(request, "monitoring/case_plan.html", context, status=status)
