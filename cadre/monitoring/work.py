"""Difficulty reports and support cases on the home page and in the obligations calendar: the reports a partner
was told of, the cases its support body follows, the cases' actions to do (late ones first, in the warning
colour). Everything is read through the querysets' visible_to, so a body-only action shows to the body only."""

import datetime

from django.urls import reverse

from cadre.agreements.models import Committee, CommitteeMember
from cadre.core.french import plural
from cadre.core.work import WorkItem
from cadre.funding.calendar import Obligation
from cadre.monitoring.case_models import (
    CaseAction,
    CaseDocument,
    CaseNote,
    DifficultyReport,
    SupportCase,
    Urgency,
)
from cadre.structures.models import Structure
from cadre.territories.models import Commune

GROUP = "Prévention"
RECENT_DAYS = 60
# Every table the providers below read (tests/test_stamps.py checks it): the home page and the calendar are cached
# until one of them changes.
READS = [
    CaseAction,
    CaseDocument,
    CaseNote,
    Committee,
    CommitteeMember,
    Commune,
    DifficultyReport,
    Structure,
    SupportCase,
]


def work(user, today):
    if not user.is_authenticated:
        return []
    items = []
    since = today - datetime.timedelta(days=RECENT_DAYS)
    reports = (
        DifficultyReport.objects.visible_to(user)
        .exclude(structure_id__in=sorted(user.structure_ids()))
        .filter(created_at__date__gte=since, cases__isnull=True)
    )
    latest = reports.select_related("structure").order_by("-created_at").first()
    if latest is not None:
        count = reports.count()
        items.append(
            WorkItem(
                GROUP,
                plural(count, "signalement de difficulté sans dossier,signalements de difficulté sans dossier"),
                count,
                reverse("monitoring:report", args=[latest.uuid]),
                urgent=reports.filter(urgency__in=[Urgency.HIGH, Urgency.CRITICAL]).exists(),
                detail=f"le dernier : {latest.structure.name}, le {latest.created_at:%d/%m/%Y}",
            )
        )
    actions = CaseAction.objects.visible_to(user).filter(done_on__isnull=True, case__closed_on__isnull=True)
    late = actions.filter(due__lt=today)
    first = late.select_related("case__structure").order_by("due").first()
    if first is not None:
        count = late.count()
        items.append(
            WorkItem(
                GROUP,
                plural(count, "action d'accompagnement en retard,actions d'accompagnement en retard"),
                count,
                reverse("monitoring:case", args=[first.case.uuid]),
                urgent=True,
                detail=f"la plus ancienne : {first.title} ({first.case.structure.name}), le {first.due:%d/%m/%Y}",
            )
        )
    if user.is_administrator or user.partner_ids():
        open_cases = SupportCase.objects.visible_to(user).open().count()
        items.append(
            WorkItem(
                GROUP,
                plural(open_cases, "dossier d'accompagnement en cours,dossiers d'accompagnement en cours"),
                open_cases,
                reverse("monitoring:cases"),
            )
        )
    return items


def _obligation(action, kind="Action d'accompagnement"):
    return Obligation(
        action.due,
        kind,
        f"{action.case.structure.name} : {action.title}",
        reverse("monitoring:case", args=[action.case.uuid]),
        f"case-action-{action.uuid}",
    )


def _open_actions(user):
    return (
        CaseAction.objects.visible_to(user)
        .filter(done_on__isnull=True, case__closed_on__isnull=True)
        .select_related("case__structure")
    )


def in_period(user, start, end):
    """The cases' actions due from `start` to `end` (the calendar, its feed, its reminders, the home page)."""
    if not user.is_authenticated:
        return []
    return [_obligation(action) for action in _open_actions(user).filter(due__range=(start, end))]


def late(user, today):
    """The cases' actions past their date and not done: overdue, however long ago, while the case is open."""
    if not user.is_authenticated:
        return []
    return [
        _obligation(action, "Action d'accompagnement en retard") for action in _open_actions(user).filter(due__lt=today)
    ]
