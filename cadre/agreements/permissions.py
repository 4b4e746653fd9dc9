"""Named rights on agreements, shared by pages and the API."""

from cadre.accounts.models import WRITE_ROLES
from cadre.agreements.models import SignatoryRole


def _active(user):
    return user.is_authenticated and user.is_active


def can_create_framework(user):
    return _active(user) and user.is_administrator


def can_manage_framework(user, framework):
    """Administrators, and the staff who may write of a co-chairing partner."""
    if not _active(user):
        return False
    if user.is_administrator:
        return True
    chairs = framework.signatories.filter(role=SignatoryRole.CO_CHAIR, left_on__isnull=True)
    return chairs.filter(partner_id__in=sorted(user.partner_ids(WRITE_ROLES))).exists()


def can_manage_agreement(user, agreement):
    """Administrators, and the staff who may write of a partner party to the agreement."""
    if not _active(user):
        return False
    if user.is_administrator:
        return True
    # Read in Python: an agreement has a handful of parties, and its page has them already (prefetched).
    writers = user.partner_ids(WRITE_ROLES)
    return any(party.partner_id in writers and party.left_on is None for party in agreement.parties.all())


def can_update_item(user, item):
    """The agreement's managers, and the item's owner (a partner's or a structure's writers)."""
    if can_manage_agreement(user, item.theme.roadmap.agreement):
        return True
    if not _active(user):
        return False
    if item.owner_partner_id and item.owner_partner_id in user.partner_ids(WRITE_ROLES):
        return True
    return bool(item.owner_structure_id and item.owner_structure_id in user.structure_ids(WRITE_ROLES))


def can_create_agreement(user):
    """Administrators, and the staff who may write of a partner (who becomes party to it)."""
    return _active(user) and (user.is_administrator or bool(user.partner_ids(WRITE_ROLES)))


def can_manage_committee(user, committee):
    """The framework's managers (administrators, co-chairs' writers) and the writers of the chair."""
    from cadre.agreements.models import MemberRole

    if can_manage_framework(user, committee.framework):
        return True
    chairs = committee.members.filter(role=MemberRole.CHAIR, partner_id__in=sorted(user.partner_ids(WRITE_ROLES)))
    return _active(user) and chairs.exists()
