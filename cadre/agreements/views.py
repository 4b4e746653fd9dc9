import datetime
import uuid

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Exists, OuterRef, Prefetch, Q
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from cadre.accounts.models import WRITE_ROLES
from cadre.agreements import actions, pages, permissions
from cadre.agreements.forms import (
    AgreementForm,
    AmendmentForm,
    AttachmentForm,
    CommitteeForm,
    DecisionForm,
    EventForm,
    FrameworkForm,
    MeetingForm,
    MemberForm,
    NewItemForm,
    PartyForm,
    RoadmapItemForm,
    SignatoryForm,
    StatusForm,
)
from cadre.agreements.models import (
    STATUS_STEPS,
    Agreement,
    Attachment,
    Committee,
    Event,
    FollowUp,
    FrameworkAgreement,
    ProgressNote,
    Registration,
    RoadmapItem,
    Signatory,
)
from cadre.core.forms import add_model_errors
from cadre.core.uploads import stored_file_response
from cadre.partners.models import Partner
from cadre.structures.models import Structure

LIST = ("Conventions", "agreements:list")


def _crumbs(*items):
    return [(LIST[0], reverse(LIST[1])), *items]


def _structure_filter(request):
    """The structure of `?structure=<uuid>` (the structure page links its agreements so), or None."""
    value = request.GET.get("structure")
    if not value:
        return None
    try:
        return get_object_or_404(Structure.objects.visible_to(request.user), uuid=uuid.UUID(value))
    except ValueError:
        raise Http404 from None


def agreement_list(request):
    user = request.user
    frameworks = FrameworkAgreement.objects.visible_to(user).select_related("department")
    agreements = Agreement.objects.visible_to(user).select_related("commune", "framework")
    structure = _structure_filter(request)
    if structure is not None:
        agreements = agreements.filter(parties__structure=structure).distinct()
        frameworks = frameworks.filter(agreements__in=agreements).distinct()
    context = {
        "structure": structure,
        "frameworks": frameworks,
        "agreements": agreements,
        "late_count": RoadmapItem.objects.visible_to(user).late().count(),
        "can_create": permissions.can_create_framework(user),
        "can_create_agreement": permissions.can_create_agreement(user),
        "title": f"Conventions de {structure.name}" if structure else "Conventions",
        "breadcrumb": [("Conventions", None)]
        if structure is None
        else [
            ("Structures", reverse("structures:list")),
            (structure.name, reverse("structures:detail", args=[structure.uuid])),
            ("Conventions", None),
        ],
    }
    return render(request, "agreements/list.html", context)


def framework_detail(request, uuid):
    page = pages.framework_page(request.user, uuid)
    framework = page.framework
    can_manage = permissions.can_manage_framework(request.user, framework)
    context = {
        "framework": framework,
        "signatories": page.signatories,
        "former": page.former,
        "amendments": page.amendments,
        "attachments": page.attachments,
        "attachment_form": AttachmentForm() if can_manage else None,
        "editions": page.editions,
        "joined": page.joined,
        "left": page.left,
        "agreements": page.agreements,
        "can_manage": can_manage,
        "status_form": StatusForm(steps=STATUS_STEPS[framework.status]) if can_manage else None,
        "today": datetime.date.today(),
        "title": framework.title,
        "breadcrumb": _crumbs((framework.title, None)),
    }
    return render(request, "agreements/framework.html", context)


def _status_change(request, record, url):
    form = StatusForm(request.POST, steps=STATUS_STEPS[record.status])
    if form.is_valid():
        try:
            actions.change_status(
                record, form.cleaned_data["status"], actor=request.user, signed_on=form.cleaned_data["signed_on"]
            )
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            messages.success(request, "L'état de la convention a été changé.")
    else:
        messages.error(request, "Choisissez un nouvel état parmi ceux proposés.")
    return redirect(url)


@require_POST
def framework_status(request, uuid):
    framework = get_object_or_404(FrameworkAgreement.objects.visible_to(request.user), uuid=uuid)
    if not permissions.can_manage_framework(request.user, framework):
        raise PermissionDenied
    return _status_change(request, framework, reverse("agreements:framework", args=[framework.uuid]))


def framework_amend(request, uuid):
    framework = get_object_or_404(FrameworkAgreement.objects.visible_to(request.user), uuid=uuid)
    if not permissions.can_manage_framework(request.user, framework):
        raise PermissionDenied
    signing = Partner.objects.filter(signatures__framework=framework, signatures__left_on__isnull=True).order_by("name")
    form = AmendmentForm(request.POST or None, signing=signing)
    if request.method == "POST" and form.is_valid():
        try:
            amendment = actions.amend(framework, actor=request.user, **form.cleaned_data)
        except ValidationError as error:
            add_model_errors(form, error)
        else:
            messages.success(request, f"L'avenant n° {amendment.number} a été enregistré et appliqué.")
            return redirect("agreements:framework", uuid=framework.uuid)
    context = {
        "form": form,
        "framework": framework,
        "cancel_url": reverse("agreements:framework", args=[framework.uuid]),
        "title": "Nouvel avenant",
        "breadcrumb": _crumbs(
            (framework.title, reverse("agreements:framework", args=[framework.uuid])), ("Nouvel avenant", None)
        ),
    }
    return render(request, "agreements/amendment_form.html", context)


PARTY_FIELDS = ["agreement", "partner", "structure", "role", "signed_on", "left_on", "structure__commune__name"]
ITEM_FIELDS = ["uuid", "theme", "title", "owner_partner", "owner_structure", "due", "status"]


def agreement_detail(request, uuid):
    # A party seen only through the agreement is named, not linked to a page that would refuse the visitor:
    # whether the visitor sees each party's structure is read with the parties.
    openable = Exists(Structure.objects.visible_to(request.user).filter(pk=OuterRef("structure_id")))
    parties = Signatory.objects.select_related("partner", "structure__commune").annotate(can_open=openable)
    # Only what the page shows of each party (a structure has some forty columns).
    parties = parties.only(*PARTY_FIELDS, "partner__uuid", "partner__name", "structure__uuid", "structure__name")
    agreement = get_object_or_404(
        Agreement.objects.visible_to(request.user)
        .select_related("framework", "commune", "roadmap")
        .prefetch_related(Prefetch("parties", parties)),
        uuid=uuid,
    )
    parties = list(agreement.parties.all())
    can_manage = permissions.can_manage_agreement(request.user, agreement)  # from the parties: no query
    roadmap = getattr(agreement, "roadmap", None)
    themes = []
    today = datetime.date.today()
    if roadmap:
        items = (
            RoadmapItem.objects.filter(theme__roadmap=roadmap)
            .select_related("owner_partner", "owner_structure")
            .only(*ITEM_FIELDS, "owner_partner__name", "owner_structure__name")
        )
        by_theme = {}
        for item in items:
            by_theme.setdefault(item.theme_id, []).append(item)
        themes = [(theme, by_theme.get(theme.pk, [])) for theme in roadmap.themes.all()]
    context = {
        "agreement": agreement,
        "partners": [p for p in parties if p.partner_id],
        "structures": [p for p in parties if p.structure_id],
        "roadmap": roadmap,
        "themes": themes,
        "today": today,
        "attachments": agreement.attachments.defer("content"),
        "attachment_form": AttachmentForm() if can_manage else None,
        "can_manage": can_manage,
        "status_form": StatusForm(steps=STATUS_STEPS[agreement.status]) if can_manage else None,
        "title": agreement.title,
        "breadcrumb": _crumbs((agreement.title, None)),
    }
    return render(request, "agreements/agreement.html", context)


@require_POST
def agreement_status(request, uuid):
    agreement = get_object_or_404(Agreement.objects.visible_to(request.user), uuid=uuid)
    if not permissions.can_manage_agreement(request.user, agreement):
        raise PermissionDenied
    return _status_change(request, agreement, reverse("agreements:detail", args=[agreement.uuid]))


def late_items(request):
    items = (
        RoadmapItem.objects.visible_to(request.user)
        .late()
        .select_related("theme__roadmap__agreement", "owner_partner", "owner_structure")
        .order_by("due")
    )
    context = {
        "items": items,
        "today": datetime.date.today(),
        "title": "Actions en retard des feuilles de route",
        "breadcrumb": _crumbs(("Actions en retard", None)),
    }
    return render(request, "agreements/late_items.html", context)


def item_detail(request, uuid):
    item = get_object_or_404(
        RoadmapItem.objects.visible_to(request.user).select_related("theme__roadmap__agreement"), uuid=uuid
    )
    agreement = item.theme.roadmap.agreement
    can_update = permissions.can_update_item(request.user, item)
    form = RoadmapItemForm(request.POST or None, instance=item) if can_update else None
    if request.method == "POST":
        if form is None:
            raise PermissionDenied
        if form.is_valid():
            with transaction.atomic():
                saved = form.save_or_conflict(request.user)
                if saved is not None and form.cleaned_data["note"].strip():
                    ProgressNote.objects.create(
                        item=item, written_on=datetime.date.today(), author=request.user, text=form.cleaned_data["note"]
                    )
            if saved is not None:
                messages.success(request, "L'action a été mise à jour.")
                return redirect("agreements:item", uuid=item.uuid)
    context = {
        "item": item,
        "agreement": agreement,
        "notes": item.notes.select_related("author"),
        "form": form,
        "today": datetime.date.today(),
        "cancel_url": reverse("agreements:detail", args=[agreement.uuid]),
        "title": item.title,
        "breadcrumb": _crumbs(
            (agreement.title, reverse("agreements:detail", args=[agreement.uuid])), (item.title, None)
        ),
    }
    return render(request, "agreements/item.html", context)


def structure_agreements(structure, user):
    """The agreements of a structure that `user` may see (for the structure's page)."""
    return Agreement.objects.visible_to(user).filter(
        pk__in=Signatory.objects.filter(structure=structure).values("agreement")
    )


# -- Creating and editing ------------------------------------------------------------------------


def _form_page(request, form, title, crumbs, cancel_url, intro=""):
    context = {"form": form, "title": title, "breadcrumb": _crumbs(*crumbs), "cancel_url": cancel_url, "intro": intro}
    return render(request, "agreements/form.html", context)


def framework_create(request):
    if not permissions.can_create_framework(request.user):
        raise PermissionDenied
    form = FrameworkForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        framework = form.save_tracked(request.user)
        messages.success(request, "La convention cadre a été créée : ajoutez ses signataires.")
        return redirect("agreements:framework", uuid=framework.uuid)
    return _form_page(
        request, form, "Nouvelle convention cadre", [("Nouvelle convention cadre", None)], reverse(LIST[1])
    )


def framework_edit(request, uuid):
    framework = get_object_or_404(FrameworkAgreement.objects.visible_to(request.user), uuid=uuid)
    if not permissions.can_manage_framework(request.user, framework):
        raise PermissionDenied
    form = FrameworkForm(request.POST or None, instance=framework)
    url = reverse("agreements:framework", args=[framework.uuid])
    if request.method == "POST" and form.is_valid() and form.save_or_conflict(request.user) is not None:
        messages.success(request, "Les modifications ont été enregistrées.")
        return redirect(url)
    return _form_page(request, form, "Modifier la convention cadre", [(framework.title, url), ("Modifier", None)], url)


def framework_signatory(request, uuid):
    framework = get_object_or_404(FrameworkAgreement.objects.visible_to(request.user), uuid=uuid)
    if not permissions.can_manage_framework(request.user, framework):
        raise PermissionDenied
    form = SignatoryForm(request.POST or None, framework=framework)
    url = reverse("agreements:framework", args=[framework.uuid])
    if request.method == "POST" and form.is_valid():
        signatory = form.save()
        messages.success(request, f"{signatory.partner.name} signe la convention cadre.")
        return redirect(url)
    intro = "Après la signature, les entrées et sorties de signataires passent par un avenant."
    return _form_page(
        request, form, "Ajouter un signataire", [(framework.title, url), ("Signataire", None)], url, intro
    )


def agreement_create(request):
    if not permissions.can_create_agreement(request.user):
        raise PermissionDenied
    form = AgreementForm(request.POST or None, frameworks=FrameworkAgreement.objects.visible_to(request.user))
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            agreement = form.save_tracked(request.user)
            own = sorted(request.user.partner_ids(WRITE_ROLES))
            if own and not request.user.is_administrator:
                actions.add_party(agreement, partner=Partner.objects.get(pk=own[0]))
        messages.success(request, "La convention a été créée : ajoutez ses parties.")
        return redirect("agreements:detail", uuid=agreement.uuid)
    intro = "Votre partenaire en devient partie ; ajoutez ensuite les autres partenaires et les structures."
    return _form_page(request, form, "Nouvelle convention", [("Nouvelle convention", None)], reverse(LIST[1]), intro)


def _managed_agreement(request, uuid, *related):
    agreement = get_object_or_404(Agreement.objects.visible_to(request.user).select_related(*related), uuid=uuid)
    if not permissions.can_manage_agreement(request.user, agreement):
        raise PermissionDenied
    return agreement


def agreement_edit(request, uuid):
    agreement = _managed_agreement(request, uuid)
    form = AgreementForm(
        request.POST or None, instance=agreement, frameworks=FrameworkAgreement.objects.visible_to(request.user)
    )
    url = reverse("agreements:detail", args=[agreement.uuid])
    if request.method == "POST" and form.is_valid() and form.save_or_conflict(request.user) is not None:
        messages.success(request, "Les modifications ont été enregistrées.")
        return redirect(url)
    return _form_page(request, form, "Modifier la convention", [(agreement.title, url), ("Modifier", None)], url)


def agreement_party(request, uuid):
    agreement = _managed_agreement(request, uuid)
    data = request.POST if request.method == "POST" else None  # every field is optional: an empty POST is bound
    form = PartyForm(data, agreement=agreement, user=request.user)
    url = reverse("agreements:detail", args=[agreement.uuid])
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            party = actions.add_party(
                agreement, partner=data["partner"], structure=data["structure"], signed_on=data["signed_on"]
            )
        except ValidationError as error:
            add_model_errors(form, error)
        else:
            messages.success(request, f"{party.party} est partie à la convention.")
            return redirect(url)
    return _form_page(request, form, "Ajouter une partie", [(agreement.title, url), ("Partie", None)], url)


@require_POST
def roadmap_start(request, uuid):
    agreement = _managed_agreement(request, uuid)
    try:
        actions.start_roadmap(agreement, actor=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, "La feuille de route est ouverte avec ses cinq thèmes.")
    return redirect("agreements:detail", uuid=agreement.uuid)


def item_create(request, uuid):
    agreement = _managed_agreement(request, uuid, "roadmap")
    roadmap = getattr(agreement, "roadmap", None)
    if roadmap is None:
        raise Http404
    form = NewItemForm(
        request.POST or None,
        roadmap=roadmap,
        partners=agreement.partners(),
        structures=agreement.structures(),
    )
    url = reverse("agreements:detail", args=[agreement.uuid])
    if request.method == "POST" and form.is_valid():
        form.save_tracked(request.user)
        messages.success(request, "L'action a été ajoutée à la feuille de route.")
        return redirect(url)
    return _form_page(request, form, "Nouvelle action", [(agreement.title, url), ("Nouvelle action", None)], url)


# -- Governance ------------------------------------------------------------------------------------


def governance(request):
    committees = Committee.objects.visible_to(request.user).select_related("framework")
    today = timezone.now()
    context = {
        "committees": committees,
        "events": Event.objects.visible_to(request.user).filter(starts_at__gte=today).prefetch_related("registrations"),
        "past_events": Event.objects.visible_to(request.user).filter(starts_at__lt=today).order_by("-starts_at")[:5],
        "late": FollowUp.objects.late()
        .filter(decision__meeting__committee__in=committees)
        .select_related("decision__meeting__committee", "owner"),
        "title": "Instances et événements",
        "breadcrumb": _crumbs(("Instances et événements", None)),
    }
    return render(request, "agreements/governance.html", context)


def _committee_crumbs(committee, *rest):
    return _crumbs(
        ("Instances et événements", reverse("agreements:governance")),
        (committee.name, reverse("agreements:committee", args=[committee.uuid])),
        *rest,
    )


def committee_detail(request, uuid):
    committee = get_object_or_404(Committee.objects.visible_to(request.user).select_related("framework"), uuid=uuid)
    context = {
        "committee": committee,
        "members": committee.members.select_related("partner"),
        "meetings": committee.meetings.prefetch_related("decisions"),
        "can_manage": permissions.can_manage_committee(request.user, committee),
        "title": committee.name,
        "breadcrumb": _committee_crumbs(committee)[:-1] + [(committee.name, None)],
    }
    return render(request, "agreements/committee.html", context)


def meeting_create(request, uuid):
    committee = get_object_or_404(Committee.objects.visible_to(request.user), uuid=uuid)
    if not permissions.can_manage_committee(request.user, committee):
        raise PermissionDenied
    form = MeetingForm(request.POST or None, committee=committee)
    if request.method == "POST" and form.is_valid():
        meeting = form.save_tracked(request.user)
        messages.success(request, "La réunion est enregistrée.")
        return redirect("agreements:meeting", uuid=meeting.uuid)
    url = reverse("agreements:committee", args=[committee.uuid])
    return _form_page(
        request, form, "Nouvelle réunion", _committee_crumbs(committee, ("Nouvelle réunion", None))[1:], url
    )


def meeting_detail(request, uuid):
    page = pages.meeting_page(request.user, uuid)
    meeting, members = page.meeting, page.members
    committee = meeting.committee
    can_manage = permissions.can_manage_committee(request.user, committee)
    form = decision_form = None
    if can_manage:
        posted = request.POST if request.method == "POST" else None
        form = MeetingForm(
            posted if request.POST.get("action") == "meeting" else None,
            instance=meeting,
            committee=committee,
            members=members,
        )
        decision_form = DecisionForm(
            posted if request.POST.get("action") == "decision" else None, committee=committee, members=members
        )
    if request.method == "POST":
        if not can_manage:
            raise PermissionDenied
        if request.POST.get("action") == "meeting" and form.is_valid() and form.save_or_conflict(request.user):
            messages.success(request, "Le compte rendu et les présences sont enregistrés.")
            return redirect("agreements:meeting", uuid=meeting.uuid)
        if request.POST.get("action") == "decision" and decision_form.is_valid():
            data = decision_form.cleaned_data
            follow_ups = [(data["follow_up"], data["owner"], data["due"])] if data["follow_up"] else []
            decision = actions.add_decision(meeting, text=data["text"], follow_ups=follow_ups)
            messages.success(request, f"La décision n° {decision.number} est enregistrée.")
            return redirect("agreements:meeting", uuid=meeting.uuid)
    context = {
        "meeting": meeting,
        "committee": committee,
        "present": {member.pk for member in meeting.present.all()},
        "members": members,
        "decisions": page.decisions,
        "form": form,
        "decision_form": decision_form,
        "today": datetime.date.today(),
        "title": str(meeting),
        "breadcrumb": _committee_crumbs(committee, (f"Réunion du {meeting.starts_at:%d/%m/%Y}", None)),
    }
    return render(request, "agreements/meeting.html", context)


@require_POST
def follow_up_done(request, uuid):
    follow_up = get_object_or_404(
        FollowUp.objects.filter(
            decision__meeting__committee__in=Committee.objects.visible_to(request.user)
        ).select_related("decision__meeting__committee"),
        uuid=uuid,
    )
    meeting = follow_up.decision.meeting
    if not permissions.can_manage_committee(request.user, meeting.committee):
        raise PermissionDenied
    follow_up.done_on = None if follow_up.done_on else datetime.date.today()
    follow_up.save_tracked(user=request.user)
    return redirect("agreements:meeting", uuid=meeting.uuid)


def event_detail(request, uuid):
    event = get_object_or_404(Event.objects.visible_to(request.user), uuid=uuid)
    registrations = event.registrations.select_related("user")
    context = {
        "event": event,
        "registrations": registrations,
        "registered": registrations.filter(user=request.user).exists(),
        "is_past": event.starts_at <= timezone.now(),
        "title": event.title,
        "breadcrumb": _crumbs(("Instances et événements", reverse("agreements:governance")), (event.title, None)),
    }
    return render(request, "agreements/event.html", context)


@require_POST
def event_registration(request, uuid):
    event = get_object_or_404(Event.objects.visible_to(request.user), uuid=uuid)
    if request.POST.get("action") == "cancel":
        Registration.objects.filter(event=event, user=request.user).delete()
        messages.success(request, "Votre inscription est annulée.")
    else:
        try:
            actions.register(event, request.user)
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            messages.success(request, "Vous êtes inscrit.")
    return redirect("agreements:event", uuid=event.uuid)


def committee_create(request, uuid):
    framework = get_object_or_404(FrameworkAgreement.objects.visible_to(request.user), uuid=uuid)
    if not permissions.can_manage_framework(request.user, framework):
        raise PermissionDenied
    form = CommitteeForm(request.POST or None, framework=framework)
    url = reverse("agreements:framework", args=[framework.uuid])
    if request.method == "POST" and form.is_valid():
        committee = form.save_tracked(request.user)
        messages.success(request, "L'instance est créée : ajoutez ses membres.")
        return redirect("agreements:committee", uuid=committee.uuid)
    return _form_page(request, form, "Nouvelle instance", [(framework.title, url), ("Nouvelle instance", None)], url)


def committee_member(request, uuid):
    committee = get_object_or_404(Committee.objects.visible_to(request.user), uuid=uuid)
    if not permissions.can_manage_committee(request.user, committee):
        raise PermissionDenied
    form = MemberForm(request.POST or None, committee=committee)
    url = reverse("agreements:committee", args=[committee.uuid])
    if request.method == "POST" and form.is_valid():
        member = form.save()
        messages.success(request, f"{member.partner.name} est membre de l'instance.")
        return redirect(url)
    return _form_page(request, form, "Ajouter un membre", _committee_crumbs(committee, ("Membre", None))[1:], url)


def event_create(request, uuid):
    framework = get_object_or_404(FrameworkAgreement.objects.visible_to(request.user), uuid=uuid)
    if not permissions.can_manage_framework(request.user, framework):
        raise PermissionDenied
    form = EventForm(request.POST or None, framework=framework)
    url = reverse("agreements:framework", args=[framework.uuid])
    if request.method == "POST" and form.is_valid():
        event = form.save_tracked(request.user)
        messages.success(request, "L'événement est publié : chacun peut s'y inscrire.")
        return redirect("agreements:event", uuid=event.uuid)
    return _form_page(request, form, "Nouvel événement", [(framework.title, url), ("Nouvel événement", None)], url)


# -- Attached documents ----------------------------------------------------------------------------


def _attach(request, record, field, url):
    form = AttachmentForm(request.POST, request.FILES)
    if form.is_valid():
        name, mime, content, digest = form.checked
        Attachment.objects.create(
            **{field: record},
            kind=form.cleaned_data["kind"],
            title=form.cleaned_data["title"],
            file_name=name,
            content_type=mime,
            size=len(content),
            sha256=digest,
            content=content,
            uploaded_by=request.user,
        )
        messages.success(request, f"« {name} » est joint à la convention.")
    else:
        messages.error(request, " ".join(m for errors in form.errors.values() for m in errors))
    return redirect(url)


@require_POST
def framework_attach(request, uuid):
    framework = get_object_or_404(FrameworkAgreement.objects.visible_to(request.user), uuid=uuid)
    if not permissions.can_manage_framework(request.user, framework):
        raise PermissionDenied
    return _attach(request, framework, "framework", reverse("agreements:framework", args=[framework.uuid]))


@require_POST
def agreement_attach(request, uuid):
    agreement = _managed_agreement(request, uuid)
    return _attach(request, agreement, "agreement", reverse("agreements:detail", args=[agreement.uuid]))


def attachment_download(request, uuid):
    """A file of an agreement the user sees, as an attachment (never shown inline)."""
    user = request.user
    attachment = get_object_or_404(
        Attachment.objects.filter(
            Q(framework__in=FrameworkAgreement.objects.visible_to(user))
            | Q(agreement__in=Agreement.objects.visible_to(user))
        ),
        uuid=uuid,
    )
    return stored_file_response(attachment)
