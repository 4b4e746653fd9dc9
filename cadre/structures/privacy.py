"""Personal-data rights of the people named as contacts of structures and partners: the data manager finds every
record naming a person (by e-mail address or name), gives them a copy, and erases them — history included."""

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from cadre.partners.models import PartnerContact
from cadre.structures.models import StructureContact

CONTACT_MODELS = [(StructureContact, "structure"), (PartnerContact, "partner")]
ERASED = {"name": "Contact supprimé", "position": "", "email": "", "phone": ""}


def can_handle_requests(user):
    """Requests about contacts go to the partnership's data manager."""
    return user.is_authenticated and user.is_administrator


def matching_contacts(query):
    """Every contact record whose e-mail address or whole name is `query` (case ignored)."""
    query = (query or "").strip()
    if not query:
        return []
    condition = Q(email__iexact=query) if "@" in query else Q(name__iexact=query)
    found = []
    for model, owner in CONTACT_MODELS:
        found += list(model.objects.filter(condition).select_related(owner).order_by("name", "pk"))
    return found


def owner_of(contact):
    return contact.structure if isinstance(contact, StructureContact) else contact.partner


def contact_record(contact):
    return {
        "organisation": str(owner_of(contact)),
        "nom": contact.name,
        "fonction": contact.position,
        "adresse électronique": contact.email,
        "téléphone": contact.phone,
        "dans l’annuaire public": getattr(contact, "is_public", False),
        "modifications enregistrées": contact.history.count(),
        "modifiée le": timezone.localtime(contact.updated_at).isoformat(timespec="seconds"),
    }


def with_owner_and_history(contacts):
    for contact in contacts:
        contact.owner = owner_of(contact)
        contact.history_count = contact.history.count()
    return contacts


def erase_contacts(contacts, *, actor):
    """Delete the contacts and blank the person out of their history; the history keeps that a contact existed."""
    with transaction.atomic():
        for contact in contacts:
            contact._history_user = actor
            contact_id = contact.pk
            contact.delete()
            type(contact).history.model.objects.filter(id=contact_id).update(**ERASED)
    return len(contacts)


def contacts_of_user(user):
    """For a user's own data download: the contact records that carry their e-mail address."""
    return [contact_record(c) for c in matching_contacts(user.email)]
