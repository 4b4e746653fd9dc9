"""Named action rights on structures, shared by pages, exports and the API.

Each right is a row condition (Q), so a page can read it as an annotation of the query that
loads the structure (`with_rights`) instead of asking the database once per right.
"""

from django.db.models import BooleanField, Case, Q, Value, When

from cadre.accounts.models import WRITE_ROLES
from cadre.partners.models import PartnerKind
from cadre.structures.models import EDITING_PARTNER_KINDS, Structure, parts_q, scope_parts

NOTHING = Q(pk__in=[])
# Marks a right that holds on every structure the user can see: no condition to evaluate.
EVERY_VISIBLE = object()


def _active(user):
    return user.is_authenticated and user.is_active


def _condition(user, parts):
    """Q for a right reaching `parts`, or EVERY_VISIBLE when it reaches exactly what the user sees."""
    if parts == scope_parts(user):
        return EVERY_VISIBLE
    return parts_q(parts)


def edit_condition(user):
    """Administrators; the structure's own editors; Caf and federation editors of its scope."""
    if not _active(user):
        return NOTHING
    if user.is_administrator:
        return EVERY_VISIBLE
    return _condition(user, scope_parts(user, roles=WRITE_ROLES, partner_kinds=EDITING_PARTNER_KINDS))


def approvals_condition(user):
    """Approvals are Caf decisions: administrators and Caf editors of the structure's territory."""
    if not _active(user):
        return NOTHING
    if user.is_administrator:
        return EVERY_VISIBLE
    caf_ids = [p for p, kind in user.partner_kinds(WRITE_ROLES).items() if kind == PartnerKind.CAF]
    return _condition(user, (frozenset(), frozenset(), *user.partner_territory(caf_ids))) if caf_ids else NOTHING


def with_rights(queryset, user):
    """Annotate `user_can_edit` and `user_can_manage_approvals` for `user` (rows already visible to them)."""

    def flag(condition):
        if condition is EVERY_VISIBLE:
            return Value(True, output_field=BooleanField())
        return Case(When(condition, then=Value(True)), default=Value(False), output_field=BooleanField())

    return queryset.annotate(
        user_can_edit=flag(edit_condition(user)), user_can_manage_approvals=flag(approvals_condition(user))
    )


def _holds(user, structure, annotation, condition):
    if hasattr(structure, annotation):
        return getattr(structure, annotation)
    if condition is EVERY_VISIBLE:
        return Structure.objects.visible_to(user).filter(pk=structure.pk).exists()
    return Structure.objects.filter(condition, pk=structure.pk).exists()


def can_view_structure(user, structure):
    return _active(user) and Structure.objects.visible_to(user).filter(pk=structure.pk).exists()


def can_create_structure(user):
    """Administrators, and the Caf and federation staff who may write."""
    if not _active(user):
        return False
    return user.is_administrator or any(
        kind in EDITING_PARTNER_KINDS for kind in user.partner_kinds(WRITE_ROLES).values()
    )


def can_edit_structure(user, structure):
    return _active(user) and _holds(user, structure, "user_can_edit", edit_condition(user))


def can_manage_approvals(user, structure):
    return _active(user) and _holds(user, structure, "user_can_manage_approvals", approvals_condition(user))
