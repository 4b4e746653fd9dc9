"""Who may exchange spreadsheets. Reading goes through `visible_to(user)`; these say who may act."""

from cadre.accounts.models import WRITE_ROLES
from cadre.observatory import permissions as observatory


def _active(user):
    return user.is_authenticated and user.is_active


def can_import(user, campaign):
    """Upload answers to `campaign`: administrators, its correspondants, and the contributors of a
    structure that has a submission in it. Each row is then checked against the person's rights."""
    if not _active(user):
        return False
    if user.is_administrator or observatory.is_correspondent(user, campaign):
        return True
    structures = user.structure_ids(WRITE_ROLES)
    return bool(structures) and campaign.submissions.filter(structure_id__in=structures).exists()


def can_apply(user, answer_import):
    """Apply a checked file: the person who uploaded it (the checks were made with their rights)."""
    return _active(user) and answer_import.uploaded_by_id == user.pk and answer_import.is_ready


def can_import_registry(user, target):
    """Import structures: who may create them (administrators, Caf and federation editors; each row is
    then checked against their scope). Import partners: who may create them (administrators)."""
    from cadre.exchanges.registry import PARTNERS
    from cadre.partners.permissions import can_create_partner
    from cadre.structures.permissions import can_create_structure

    if not _active(user):
        return False
    return can_create_partner(user) if target == PARTNERS else can_create_structure(user)


def can_apply_registry(user, registry_import):
    return _active(user) and registry_import.uploaded_by_id == user.pk and registry_import.is_ready
