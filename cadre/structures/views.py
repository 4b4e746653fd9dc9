import uuid

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.views.decorators.http import require_POST

from cadre.accounts.invitations import can_view_members
from cadre.accounts.members import members_page
from cadre.core.contacts import contact_form_page, delete_contact
from cadre.core.exports import cached_file, file_response, table_bytes
from cadre.core.french import plural
from cadre.core.pagination import paginate
from cadre.core.sorting import sort_headers
from cadre.core.views import history_page
from cadre.structures import permissions, privacy
from cadre.structures.exports import HEADERS, export_rows, export_stamp
from cadre.structures.forms import COLUMNS, ApprovalForm, StructureContactForm, StructureFilterForm, StructureForm
from cadre.structures.models import Approval, Structure, StructureContact, StructureKind
from cadre.structures.overview import structure_links
from cadre.territories.reference import department_place, epci_name

LIST_FIELDS = ["uuid", "name", "kind", "management", "priority_area_status", "commune__name", "commune__department_id"]
_UUID_SLOT = uuid.UUID(int=0)


def _table_rows(structures):
    """The list's rows as plain values.

    The template engine reads a dict key at once but tries a model attribute three ways, and
    `{% url %}` and `|date` cost tens of microseconds a call: on the busiest page, 25 rows of
    those were a fifth of the time.
    """
    detail_url, slot = reverse("structures:detail", args=[_UUID_SLOT]), str(_UUID_SLOT)
    return [
        {
            "url": detail_url.replace(slot, str(s.uuid)),
            "name": s.name,
            "is_evs": s.kind == StructureKind.EVS,
            "commune": f"{s.commune.name} ({s.commune.department_id})",
            "management": s.get_management_display(),
            "qpv": s.priority_area_status,
            "approval_ends": s.approval_ends.strftime("%d/%m/%Y") if s.approval_ends else "",
        }
        for s in structures
    ]


def _filtered(request):
    # Always bound: with no parameters every filter is empty and the default sort applies.
    form = StructureFilterForm(request.GET, user=request.user)
    return form, form.apply(Structure.objects.visible_to(request.user))


def structure_list(request):
    form, queryset = _filtered(request)
    # Only what the table shows: the list is the busiest page.
    queryset = queryset.select_related("commune").only(*LIST_FIELDS)
    page = paginate(queryset, request.GET.get("page"), settings.CADRE_PAGE_SIZE)
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "form": form,
        "page": page,
        "rows": _table_rows(page.object_list),
        "headers": sort_headers(COLUMNS, request.GET, form.sort_key),
        "query": query.urlencode(),
        "can_create": permissions.can_create_structure(request.user),
        "today": timezone.localdate(),
        "title": "Structures",
        "breadcrumb": [("Structures", None)],
    }
    template = "structures/_results.html" if request.htmx and not request.htmx.boosted else "structures/list.html"
    return render(request, template, context)


def structure_export(request, fmt):
    _, queryset = _filtered(request)
    today = timezone.localdate()  # the approval in force changes with the day
    key = ("structures-export", fmt, today, export_stamp(queryset))
    content = cached_file(key, lambda: table_bytes(fmt, HEADERS, export_rows(queryset), "Structures"))
    return file_response(content, f"structures-{today.isoformat()}", fmt)


def _get_visible(request, uuid, with_rights=False):
    queryset = Structure.objects.visible_to(request.user).select_related("commune", "federation")
    if with_rights:
        queryset = permissions.with_rights(queryset, request.user)
    return get_object_or_404(queryset, uuid=uuid)


def structure_detail(request, uuid):
    structure = _get_visible(request, uuid, with_rights=True)
    department, region = department_place(structure.commune.department_id)
    context = {
        "structure": structure,
        "department_name": department,
        "region_name": region,
        "epci_name": epci_name(structure.commune.epci_id),
        "approvals": structure.approvals.all(),
        "contacts": structure.contacts.all(),
        "priority_areas": structure.priority_areas.all(),
        "history_url": reverse("structures:history", args=[structure.uuid]),
        "can_edit": permissions.can_edit_structure(request.user, structure),
        "can_manage_approvals": permissions.can_manage_approvals(request.user, structure),
        "can_view_members": can_view_members(request.user, structure),
        "links": structure_links(structure, request.user),
        "today": timezone.localdate(),
        "title": structure.name,
        "breadcrumb": [("Structures", reverse("structures:list")), (structure.name, None)],
    }
    return render(request, "structures/detail.html", context)


def structure_history(request, uuid):
    structure = get_object_or_404(Structure.objects.visible_to(request.user), uuid=uuid)
    return history_page(
        request,
        structure,
        ("Agrément", Approval.history.filter(structure_id=structure.pk)),
        ("Contact", StructureContact.history.filter(structure_id=structure.pk)),
        name=structure.name,
        owner_url=reverse("structures:detail", args=[structure.uuid]),
        breadcrumb=[("Structures", reverse("structures:list"))],
    )


def _out_of_scope(form):
    form.add_error(
        "federation" if form.cleaned_data.get("federation") else "commune",
        "Cette structure serait hors de votre périmètre : choisissez une commune de votre territoire "
        "(ou votre fédération d'adhésion).",
    )


def structure_create(request):
    if not permissions.can_create_structure(request.user):
        raise PermissionDenied
    form = StructureForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            structure = form.save_tracked(request.user)
            if not permissions.can_edit_structure(request.user, structure):
                # Created outside the creator's scope: undo, and say which field decides it.
                transaction.set_rollback(True)
                _out_of_scope(form)
                structure = None
        if structure is not None:
            messages.success(request, f"La structure « {structure.name} » a été créée.")
            return redirect("structures:detail", uuid=structure.uuid)
    return render(
        request,
        "structures/form.html",
        {
            "form": form,
            "title": "Nouvelle structure",
            "breadcrumb": [("Structures", reverse("structures:list")), ("Nouvelle structure", None)],
        },
    )


def structure_edit(request, uuid):
    structure = _get_visible(request, uuid)
    if not permissions.can_edit_structure(request.user, structure):
        raise PermissionDenied
    form = StructureForm(request.POST or None, instance=structure)
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            saved = form.save_or_conflict(request.user)
            if saved is not None and not permissions.can_edit_structure(request.user, saved):
                # A mistyped commune must not move the structure out of its editor's reach.
                transaction.set_rollback(True)
                _out_of_scope(form)
                saved = None
        if saved is not None:
            messages.success(request, "Les modifications ont été enregistrées.")
            return redirect("structures:detail", uuid=structure.uuid)
    return render(
        request,
        "structures/form.html",
        {
            "form": form,
            "structure": structure,
            "title": f"Modifier {structure.name}",
            "breadcrumb": [
                ("Structures", reverse("structures:list")),
                (structure.name, reverse("structures:detail", args=[structure.uuid])),
                ("Modifier", None),
            ],
        },
    )


def priority_area_choices(request):
    """The QPV checkboxes of the structure form, redrawn for the commune typed (an htmx fragment, GET).

    `structure` (optional) keeps its linked QPV listed; the QPV ticked on the page stay ticked.
    """
    structure = None
    if request.GET.get("structure"):
        try:
            structure = _get_visible(request, uuid.UUID(request.GET["structure"]))
        except ValueError:
            raise Http404 from None
    initial = {"commune": request.GET.get("commune", ""), "priority_areas": request.GET.getlist("priority_areas")}
    form = StructureForm(instance=structure, initial=initial)
    response = HttpResponse(form["priority_areas"].as_field_group())
    response["HX-Push-Url"] = "false"  # a fragment: the page address stays the form's
    return response


def _approval_page(request, structure, form, title):
    return render(
        request,
        "structures/approval_form.html",
        {
            "form": form,
            "structure": structure,
            "title": title,
            "breadcrumb": [
                ("Structures", reverse("structures:list")),
                (structure.name, reverse("structures:detail", args=[structure.uuid])),
                (title, None),
            ],
        },
    )


def approval_create(request, uuid):
    structure = _get_visible(request, uuid)
    if not permissions.can_manage_approvals(request.user, structure):
        raise PermissionDenied
    form = ApprovalForm(request.POST or None, structure=structure)
    if request.method == "POST" and form.is_valid():
        form.save_tracked(request.user)
        messages.success(request, "L'agrément a été enregistré.")
        return redirect("structures:detail", uuid=structure.uuid)
    return _approval_page(request, structure, form, "Nouvel agrément")


def approval_edit(request, uuid):
    approval = get_object_or_404(Approval.objects.visible_to(request.user).select_related("structure"), uuid=uuid)
    structure = approval.structure
    if not permissions.can_manage_approvals(request.user, structure):
        raise PermissionDenied
    form = ApprovalForm(request.POST or None, instance=approval, structure=structure)
    if request.method == "POST" and form.is_valid():
        if form.save_or_conflict(request.user) is not None:
            messages.success(request, "L'agrément a été modifié.")
            return redirect("structures:detail", uuid=structure.uuid)
    return _approval_page(request, structure, form, "Modifier l'agrément")


@require_POST
def approval_delete(request, uuid):
    approval = get_object_or_404(Approval.objects.visible_to(request.user).select_related("structure"), uuid=uuid)
    if not permissions.can_manage_approvals(request.user, approval.structure):
        raise PermissionDenied
    approval._history_user = request.user
    approval.delete()
    messages.success(request, f"L'agrément « {approval} » a été supprimé.")
    return redirect("structures:detail", uuid=approval.structure.uuid)


def contact_create(request, uuid):
    structure = _get_visible(request, uuid)
    return _contact_form(request, structure, StructureContact(structure=structure))


def contact_edit(request, uuid, contact):
    structure = _get_visible(request, uuid)
    contact = get_object_or_404(structure.contacts, uuid=contact)
    return _contact_form(request, structure, contact)


def _contact_form(request, structure, contact):
    if not permissions.can_edit_structure(request.user, structure):
        raise PermissionDenied
    return contact_form_page(
        request,
        contact=contact,
        owner=structure,
        form_class=StructureContactForm,
        app="structures",
        owner_label="Structure",
        list_label="Structures",
    )


@require_POST
def contact_delete(request, uuid, contact):
    structure = _get_visible(request, uuid)
    if not permissions.can_edit_structure(request.user, structure):
        raise PermissionDenied
    contact = get_object_or_404(structure.contacts, uuid=contact)
    return delete_contact(request, contact=contact, owner=structure, app="structures")


def contact_requests(request):
    """The data manager answers a person named as a contact: a copy of every record naming them, or erasure."""
    if not privacy.can_handle_requests(request.user):
        raise PermissionDenied
    query = (request.POST.get("q") or request.GET.get("q") or "").strip()
    contacts = privacy.matching_contacts(query)
    if request.method == "POST":
        if not contacts:
            messages.error(request, f"Aucun contact ne correspond à « {query} » : rien n’a été effacé.")
        elif request.POST.get("confirm") != "yes":
            messages.error(request, "Cochez la case de confirmation pour effacer ces contacts : rien n’a été effacé.")
        else:
            erased = privacy.erase_contacts(contacts, actor=request.user)
            messages.success(
                request,
                f"{plural(erased, 'contact effacé,contacts effacés')}, historique compris, pour « {query} ».",
            )
        return redirect(f"{reverse('structures:contact_requests')}?{urlencode({'q': query})}")
    if request.GET.get("format") == "json":
        records = [privacy.contact_record(c) for c in contacts]
        response = JsonResponse({"demande": query, "contacts": records}, json_dumps_params={"ensure_ascii": False})
        response["Content-Disposition"] = 'attachment; filename="contacts-donnees-personnelles.json"'
        return response
    context = {
        "query": query,
        "contacts": privacy.with_owner_and_history(contacts),
        "title": "Demandes sur les données d’un contact",
        "breadcrumb": [("Données personnelles", reverse("core:personal_data")), ("Demandes d’un contact", None)],
    }
    return render(request, "structures/contact_requests.html", context)


def structure_members(request, uuid):
    structure = _get_visible(request, uuid)
    breadcrumb = [
        ("Structures", reverse("structures:list")),
        (structure.name, reverse("structures:detail", args=[uuid])),
    ]
    return members_page(request, structure, breadcrumb=breadcrumb)
