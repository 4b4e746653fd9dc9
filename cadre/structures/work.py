"""The registry's share of the home page: approvals ending within six months."""

from django.urls import reverse

from cadre.core.french import plural
from cadre.core.work import WorkItem
from cadre.structures.models import Approval, Structure

MONTHS = 6
READS = [Structure, Approval]


def work(user, today):
    if not user.is_authenticated:
        return []
    count = Structure.objects.visible_to(user).approval_ending_within(MONTHS, today).count()
    return [
        WorkItem(
            "Structures",
            plural(count, "agrément qui se termine dans les 6 mois,agréments qui se terminent dans les 6 mois"),
            count,
            f"{reverse('structures:list')}?approval_ending={MONTHS}&sort=approval",
        )
    ]
