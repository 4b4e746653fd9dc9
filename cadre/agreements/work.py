"""The agreements' share of the home page: agreements ending, roadmap actions and decisions' follow-ups late."""

from django.urls import reverse

from cadre.agreements.models import OPEN_ITEM_STATUSES, Agreement, Committee, FollowUp, RoadmapItem
from cadre.core.french import plural
from cadre.core.work import WorkItem
from cadre.structures.models import add_months

MONTHS = 6
READS = [Agreement, Committee, FollowUp, RoadmapItem]


def work(user, today):
    if not user.is_authenticated:
        return []
    ending = Agreement.objects.visible_to(user).filter(ends__range=(today, add_months(today, MONTHS))).count()
    late_items = RoadmapItem.objects.visible_to(user).filter(due__lt=today, status__in=OPEN_ITEM_STATUSES).count()
    late_follow_ups = (
        FollowUp.objects.filter(decision__meeting__committee__in=Committee.objects.visible_to(user)).late(today).count()
    )
    calendar = reverse("funding:calendar")
    return [
        WorkItem(
            "Conventions",
            plural(late_items, "action de feuille de route en retard,actions de feuille de route en retard"),
            late_items,
            calendar,
            urgent=True,
        ),
        WorkItem(
            "Conventions",
            plural(late_follow_ups, "suite de décision en retard,suites de décision en retard"),
            late_follow_ups,
            calendar,
            urgent=True,
        ),
        WorkItem(
            "Conventions",
            plural(ending, "convention qui se termine dans les 6 mois,conventions qui se terminent dans les 6 mois"),
            ending,
            reverse("agreements:list"),
        ),
    ]
