"""The obligations calendar: approval renewals, agreement ends, documents due, payments expected,
roadmap deadlines, committee meetings and their decisions' follow-ups, and observatory deadlines that a
user's scope reaches, for a page, an iCalendar feed and e-mail reminders.

Scope: the structures the user sees (Structure.visible_to), the agreements and committees it sees, and
for documents due and payments expected the lines of its own partner or structure (all of them for an
administrator)."""

import dataclasses
import datetime

from django.urls import reverse
from django.utils import timezone
from icalendar import Calendar
from icalendar import Event as IcalEvent

from cadre.agreements.models import (
    OPEN_ITEM_STATUSES,
    Agreement,
    Committee,
    CommitteeMember,
    Decision,
    FollowUp,
    FrameworkAgreement,
    Meeting,
    Roadmap,
    RoadmapItem,
    RoadmapTheme,
    Signatory,
)
from cadre.core.stamps import Stamped, user_key
from cadre.funding.models import (
    Document,
    FundingLine,
    FundingScheme,
    Payment,
    PaymentStep,
    RequiredDocument,
    expected_payments,
    format_euros,
    owed_for_lines,
)
from cadre.observatory.models import Campaign, Correspondent, Submission, SubmissionStatus
from cadre.partners.models import Partner
from cadre.structures.models import Approval, Structure
from cadre.territories.models import Commune, Department

# What the calendar is read from (tests/test_stamps.py checks it against the queries it makes): the page and
# the feed are cached until one of these tables changes.
READS = [
    Agreement,
    Approval,
    Campaign,
    Commune,
    Committee,
    CommitteeMember,
    Correspondent,
    Decision,
    Department,
    Document,
    FollowUp,
    FrameworkAgreement,
    FundingLine,
    FundingScheme,
    Meeting,
    Partner,
    Payment,
    PaymentStep,
    RequiredDocument,
    Roadmap,
    RoadmapItem,
    RoadmapTheme,
    Signatory,
    Structure,
    Submission,
]
_CACHE = Stamped("calendar", READS)
# Dates of the apps built on funding (the support cases' actions): [(in_period, late)], see `register`.
_MORE = []


def register(in_period, late, reads):
    """An app built on funding adds its dates to the calendar (page, feed, reminders, home page):
    `in_period(user, start, end)` gives its [Obligation] of the period, `late(user, today)` those past their date
    and not met; both read from `reads` (models) alone."""
    _MORE.append((in_period, late))
    _CACHE.add(reads)


@dataclasses.dataclass
class Obligation:
    day: datetime.date
    kind: str  # French label of the kind of date
    title: str
    path: str  # where to act, in Cadre
    uid: str  # stable: a calendar client updates the event instead of adding a copy

    @property
    def month(self):
        return self.day.replace(day=1)


@dataclasses.dataclass
class Reads:
    """What both the obligations of a period and the overdue ones are made of, read once for the calendar
    page over both periods: documents owed, open roadmap items, follow-ups not done."""

    owed: list  # [(structure, Owed)]
    items: list  # [RoadmapItem]
    follow_ups: list  # [FollowUp]


def _reads(user, first_day, last_day, first_year, last_year, today=None):
    lines = FundingLine.objects.followed_by(user).filter(year__range=(first_year, last_year))
    items = RoadmapItem.objects.visible_to(user).filter(due__range=(first_day, last_day), status__in=OPEN_ITEM_STATUSES)
    follow_ups = FollowUp.objects.filter(
        decision__meeting__committee__in=Committee.objects.visible_to(user),
        due__range=(first_day, last_day),
        done_on__isnull=True,
    )
    return Reads(
        owed_for_lines(lines, today),
        list(items.select_related("theme__roadmap__agreement")),
        list(follow_ups.select_related("decision__meeting")),
    )


def calendar_and_overdue(user, today, start, end):
    """(`obligations` from `start` to `end`, `overdue` as of `today`), sharing their reads; kept in the cache
    until a table they read changes."""
    return _CACHE.get((user_key(user), today, start, end), lambda: _calendar_and_overdue(user, today, start, end))


def _calendar_and_overdue(user, today, start, end):
    since = _overdue_since(today)
    yesterday = today - datetime.timedelta(days=1)
    reads = _reads(
        user,
        min(start, since),
        max(end, yesterday),
        min(start.year - 1, today.year - OVERDUE_YEARS),
        max(end.year, today.year),
        today,
    )
    return obligations(user, start, end, reads), overdue(user, today, reads)


def obligations(user, start, end, reads=None):
    """[Obligation] of `user` from `start` to `end` (both included), by date. `reads`: from `_reads`, over
    a period that covers this one."""
    reads = reads or _reads(user, start, end, start.year - 1, end.year)
    found = []
    approvals = Approval.objects.visible_to(user).filter(ends__range=(start, end)).select_related("structure")
    for approval in approvals:
        found.append(
            Obligation(
                approval.ends,
                "Fin d'agrément",
                f"{approval.structure.name} : fin de l'agrément {approval.get_kind_display().lower()}",
                reverse("structures:detail", args=[approval.structure.uuid]),
                f"approval-{approval.uuid}",
            )
        )
    for agreement in Agreement.objects.visible_to(user).filter(ends__range=(start, end)):
        found.append(
            Obligation(
                agreement.ends,
                "Fin de convention",
                f"Fin de la convention « {agreement.title} »",
                reverse("agreements:detail", args=[agreement.uuid]),
                f"agreement-{agreement.uuid}",
            )
        )
    for framework in FrameworkAgreement.objects.visible_to(user):
        if start <= framework.effective_end <= end:
            found.append(
                Obligation(
                    framework.effective_end,
                    "Fin de convention",
                    f"Fin de la « {framework.title} »",
                    reverse("agreements:framework", args=[framework.uuid]),
                    f"framework-{framework.uuid}",
                )
            )
    for item in (item for item in reads.items if start <= item.due <= end):
        found.append(
            Obligation(
                item.due,
                "Feuille de route",
                f"{item.title} ({item.theme.roadmap.agreement.title})",
                reverse("agreements:item", args=[item.uuid]),
                f"roadmap-item-{item.uuid}",
            )
        )
    committees = Committee.objects.visible_to(user)
    meetings = Meeting.objects.filter(committee__in=committees, starts_at__date__range=(start, end))
    for meeting in meetings.select_related("committee"):
        found.append(
            Obligation(
                timezone.localtime(meeting.starts_at).date(),
                "Réunion",
                f"{meeting.committee.name} ({timezone.localtime(meeting.starts_at):%H:%M})",
                reverse("agreements:meeting", args=[meeting.uuid]),
                f"meeting-{meeting.uuid}",
            )
        )
    for follow_up in (follow_up for follow_up in reads.follow_ups if start <= follow_up.due <= end):
        found.append(
            Obligation(
                follow_up.due,
                "Suite de décision",
                follow_up.title,
                reverse("agreements:meeting", args=[follow_up.decision.meeting.uuid]),
                f"follow-up-{follow_up.uuid}",
            )
        )
    found += _documents_due(reads.owed, start, end)
    found += _payments_expected(user, start, end)
    found += _campaign_deadlines(user, start, end)
    for in_period, _ in _MORE:
        found += in_period(user, start, end)
    found.sort(key=lambda o: (o.day, o.kind, o.title))
    return found


OVERDUE_YEARS = 3  # how far back an unfulfilled obligation is still shown as overdue


def _overdue_since(today):
    return today.replace(year=today.year - OVERDUE_YEARS, day=1)


def overdue(user, today, reads=None):
    """[Obligation] past their date and still not met, however long ago (within OVERDUE_YEARS): documents
    not deposited (or refused), roadmap items still open, decisions' follow-ups not done. Oldest first.
    `reads`: from `_reads`, over a period that covers this one."""
    since, yesterday = _overdue_since(today), today - datetime.timedelta(days=1)
    reads = reads or _reads(user, since, yesterday, today.year - OVERDUE_YEARS, today.year, today)
    found = []
    for structure, owed in reads.owed:
        if owed.is_overdue and today.year - OVERDUE_YEARS <= owed.year <= today.year:
            found.append(
                Obligation(
                    owed.due,
                    "Pièce en retard",
                    f"{structure.name} : {owed.required} {owed.year}",
                    reverse("funding:documents", args=[structure.uuid]),
                    f"document-{structure.uuid}-{owed.required.uuid}-{owed.year}",
                )
            )
    for item in (item for item in reads.items if since <= item.due <= yesterday):
        found.append(
            Obligation(
                item.due,
                "Feuille de route",
                f"{item.title} ({item.theme.roadmap.agreement.title})",
                reverse("agreements:item", args=[item.uuid]),
                f"roadmap-item-{item.uuid}",
            )
        )
    for follow_up in (follow_up for follow_up in reads.follow_ups if since <= follow_up.due <= yesterday):
        found.append(
            Obligation(
                follow_up.due,
                "Suite de décision",
                follow_up.title,
                reverse("agreements:meeting", args=[follow_up.decision.meeting.uuid]),
                f"follow-up-{follow_up.uuid}",
            )
        )
    for _, late in _MORE:
        found += late(user, today)
    found.sort(key=lambda o: (o.day, o.kind, o.title))
    return found


def _documents_due(owed_list, start, end):
    """Documents due in the period (of the lines of that year and the year before) and neither accepted
    nor waiting for review."""
    found = []
    for structure, owed in owed_list:
        if not start <= owed.due <= end or not owed.is_open or not start.year - 1 <= owed.year <= end.year:
            continue
        found.append(
            Obligation(
                owed.due,
                "Pièce à déposer",
                f"{structure.name} : {owed.required} {owed.year}",
                reverse("funding:documents", args=[structure.uuid]),
                f"document-{structure.uuid}-{owed.required.uuid}-{owed.year}",
            )
        )
    return found


def _payments_expected(user, start, end):
    """What the schedules of the schemes still expect to be paid in the period, on the lines the user
    follows: the payer's and the structure's side of the same date."""
    lines = FundingLine.objects.followed_by(user).filter(year__in=range(start.year - 1, end.year + 1))
    return [
        Obligation(
            expected.due,
            "Versement attendu",
            f"{expected.line.structure.name} : {expected.step.get_kind_display().lower()} de "
            f"{format_euros(expected.amount)}, {expected.line.scheme.name} {expected.line.year} "
            f"({expected.line.partner.short_name or expected.line.partner.name})",
            reverse("funding:line", args=[expected.line.uuid]),
            f"payment-{expected.line.uuid}-{expected.step.uuid}",
        )
        for expected in expected_payments(lines)
        if start <= expected.due <= end
    ]


def _campaign_deadlines(user, start, end):
    """The closing day of a campaign: for a structure, while its questionnaire is not sent yet."""
    found = []
    campaigns = Campaign.objects.visible_to(user).filter(closes_on__range=(start, end))
    own = sorted(user.structure_ids())
    for campaign in campaigns:
        if own and not user.partner_ids() and not user.is_administrator:
            waiting = Submission.objects.filter(
                campaign=campaign,
                structure_id__in=own,
                status__in=[SubmissionStatus.NOT_STARTED, SubmissionStatus.DRAFT, SubmissionStatus.RETURNED],
            )
            if not waiting.exists():
                continue
        found.append(
            Obligation(
                campaign.closes_on,
                "Observatoire",
                f"Date limite : {campaign.title}",
                reverse("observatory:campaign", args=[campaign.uuid]),
                f"campaign-{campaign.uuid}",
            )
        )
    return found


def ical(obligations_list, base_url, now):
    """An iCalendar (RFC 5545) of whole-day events."""
    calendar = Calendar()
    calendar.add("prodid", "-//Cadre//Calendrier des échéances//FR")
    calendar.add("version", "2.0")
    calendar.add("x-wr-calname", "Cadre : échéances")
    for obligation in obligations_list:
        event = IcalEvent()
        event.add("uid", f"{obligation.uid}@cadre")
        event.add("dtstamp", now)
        event.add("dtstart", obligation.day)
        event.add("dtend", obligation.day + datetime.timedelta(days=1))
        event.add("summary", f"{obligation.kind} : {obligation.title}")
        event.add("url", base_url + obligation.path)
        event.add("description", base_url + obligation.path)
        calendar.add_component(event)
    return calendar.to_ical()
