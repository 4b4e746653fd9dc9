"""Named rights of the observatory, shared by pages, spreadsheets and the API.

Reading goes through `visible_to(user)`; these say who may act.
"""

from django.utils import timezone

from cadre.accounts.models import WRITE_ROLES
from cadre.observatory.models import TO_REVIEW_STATUSES, Correspondent, SubmissionStatus
from cadre.structures.models import sees_structure


def _active(user):
    return user.is_authenticated and user.is_active


def is_data_manager(user):
    """The partnership's data manager (an administrator of the platform)."""
    return _active(user) and user.is_administrator


def can_manage_campaigns(user):
    """Create, open and configure campaigns: the partnership's data manager."""
    return _active(user) and user.is_administrator


def can_fill(user, submission):
    """Write the answers: the structure's managers and contributors (and administrators)."""
    if not _active(user):
        return False
    return user.is_administrator or submission.structure_id in user.structure_ids(WRITE_ROLES)


def can_edit_answers(user, submission, today=None):
    return can_fill(user, submission) and submission.is_open_to_structure(today or timezone.localdate())


def can_submit(user, submission, today=None):
    return can_edit_answers(user, submission, today)


def is_correspondent(user, campaign, department_code=None):
    if not _active(user):
        return False
    found = Correspondent.objects.filter(campaign=campaign, user=user)
    if department_code is not None:
        found = found.filter(department_id=department_code)
    return found.exists()


def can_review(user, submission):
    """Return or validate: administrators, and the campaign's correspondants of the structure's département who
    see the submission.

    Whether the user sees it is read from their scope in memory (`sees_structure`: no query when the submission
    comes with its campaign and its structure's commune, as every page and endpoint reads it); whether they are a
    correspondant there, from one small table."""
    if not _active(user):
        return False
    if user.is_administrator:
        return True
    structure = submission.structure
    return (
        submission.campaign.opened_at is not None
        and sees_structure(user, structure)
        and is_correspondent(user, submission.campaign_id, structure.commune.department_id)
    )


def can_review_now(user, submission):
    return submission.status in TO_REVIEW_STATUSES and can_review(user, submission)


def can_reopen(user, submission):
    """Reopening a validated submission is the data manager's decision, with a reason."""
    return _active(user) and user.is_administrator and submission.status == SubmissionStatus.VALIDATED


def can_remind(user, campaign):
    """Send reminders to late structures: administrators and the campaign's correspondants."""
    return _active(user) and (user.is_administrator or is_correspondent(user, campaign))


def reviewed_departments(user, campaign):
    """Département codes the user reviews in `campaign` (None: all, for administrators)."""
    if not _active(user):
        return set()
    if user.is_administrator:
        return None
    mine = Correspondent.objects.filter(campaign=campaign, user=user).order_by()  # no join for the default order
    return set(mine.values_list("department_id", flat=True))
