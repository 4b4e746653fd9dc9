"""The observatory's share of the home page: questionnaires to fill, to correct, to review, points to check."""

from django.db.models import Count, Q
from django.urls import reverse

from cadre.core.french import plural
from cadre.core.work import WorkItem
from cadre.observatory.models import (
    NOT_SENT_STATUSES,
    OPEN_ANOMALY_STATUSES,
    TO_REVIEW_STATUSES,
    Anomaly,
    Campaign,
    Submission,
    SubmissionStatus,
)

GROUP = "Observatoire"
READS = [Anomaly, Campaign, Submission]


def work(user, today):
    if not user.is_authenticated:
        return []
    items = []
    own = sorted(user.structure_ids())
    if own:
        mine = Submission.objects.filter(structure_id__in=own, campaign__opened_at__isnull=False)
        counts = mine.aggregate(
            to_fill=Count(
                "pk",
                filter=Q(status__in=NOT_SENT_STATUSES - {SubmissionStatus.RETURNED})
                & Q(campaign__closes_on__gte=today),
            ),
            to_correct=Count("pk", filter=Q(status=SubmissionStatus.RETURNED)),
        )
        waiting = mine.filter(status__in=NOT_SENT_STATUSES).select_related("campaign").order_by("-campaign__year")
        first = waiting.first() if counts["to_fill"] or counts["to_correct"] else None
        url = reverse("observatory:submission", args=[first.uuid]) if first else ""
        items += [
            WorkItem(
                GROUP,
                plural(counts["to_correct"], "questionnaire renvoyé à corriger,questionnaires renvoyés à corriger"),
                counts["to_correct"],
                url,
                urgent=True,
            ),
            WorkItem(
                GROUP,
                plural(counts["to_fill"], "questionnaire à remplir et envoyer,questionnaires à remplir et envoyer"),
                counts["to_fill"],
                url,
                urgent=bool(first and first.campaign.closes_on < today),
                detail=f"avant le {first.campaign.closes_on:%d/%m/%Y}" if first else "",
            ),
        ]
    if user.is_administrator or user.partner_ids():
        campaign = Campaign.objects.filter(opened_at__isnull=False).order_by("-year", "-opens_on").first()
        if campaign is not None:
            reviewed = Submission.objects.reviewable_by(user).filter(campaign=campaign)
            to_review = reviewed.filter(status__in=TO_REVIEW_STATUSES).count()
            points = Anomaly.objects.filter(submission__in=reviewed, status__in=OPEN_ANOMALY_STATUSES).count()
            url = reverse("observatory:campaign", args=[campaign.uuid])
            items += [
                WorkItem(
                    GROUP,
                    plural(to_review, "questionnaire à examiner,questionnaires à examiner"),
                    to_review,
                    url,
                    detail=campaign.title,
                ),
                WorkItem(
                    GROUP,
                    plural(points, "point à vérifier ouvert,points à vérifier ouverts"),
                    points,
                    url,
                    detail=campaign.title,
                ),
            ]
    return items
