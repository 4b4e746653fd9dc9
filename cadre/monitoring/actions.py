"""The life of a statement: entered, sent, then accepted or returned with the reason."""

from django.db import transaction
from django.utils import timezone

from cadre.monitoring.enums import StatementStatus
from cadre.monitoring.models import FinancialStatement


class StatementStateError(Exception):
    """The statement is no longer in the state the action needs (someone acted meanwhile)."""


def _move(statement, allowed, user, **changes):
    """Change the statement's state if it still is in one of `allowed`, with its version, in one history entry."""
    with transaction.atomic():
        locked = FinancialStatement.objects.select_for_update().get(pk=statement.pk)
        if locked.status not in allowed:
            raise StatementStateError(f"Ces comptes sont désormais « {locked.get_status_display()} ».")
        for name, value in changes.items():
            setattr(locked, name, value)
        locked.save_tracked(expected_version=locked.version, user=user)
    return locked


def submit(statement, user):
    """Send the accounts to the partners, once they add up (the form has already checked them)."""
    statement.clean()
    return _move(
        statement,
        {StatementStatus.DRAFT, StatementStatus.RETURNED},
        user,
        status=StatementStatus.SUBMITTED,
        submitted_at=timezone.now(),
        submitted_by=user,
    )


def accept(statement, user):
    return _move(
        statement,
        {StatementStatus.SUBMITTED},
        user,
        status=StatementStatus.ACCEPTED,
        reviewed_at=timezone.now(),
        reviewed_by=user,
        review_comment="",
    )


def return_to_structure(statement, user, comment):
    return _move(
        statement,
        {StatementStatus.SUBMITTED},
        user,
        status=StatementStatus.RETURNED,
        reviewed_at=timezone.now(),
        reviewed_by=user,
        review_comment=comment,
    )
