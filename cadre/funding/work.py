"""Funding's share of the home page: documents to review or refused, payments expected, and the next dates of the
obligations calendar."""

import datetime

from django.db.models import Exists, OuterRef
from django.urls import reverse

from cadre.core.french import plural
from cadre.core.work import WorkItem
from cadre.funding import calendar
from cadre.funding.models import Document, DocumentStatus, FundingLine, expected_payments, format_euros

GROUP = "Financements"
UPCOMING_DAYS = 45
READS = [Document, FundingLine]
UPCOMING_READS = calendar.READS


def work(user, today):
    if not user.is_authenticated:
        return []
    items = []
    own = sorted(user.structure_ids())
    if user.is_administrator or user.partner_ids():
        waiting = (
            Document.objects.visible_to(user).filter(status=DocumentStatus.SUBMITTED).exclude(structure_id__in=own)
        )
        oldest = waiting.select_related("structure").order_by("uploaded_at").first()
        if oldest is not None:
            count = waiting.count()
            items.append(
                WorkItem(
                    GROUP,
                    plural(count, "pièce justificative à examiner,pièces justificatives à examiner"),
                    count,
                    reverse("funding:documents", args=[oldest.structure.uuid]),
                    detail=f"la plus ancienne : {oldest.structure.name}, déposée le {oldest.uploaded_at:%d/%m/%Y}",
                )
            )
    blocked = FundingLine.objects.followed_by(user).filter(year__gte=today.year - 1).balance_blocked()
    first = blocked.select_related("structure", "scheme").order_by("year", "structure__name").first()
    if first is not None:
        count = blocked.count()
        items.append(
            WorkItem(
                GROUP,
                plural(count, "solde bloqué par une pièce manquante,soldes bloqués par une pièce manquante"),
                count,
                reverse("funding:documents", args=[first.structure.uuid]),
                urgent=True,
                detail=f"le premier : {first.structure.name}, {first.scheme.name} {first.year}",
            )
        )
    if own:
        newer = Document.objects.filter(
            structure=OuterRef("structure"),
            required=OuterRef("required"),
            year=OuterRef("year"),
            uploaded_at__gt=OuterRef("uploaded_at"),
        )
        refused = (
            Document.objects.filter(structure_id__in=own, status=DocumentStatus.REJECTED)
            .exclude(Exists(newer))
            .select_related("structure")
        )
        first = refused.first()
        if first is not None:
            count = refused.count()
            items.append(
                WorkItem(
                    GROUP,
                    plural(count, "pièce refusée à déposer de nouveau,pièces refusées à déposer de nouveau"),
                    count,
                    reverse("funding:documents", args=[first.structure.uuid]),
                    urgent=True,
                )
            )
        lines = FundingLine.objects.filter(structure_id__in=own, year__in=[today.year - 1, today.year])
        soon = [p for p in expected_payments(lines) if today <= p.due <= today + datetime.timedelta(days=90)]
        if soon:
            items.append(
                WorkItem(
                    GROUP,
                    plural(len(soon), "versement attendu dans les 3 mois,versements attendus dans les 3 mois"),
                    len(soon),
                    reverse("funding:structure", args=[soon[0].line.structure.uuid]),
                    detail=f"le prochain : {format_euros(soon[0].amount)} le {soon[0].due:%d/%m/%Y}",
                )
            )
    return items


def upcoming(user, today):
    if not user.is_authenticated:
        return []
    return calendar.obligations(user, today, today + datetime.timedelta(days=UPCOMING_DAYS))
