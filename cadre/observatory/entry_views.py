"""A submission's pages: overview, one page per section with autosave, review steps, printable copy."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.text import slugify
from django.views.decorators.http import require_POST

from cadre.core.french import plural
from cadre.core.pdf import pdf_response
from cadre.observatory import actions, permissions
from cadre.observatory.entry import Entry
from cadre.observatory.forms import AnomalyTextForm, CommentForm, ReasonForm
from cadre.observatory.models import TO_REVIEW_STATUSES, Anomaly, AnomalyStatus, QuestionKind, Submission
from cadre.territories.reference import department_place

YES_NO = [("oui", "Oui"), ("non", "Non")]


def _submission(request, uuid, *related):
    queryset = Submission.objects.visible_to(request.user).select_related(
        "campaign__questionnaire", "structure__commune", "validated_by", *related
    )
    return get_object_or_404(queryset, uuid=uuid)


def _breadcrumb(submission, *more):
    campaign = submission.campaign
    crumbs = [
        ("Observatoire", reverse("observatory:campaigns")),
        (campaign.title, reverse("observatory:campaign", args=[campaign.uuid])),
    ]
    if more:
        crumbs.append((submission.structure.name, reverse("observatory:submission", args=[submission.uuid])))
        return [*crumbs, *more]
    return [*crumbs, (submission.structure.name, None)]


def _rights(request, submission):
    today = timezone.localdate()
    is_reviewer = permissions.can_review(request.user, submission)
    return {
        "can_edit": permissions.can_edit_answers(request.user, submission, today),
        # permissions.can_review_now, without asking can_review a second time
        "can_review": is_reviewer and submission.status in TO_REVIEW_STATUSES,
        "is_reviewer": is_reviewer,
        "can_reopen": permissions.can_reopen(request.user, submission),
        "read_only_reason": submission.read_only_reason(today),
        "can_fill": permissions.can_fill(request.user, submission),
    }


def submission_detail(request, uuid):
    submission = _submission(request, uuid)
    entry = Entry(submission)
    rights = _rights(request, submission)
    progress = entry.progress()
    issues = [
        (item, issue) for row in progress for item in entry.items(row.section) if item.asked for issue in item.issues
    ]
    events = submission.events.select_related("actor")
    # A detected anomaly is the correspondant's to examine before the structure is asked about it.
    anomalies = [
        a
        for code in entry.asked_codes
        for a in entry.anomalies.get(code, [])
        if rights["is_reviewer"] or a.status != AnomalyStatus.OPEN
    ]
    anomalies.sort(key=lambda a: (a.question.position, a.created_at))
    department, _ = department_place(submission.structure.commune.department_id)
    return render(
        request,
        "observatory/submission_detail.html",
        {
            "submission": submission,
            "entry": entry,
            "progress": progress,
            "totals": entry.totals(),
            "issues": issues,
            "events": events,
            "anomalies": anomalies,
            # Validation waits for every point to check (as validate_submission does): the page says so first.
            "unresolved_count": submission.anomalies.unresolved().count() if rights["can_review"] else 0,
            "department_name": department,
            "comment_form": CommentForm(initial={"version": submission.version}),
            "reason_form": ReasonForm(initial={"version": submission.version}),
            "text_form": AnomalyTextForm(),
            **rights,
            "title": f"{submission.structure.name} — {submission.campaign.title}",
            "breadcrumb": _breadcrumb(submission),
        },
    )


def _raw_of(request, question):
    """What the person entered for `question` in a posted form."""
    name = f"q-{question.code}"
    if question.kind == QuestionKind.MULTIPLE_CHOICE:
        return request.POST.getlist(name)
    return request.POST.get(name, "")


def _version_of(request, question):
    try:
        return int(request.POST.get(f"version-{question.code}", ""))
    except ValueError:
        return None


def _same(question, answer, raw, comment):
    """Whether saving `raw` would change nothing (a repeated autosave of a value already stored)."""
    try:
        value = question.parse(raw)
    except ValidationError:
        return False
    stored = answer.value if answer is not None else None
    same_comment = comment is None or comment.strip() == (answer.comment if answer is not None else "")
    return value == stored and same_comment


def _save_one(request, submission, question, entry):
    """Save one posted answer; returns an error message ({"kind", "message", ...}) or None."""
    raw = _raw_of(request, question)
    comment_key = f"comment-{question.code}"
    comment = request.POST.get(comment_key) if comment_key in request.POST else None
    expected = _version_of(request, question)
    answer = entry.answers.get(question.code)
    if _same(question, answer, raw, comment):
        return None
    try:
        actions.save_answer(submission, question, raw, actor=request.user, expected_version=expected, comment=comment)
    except ValidationError as error:
        typed = " ; ".join(raw) if isinstance(raw, list) else raw
        return {"kind": "error", "message": " ".join(error.messages), "raw": typed}
    except actions.AnswerConflict as conflict:
        stored = conflict.answer
        return {
            "kind": "conflict",
            "raw": raw,
            "stored": question.display(stored.value) if stored else "",
            "by": stored.updated_by.display_name if stored and stored.updated_by else "quelqu'un d'autre",
            "at": stored.updated_at if stored else None,
            "version": stored.version if stored else 0,
        }
    return None


def submission_section(request, uuid, code):
    submission = _submission(request, uuid)
    entry = Entry(submission)
    section = entry.section(code)
    if section is None:
        raise Http404
    rights = _rights(request, submission)
    failures = {}
    if request.method == "POST":
        if not rights["can_edit"]:
            raise PermissionDenied
        # Without JavaScript the whole section is posted: save each asked question shown on the form.
        for question in [q for q in entry.questions if q.section_id == section.pk]:
            if f"present-{question.code}" not in request.POST or question.code not in entry.asked_codes:
                continue
            failure = _save_one(request, submission, question, entry)
            if failure:
                failures[question.code] = failure
        if not failures:
            messages.success(request, f"La rubrique « {section.title} » est enregistrée.")
            return redirect(_next_section_url(submission, entry, section, request.POST.get("next")))
        entry = Entry(submission)
    return render(
        request,
        "observatory/submission_section.html",
        _section_context(request, submission, entry, section, rights, failures),
    )


def _next_section_url(submission, entry, section, wanted):
    if wanted == "next":
        position = entry.sections.index(section)
        if position + 1 < len(entry.sections):
            following = entry.sections[position + 1]
            return reverse("observatory:submission_section", args=[submission.uuid, following.code])
        return reverse("observatory:submission", args=[submission.uuid])
    return reverse("observatory:submission_section", args=[submission.uuid, section.code])


def _section_context(request, submission, entry, section, rights, failures=None):
    position = entry.sections.index(section)
    items = entry.items(section)
    failures = failures or {}
    for item in items:
        item.failure = failures.get(item.code)
    return {
        "submission": submission,
        "entry": entry,
        "section": section,
        "number": position + 1,
        "items": items,
        "progress": entry.progress(),
        "registry": _registry_facts(submission.structure, section.registry),
        "prefillable": entry.prefillable(section) if rights["can_edit"] else [],
        "previous_section": entry.sections[position - 1] if position else None,
        "next_section": entry.sections[position + 1] if position + 1 < len(entry.sections) else None,
        "failures": failures,
        "yes_no": YES_NO,
        **rights,
        "title": f"{section.title} — {submission.structure.name}",
        "breadcrumb": _breadcrumb(submission, (section.title, None)),
    }


REGISTRY_LABELS = {
    "kind": "Type de structure",
    "management": "Mode de gestion",
    "manager_name": "Gestionnaire",
    "commune": "Commune",
    "federation": "Fédération d'adhésion",
    "served_population": "Population de la zone d'influence",
    "territory_type": "Territoire d'intervention",
    "territory_size": "Taille du territoire",
    "priority_area_status": "Politique de la ville",
    "priority_areas": "QPV",
    "project_axes": "Axes du projet",
    "first_approval_date": "Premier agrément",
    "approvals": "Agréments",
}


def _registry_facts(structure, fields):
    """Identity facts the registry already holds: shown, not asked again."""
    facts = []
    for name in fields:
        if name == "approvals":
            value = "; ".join(str(a) for a in structure.approvals.all()[:4]) or "aucun"
        elif name == "priority_areas":
            value = ", ".join(f"{a.name} ({a.code})" for a in structure.priority_areas.all()) or "aucun"
        elif name == "project_axes":
            value = " ; ".join(structure.project_axes) or "non renseignés"
        elif name == "first_approval_date":
            value = structure.first_approval_date.strftime("%d/%m/%Y") if structure.first_approval_date else "?"
        elif name in ("kind", "management", "territory_type", "territory_size", "priority_area_status"):
            value = getattr(structure, f"get_{name}_display")() or "non renseigné"
        else:
            value = getattr(structure, name)
            value = "non renseigné" if value in (None, "") else value
        facts.append((REGISTRY_LABELS[name], value))
    return facts


@require_POST
def answer_save(request, uuid, code):
    """Autosave of one question (htmx): its status, and the parts of the page its value changes."""
    submission = _submission(request, uuid)
    if not permissions.can_edit_answers(request.user, submission):
        return HttpResponse(
            render_to_string(
                "observatory/_answer_refused.html",
                {"code": code, "reason": submission.read_only_reason(timezone.localdate())},
                request,
            ),
            status=403,
        )
    before = Entry(submission)
    question = before.question(code)
    if question is None:
        raise Http404
    failure = _save_one(request, submission, question, before)
    after = Entry(submission) if failure is None else before
    section = question.section
    item = after.item(question)
    item.failure = failure
    others = []
    for other in before.questions:
        if other.section_id != section.pk or other.code == code:
            continue
        old, new = before.item(other), after.item(other)
        if old.asked != new.asked or [i.message for i in old.issues] != [i.message for i in new.issues]:
            others.append(new)
    context = {
        "submission": submission,
        "item": item,
        "comment_changed": before.item(question).needs_comment != item.needs_comment,
        "others": others,
        "progress": after.progress(),
        "section": section,
        "can_edit": True,
        "yes_no": YES_NO,
        # « Enregistré » only of an answer now stored (not of an empty question left empty).
        "saved_at": timezone.localtime() if failure is None and code in after.answers else None,
    }
    return render(request, "observatory/_answer_saved.html", context)


@require_POST
def section_prefill(request, uuid, code):
    submission = _submission(request, uuid)
    if not permissions.can_edit_answers(request.user, submission):
        raise PermissionDenied
    section = Entry(submission).section(code)
    if section is None:
        raise Http404
    copied = actions.take_previous_answers(submission, section, actor=request.user)
    taken = plural(copied, "reprise", with_number=False)
    messages.success(request, f"{plural(copied, 'réponse')} de l’an passé {taken} : vérifiez-les.")
    return redirect("observatory:submission_section", uuid=submission.uuid, code=section.code)


def _version(request):
    try:
        return int(request.POST.get("version", ""))
    except ValueError:
        return None


def _step(request, uuid, allowed, step, success, extra):
    submission = _submission(request, uuid)
    if not allowed(request.user, submission):
        raise PermissionDenied
    try:
        step(submission, actor=request.user, expected_version=_version(request), **extra(request))
    except actions.TransitionRefused as refused:
        messages.error(request, str(refused))
    else:
        messages.success(request, success)
    return redirect("observatory:submission", uuid=submission.uuid)


@require_POST
def submission_submit(request, uuid):
    return _step(
        request,
        uuid,
        permissions.can_submit,
        actions.submit_submission,
        "Votre questionnaire est envoyé : les correspondants de l’observatoire vont le relire.",
        extra=lambda r: {"comment": r.POST.get("comment", "")},
    )


@require_POST
def submission_validate(request, uuid):
    return _step(
        request,
        uuid,
        permissions.can_review_now,
        actions.validate_submission,
        "Le questionnaire est validé.",
        extra=lambda r: {"comment": r.POST.get("comment", "")},
    )


@require_POST
def submission_reopen(request, uuid):
    return _step(
        request,
        uuid,
        permissions.can_reopen,
        actions.reopen_submission,
        "Le questionnaire est rouvert : la structure peut à nouveau le modifier.",
        extra=lambda r: {"reason": r.POST.get("comment", "")},
    )


def submission_return(request, uuid):
    """The return page: a general comment and a remark on any question."""
    submission = _submission(request, uuid)
    if not permissions.can_review_now(request.user, submission):
        raise PermissionDenied
    entry = Entry(submission)
    error = ""
    if request.method == "POST":
        remarks = {
            q: request.POST.get(f"remark-{q.code}", "")
            for q in entry.questions
            if request.POST.get(f"remark-{q.code}", "").strip()
        }
        try:
            actions.return_submission(
                submission,
                actor=request.user,
                comment=request.POST.get("comment", ""),
                remarks=remarks,
                expected_version=_version(request),
            )
        except actions.TransitionRefused as refused:
            error = str(refused)
        else:
            messages.success(request, "Le questionnaire est renvoyé à la structure, qui en est prévenue par courriel.")
            return redirect("observatory:submission", uuid=submission.uuid)
    sections = [(s, [i for i in entry.items(s) if i.asked]) for s in entry.sections]
    for _, items in sections:
        for item in items:
            item.remark = request.POST.get(f"remark-{item.code}", "")  # a refused return loses no remark
    queried = [a for items in entry.anomalies.values() for a in items if a.status == AnomalyStatus.QUERIED]
    return render(
        request,
        "observatory/submission_return.html",
        {
            "submission": submission,
            "sections": sections,
            "queried": queried,
            "error": error,
            "posted": request.POST,
            "title": f"Renvoyer le questionnaire — {submission.structure.name}",
            "breadcrumb": _breadcrumb(submission, ("Renvoyer à la structure", None)),
        },
    )


def _anomaly(request, uuid):
    return get_object_or_404(
        Anomaly.objects.visible_to(request.user).select_related(
            "submission__campaign", "submission__structure__commune", "question__section"
        ),
        uuid=uuid,
    )


@require_POST
def anomaly_query(request, uuid):
    anomaly = _anomaly(request, uuid)
    if not permissions.can_review(request.user, anomaly.submission):
        raise PermissionDenied
    try:
        actions.query_anomaly(anomaly, actor=request.user, text=request.POST.get("text", ""))
    except actions.TransitionRefused as refused:
        messages.error(request, str(refused))
    else:
        messages.success(
            request, "La question est notée : elle partira avec le renvoi du questionnaire à la structure."
        )
    return redirect("observatory:submission", uuid=anomaly.submission.uuid)


@require_POST
def anomaly_justify(request, uuid):
    """The correspondant closes a point as justified, or the structure answers a question put to it."""
    anomaly = _anomaly(request, uuid)
    submission = anomaly.submission
    reviewer = permissions.can_review(request.user, submission)
    structure_answer = anomaly.status == AnomalyStatus.QUERIED and permissions.can_edit_answers(
        request.user, submission
    )
    if not (reviewer or structure_answer):
        raise PermissionDenied
    try:
        text = request.POST.get("text") or request.POST.get(f"text-{anomaly.uuid}", "")
        actions.justify_anomaly(anomaly, actor=request.user, text=text)
    except actions.TransitionRefused as refused:
        messages.error(request, str(refused))
    else:
        messages.success(request, "La justification est enregistrée.")
    if request.POST.get("return_to") == "section":
        url = reverse("observatory:submission_section", args=[submission.uuid, anomaly.question.section.code])
        return redirect(f"{url}#group-{anomaly.question.code}")
    return redirect("observatory:submission", uuid=submission.uuid)


def submission_print(request, uuid):
    """The filled questionnaire on one page, to print or to save as PDF."""
    submission = _submission(request, uuid, "structure__federation")  # a fact of the registry it shows
    context = _print_context(submission, Entry(submission))
    if request.GET.get("format") == "pdf":
        name = f"observatoire-{submission.campaign.year}-{slugify(submission.structure.name)}"
        return pdf_response(name, "observatory/submission_pdf.html", context, request)
    return render(request, "observatory/submission_print.html", context)


def _print_context(submission, entry):
    department, _ = department_place(submission.structure.commune.department_id)
    return {
        "submission": submission,
        "entry": entry,
        "sections": [
            (s, _registry_facts(submission.structure, s.registry), [i for i in entry.items(s) if i.asked])
            for s in entry.sections
        ],
        "events": submission.events.select_related("actor"),
        "department_name": department,
        "read_only_reason": submission.read_only_reason(timezone.localdate()),
        "printed_at": timezone.localtime(),
        "title": f"{submission.structure.name} — {submission.campaign.title}",
        "breadcrumb": _breadcrumb(submission, ("Version imprimable", None)),
    }
