from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from cadre.accounts.invitations import can_view_members
from cadre.accounts.members import members_page
from cadre.core.contacts import contact_form_page, delete_contact
from cadre.core.pagination import paginate
from cadre.core.views import history_page
from cadre.partners import permissions
from cadre.partners.forms import PartnerContactForm, PartnerFilterForm, PartnerForm
from cadre.partners.models import Partner, PartnerContact


def partner_list(request):
    form = PartnerFilterForm(request.GET or None)
    queryset = Partner.objects.visible_to(request.user)
    queryset = form.apply(queryset) if form.is_bound else queryset.order_by("name", "pk")
    page = paginate(queryset, request.GET.get("page"), settings.CADRE_PAGE_SIZE)
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "form": form,
        "page": page,
        "query": query.urlencode(),
        "can_create": permissions.can_create_partner(request.user),
        "title": "Partenaires",
        "breadcrumb": [("Partenaires", None)],
    }
    template = "partners/_results.html" if request.htmx else "partners/list.html"
    return render(request, template, context)


def partner_detail(request, uuid):
    partner = get_object_or_404(Partner.objects.visible_to(request.user), uuid=uuid)
    context = {
        "partner": partner,
        "departments": partner.departments.all(),
        "communes": partner.communes.all(),
        "contacts": partner.contacts.all(),
        "member_count": partner.member_structures.count() if partner.is_federation else None,
        "history_url": reverse("partners:history", args=[partner.uuid]),
        "can_edit": permissions.can_edit_partner(request.user, partner),
        "can_view_members": can_view_members(request.user, partner),
        "title": partner.name,
        "breadcrumb": [("Partenaires", reverse("partners:list")), (partner.name, None)],
    }
    return render(request, "partners/detail.html", context)


def partner_history(request, uuid):
    partner = get_object_or_404(Partner.objects.visible_to(request.user), uuid=uuid)
    return history_page(
        request,
        partner,
        ("Contact", PartnerContact.history.filter(partner_id=partner.pk)),
        name=partner.name,
        owner_url=reverse("partners:detail", args=[partner.uuid]),
        breadcrumb=[("Partenaires", reverse("partners:list"))],
    )


def _form_page(request, form, title, partner=None):
    crumbs = [("Partenaires", reverse("partners:list"))]
    if partner:
        crumbs.append((partner.name, reverse("partners:detail", args=[partner.uuid])))
    crumbs.append((title, None))
    return render(
        request, "partners/form.html", {"form": form, "partner": partner, "title": title, "breadcrumb": crumbs}
    )


def partner_create(request):
    if not permissions.can_create_partner(request.user):
        raise PermissionDenied
    form = PartnerForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        partner = form.save_tracked(request.user)
        messages.success(request, f"Le partenaire « {partner.name} » a été créé.")
        return redirect("partners:detail", uuid=partner.uuid)
    return _form_page(request, form, "Nouveau partenaire")


def partner_edit(request, uuid):
    partner = get_object_or_404(Partner.objects.visible_to(request.user), uuid=uuid)
    if not permissions.can_edit_partner(request.user, partner):
        raise PermissionDenied
    form = PartnerForm(request.POST or None, instance=partner)
    if request.method == "POST" and form.is_valid():
        if form.save_or_conflict(request.user) is not None:
            messages.success(request, "Les modifications ont été enregistrées.")
            return redirect("partners:detail", uuid=partner.uuid)
    return _form_page(request, form, f"Modifier {partner.name}", partner)


def contact_create(request, uuid):
    partner = get_object_or_404(Partner.objects.visible_to(request.user), uuid=uuid)
    return _contact_form(request, partner, partner.contacts.model(partner=partner))


def contact_edit(request, uuid, contact):
    partner = get_object_or_404(Partner.objects.visible_to(request.user), uuid=uuid)
    return _contact_form(request, partner, get_object_or_404(partner.contacts, uuid=contact))


def _contact_form(request, partner, contact):
    if not permissions.can_edit_partner(request.user, partner):
        raise PermissionDenied
    return contact_form_page(
        request,
        contact=contact,
        owner=partner,
        form_class=PartnerContactForm,
        app="partners",
        owner_label="Partenaire",
        list_label="Partenaires",
    )


@require_POST
def contact_delete(request, uuid, contact):
    partner = get_object_or_404(Partner.objects.visible_to(request.user), uuid=uuid)
    if not permissions.can_edit_partner(request.user, partner):
        raise PermissionDenied
    contact = get_object_or_404(partner.contacts, uuid=contact)
    return delete_contact(request, contact=contact, owner=partner, app="partners")


def partner_members(request, uuid):
    partner = get_object_or_404(Partner.objects.visible_to(request.user), uuid=uuid)
    breadcrumb = [("Partenaires", reverse("partners:list")), (partner.name, reverse("partners:detail", args=[uuid]))]
    return members_page(request, partner, breadcrumb=breadcrumb)
