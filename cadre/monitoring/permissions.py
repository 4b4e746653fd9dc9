"""Named rights on financial statements: who enters a structure's accounts, who accepts them."""

from cadre.accounts.models import WRITE_ROLES
from cadre.funding.models import FundingLine
from cadre.monitoring.enums import StatementStatus
from cadre.monitoring.models import EDITABLE_STATUSES


def _active(user):
    return user.is_authenticated and user.is_active


def can_enter(user, structure):
    """The structure's own staff who may write, and the administrators: the accounts are the structure's."""
    return _active(user) and (user.is_administrator or structure.pk in user.structure_ids(WRITE_ROLES))


def can_edit(user, statement):
    return can_enter(user, statement.structure) and statement.status in EDITABLE_STATUSES


def can_submit(user, statement):
    return can_edit(user, statement)


def funds(user, statement):
    """Whether a partner of the user's, with write rights, funds the structure around that fiscal year."""
    partners = sorted(user.partner_ids(WRITE_ROLES))
    return bool(partners) and (
        FundingLine.objects.filter(
            structure_id=statement.structure_id,
            partner_id__in=partners,
            year__range=(statement.year - 1, statement.year + 1),
        ).exists()
    )


def can_review(user, statement):
    """Administrators, and the writers of a partner that funds the structure: like a questionnaire, sent
    accounts are accepted or returned by those who rely on them."""
    if not _active(user) or statement.status != StatementStatus.SUBMITTED:
        return False
    return user.is_administrator or funds(user, statement)


# -- Early warning: the alerts list, acknowledgements, subscriptions, rules -------------------------------------


def can_view_alerts(user):
    """The alerts list is the partners' (federation included) and the administrators' watch over a territory;
    a structure's own people see their status on its financial-health page."""
    return _active(user) and (user.is_administrator or bool(user.partner_ids()))


def can_acknowledge(user, status):
    """A partner's writers and the administrators acknowledge a status that is not green (the view has already
    checked that the user sees the structure)."""
    from cadre.monitoring.alert_models import HealthLevel

    if not _active(user) or status.level == HealthLevel.GREEN:
        return False
    return user.is_administrator or bool(user.partner_ids(WRITE_ROLES))


def funded_structure_ids(user, structure_ids, today):
    """Which of `structure_ids` a partner of the user's funds (a funding line of the last three years or later)."""
    partners = sorted(user.partner_ids()) if _active(user) else []
    if not partners:
        return set()
    return set(
        FundingLine.objects.filter(
            structure_id__in=structure_ids, partner_id__in=partners, year__gte=today.year - 2
        ).values_list("structure_id", flat=True)
    )


def can_subscribe(user, structure, today):
    """A partner's user may be told by e-mail when a structure its partner funds turns to alerte."""
    return structure.pk in funded_structure_ids(user, [structure.pk], today)


def can_subscribe_to_all(user):
    """Any partner user may follow every structure its partners fund (the list tells which ones)."""
    return _active(user) and bool(user.partner_ids())


def can_edit_rules(user):
    return _active(user) and user.is_administrator


def can_import_statements(user):
    """Import annual accounts: who may enter them in the form (monitoring.permissions.can_enter), that is the
    administrators and the writers of a structure; each row is then checked against the structures they see and
    may enter."""
    if not _active(user):
        return False
    return user.is_administrator or bool(user.structure_ids(WRITE_ROLES))


def can_apply_statements(user, statement_import):
    return _active(user) and statement_import.uploaded_by_id == user.pk and statement_import.is_ready
