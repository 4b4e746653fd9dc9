"""A campaign's dashboard: its figures and tables for a user, rendered once and kept in the cache until a table
they read changes (cadre.core.stamps; tests/test_stamps.py checks the list against the queries made).

At national scale the dashboard reads the campaign's 4,000 submissions and their points to check, then renders
three tables of 25 rows: about ten times the empty page. Kept, it costs one query for the stamps.
"""

from collections import Counter

from django.db.models import Count, Q
from django.template.loader import render_to_string
from django.utils.safestring import mark_safe

from cadre.core.stamps import Stamped, user_key
from cadre.observatory import permissions
from cadre.observatory.models import (
    NOT_SENT_STATUSES,
    OPEN_ANOMALY_STATUSES,
    TO_REVIEW_STATUSES,
    Anomaly,
    AnomalyStatus,
    Campaign,
    Correspondent,
    Question,
    Submission,
    SubmissionStatus,
)
from cadre.structures.models import Structure
from cadre.territories.models import Commune, Department, Region
from cadre.territories.reference import department_place

DASHBOARD_ROWS = 25
# The bar of the dashboard, in DSFR colours; the table under it gives the same figures.
STATUS_COLOURS = {
    SubmissionStatus.NOT_STARTED: "#cecece",
    SubmissionStatus.DRAFT: "#8585f6",
    SubmissionStatus.SUBMITTED: "#000091",
    SubmissionStatus.RETURNED: "#b34000",
    SubmissionStatus.RESUBMITTED: "#465f9d",
    SubmissionStatus.VALIDATED: "#18753c",
}

READS = [Anomaly, Campaign, Commune, Correspondent, Department, Question, Region, Structure, Submission]
_DASHBOARD = Stamped("campaign-dashboard", READS)


def dashboard(user, campaign, asked, can_remind):
    """The dashboard of `campaign` for `user`, filtered on the département `asked` (the `departement`
    parameter, None when absent): its figures, and `body`, its tables rendered."""
    found = _DASHBOARD.get(
        (user_key(user), campaign.pk, asked, can_remind), lambda: _dashboard(user, campaign, asked, can_remind)
    )
    return {**found, "body": mark_safe(found["body"])}  # our own template rendered it (escaped)


def _dashboard_scope(user, campaign, asked):
    """(submissions the page lists, their number by status, the départements offered in its filter, the one
    chosen, those reviewed).

    A scoped user's rules (territories, federations) are evaluated once, in one query that also gives each
    submission's status and département; the rest of the page reads plain ids. An administrator's scope is
    the campaign itself, counted in one grouped query.
    """
    campaign_submissions = Submission.objects.filter(campaign=campaign)
    reviewed = permissions.reviewed_departments(user, campaign)
    if user.is_administrator:
        rows = None
        codes = sorted(set(campaign_submissions.values_list("structure__commune__department_id", flat=True)))
    else:
        rows = list(
            Submission.objects.visible_to(user)
            .filter(campaign=campaign)
            .values_list("pk", "structure__commune__department_id", "status")
        )
        codes = sorted({code for _, code, _ in rows} | (reviewed or set()))
    chosen = asked
    if chosen is None:
        chosen = "mine" if reviewed else ""
    if chosen == "mine" and reviewed:
        wanted = reviewed
    elif chosen in codes:
        wanted = {chosen}
    else:
        chosen, wanted = "", None
    if rows is None:
        submissions = campaign_submissions
        if wanted is not None:
            submissions = submissions.filter(structure__commune__department_id__in=wanted)
        counts = dict(submissions.values_list("status").annotate(n=Count("pk")).order_by())
        return submissions, counts, codes, chosen, reviewed
    rows = [(pk, status) for pk, code, status in rows if wanted is None or code in wanted]
    # The ids come from the campaign already: filtering on it again would only cost the planner an index.
    return (
        Submission.objects.filter(pk__in=[pk for pk, _ in rows]),
        Counter(s for _, s in rows),
        codes,
        chosen,
        reviewed,
    )


def _dashboard(user, campaign, asked, can_remind):
    submissions, counts, codes, chosen, reviewed = _dashboard_scope(user, campaign, asked)
    total = sum(counts.values())
    by_status, offset = [], 0.0
    for status, label in SubmissionStatus.choices:
        count = counts.get(status, 0)
        width = 100 * count / total if total else 0
        by_status.append({"label": label, "count": count, "x": offset, "width": width, "color": STATUS_COLOURS[status]})
        offset += width
    # Each list reads only the columns its table shows: whole structures, 25 rows at a time, cost more than
    # the queries themselves.
    shown = ["uuid", "status", "structure__name", "structure__commune__name", "structure__commune__department_id"]
    late = list(
        submissions.filter(status__in=NOT_SENT_STATUSES)
        .select_related("structure__commune")
        .only(*shown, "reminded_at", "reminder_count")
        .order_by("structure__commune__department_id", "structure__name")[:DASHBOARD_ROWS]
    )
    to_review = list(
        submissions.filter(status__in=TO_REVIEW_STATUSES)
        .select_related("structure__commune")
        .only(*shown, "submitted_at")
        .annotate(open_anomalies=Count("anomalies", filter=Q(anomalies__status__in=OPEN_ANOMALY_STATUSES)))
        .order_by("submitted_at")[:DASHBOARD_ROWS]
    )
    anomalies = Anomaly.objects.filter(submission__in=submissions)
    anomaly_counts = list(
        anomalies.values("submission__structure__commune__department_id")
        .annotate(
            open=Count("pk", filter=Q(status=AnomalyStatus.OPEN)),
            queried=Count("pk", filter=Q(status=AnomalyStatus.QUERIED)),
            corrected=Count("pk", filter=Q(status=AnomalyStatus.CORRECTED)),
            justified=Count("pk", filter=Q(status=AnomalyStatus.JUSTIFIED)),
        )
        .order_by("submission__structure__commune__department_id")
    )
    unresolved = list(
        anomalies.unresolved()
        .select_related("submission__structure", "question")
        .only("kind", "status", "detail", "submission__uuid", "submission__structure__name", "question__label")
        .order_by("submission__structure__name", "question__position")[:DASHBOARD_ROWS]
    )
    figures = {
        "total": total,
        "by_status": by_status,
        "sent_share": round(100 * (total - sum(counts.get(s, 0) for s in NOT_SENT_STATUSES)) / total) if total else 0,
        "late": late,
        "late_count": sum(counts.get(s, 0) for s in NOT_SENT_STATUSES),
        "to_review": to_review,
        "to_review_count": sum(counts.get(s, 0) for s in TO_REVIEW_STATUSES),
        "anomaly_counts": anomaly_counts,
        "unresolved": unresolved,
        # Unresolved: open or queried (OPEN_ANOMALY_STATUSES), already counted by département.
        "unresolved_count": sum(row["open"] + row["queried"] for row in anomaly_counts),
        "departments": [(code, department_place(code)[0]) for code in codes],
        "chosen": chosen,
        "reviewed": sorted(reviewed) if reviewed else [],
        "dashboard_rows": DASHBOARD_ROWS,
    }
    body = render_to_string(
        "observatory/_campaign_dashboard.html", {**figures, "campaign": campaign, "can_remind": can_remind}
    )
    return {**figures, "body": str(body)}
