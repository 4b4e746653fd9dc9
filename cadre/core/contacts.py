"""Contact pages shared by structures and partners; the caller checks who may edit the owner."""

from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import reverse


def contact_form_page(request, *, contact, owner, form_class, app, owner_label, list_label):
    """Create or edit `contact` of `owner` (a structure or a partner), recorded under the user's name."""
    form = form_class(request.POST or None, instance=contact)
    detail_url = reverse(f"{app}:detail", args=[owner.uuid])
    if request.method == "POST" and form.is_valid() and form.save_or_conflict(request.user) is not None:
        messages.success(request, f"Le contact « {form.instance.name} » a été enregistré.")
        return redirect(detail_url)
    title = "Modifier le contact" if contact.pk else "Nouveau contact"
    context = {
        "form": form,
        "owner": owner,
        "owner_label": owner_label,
        "title": title,
        "cancel_url": detail_url,
        "delete_url": reverse(f"{app}:contact_delete", args=[owner.uuid, contact.uuid]) if contact.pk else "",
        "breadcrumb": [(list_label, reverse(f"{app}:list")), (owner.name, detail_url), (title, None)],
    }
    return render(request, "core/contact_form.html", context)


def delete_contact(request, *, contact, owner, app):
    contact._history_user = request.user
    contact.delete()
    messages.success(request, f"Le contact « {contact.name} » a été supprimé.")
    return redirect(f"{app}:detail", uuid=owner.uuid)
