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
