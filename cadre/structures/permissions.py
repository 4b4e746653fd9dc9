"""Named action rights on structures, shared by pages, exports and the API."""

from cadre.accounts.models import WRITE_ROLES
from cadre.partners.models import PartnerKind, territory_q
from cadre.structures.models import EDITING_PARTNER_KINDS, Structure


def _active(user):
    return user.is_authenticated and user.is_active


def can_view_structure(user, structure):
    return _active(user) and Structure.objects.visible_to(user).filter(pk=structure.pk).exists()


def can_create_structure(user):
    """Administrators, and the Caf and federation staff who may write."""
    if not _active(user):
        return False
    return user.is_administrator or any(p.kind in EDITING_PARTNER_KINDS for p in user.partners(WRITE_ROLES))


def can_edit_structure(user, structure):
    """Administrators; the structure's own editors; Caf and federation editors of its scope."""
    return _active(user) and Structure.objects.editable_by(user).filter(pk=structure.pk).exists()


def can_manage_approvals(user, structure):
    """Approvals are Caf decisions: administrators and Caf editors of the structure's territory."""
    if not _active(user):
        return False
    if user.is_administrator:
        return True
    caf_ids = [p.pk for p in user.partners(WRITE_ROLES) if p.kind == PartnerKind.CAF]
    if not caf_ids:
        return False
    return Structure.objects.filter(territory_q(caf_ids), pk=structure.pk).exists()


def can_export_structures(user):
    return _active(user)
