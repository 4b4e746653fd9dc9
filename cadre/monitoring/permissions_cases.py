"""Named rights on difficulty reports and support cases. What a user may *read* is decided by the querysets'
`visible_to` (case_models.py); these say what a user may *do*."""

from cadre.accounts.models import WRITE_ROLES
from cadre.agreements.models import Committee, CommitteeMember
from cadre.monitoring.case_models import SUPPORT_KINDS, Circle


def _active(user):
    return user.is_authenticated and user.is_active


def can_report(user, structure):
    """A structure's own writers report its difficulties (administrators may, for them)."""
    return _active(user) and (user.is_administrator or structure.pk in user.structure_ids(WRITE_ROLES))


def support_bodies(user):
    """The support bodies (cellule d'appui, comité technique) where the user may open cases."""
    if not _active(user):
        return Committee.objects.none()
    bodies = Committee.objects.filter(kind__in=SUPPORT_KINDS)
    if user.is_administrator:
        return bodies
    return bodies.filter(members__partner_id__in=sorted(user.partner_ids(WRITE_ROLES))).distinct()


def can_open_case(user):
    return support_bodies(user).exists()


def sits_on_body(user, case, roles=WRITE_ROLES):
    """Whether a partner of the user's (with one of `roles`) is a member of the case's support body."""
    return CommitteeMember.objects.filter(
        committee_id=case.committee_id, partner_id__in=sorted(user.partner_ids(roles))
    ).exists()


def can_manage_case(user, case):
    """The body's writers (and administrators) move the case on: status, actions, plan, links. Not once closed."""
    if not _active(user) or case.is_closed:
        return False
    return user.is_administrator or sits_on_body(user, case)


def writable_circles(user, case):
    """The circles in which the user may write a note or a document on the case (the first is the default):
    the body for its members, the partners concerned for the case's members, the structure for its own writers
    once the case is shared with it. Nothing once the case is closed."""
    if not _active(user) or case.is_closed:
        return []
    if user.is_administrator or sits_on_body(user, case):
        return [Circle.BODY, Circle.PARTNERS, Circle.STRUCTURE]
    if case.members.filter(pk__in=sorted(user.partner_ids(WRITE_ROLES))).exists():
        return [Circle.PARTNERS, Circle.STRUCTURE]
    if case.structure_id in user.structure_ids(WRITE_ROLES):
        return [Circle.STRUCTURE]
    return []


def can_write(user, case):
    return bool(writable_circles(user, case))


def can_complete_action(user, action):
    """The body's writers, and the writers of the action's owner (a partner, or the structure)."""
    case = action.case
    if not _active(user) or case.is_closed or action.done_on:
        return False
    if can_manage_case(user, case):
        return True
    if action.owner_is_structure:
        return case.structure_id in user.structure_ids(WRITE_ROLES)
    return action.owner_id is not None and action.owner_id in user.partner_ids(WRITE_ROLES)


def can_edit_action(user, action):
    """Those who add actions (the body's writers, administrators) change them, and reopen a done one, while the
    case is open."""
    return can_manage_case(user, action.case)
