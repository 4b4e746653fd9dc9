"""« Sur cette structure »: the structure page's links to its agreements, funding, documents owed,
questionnaires, indicators and calendar, each with a count or a short status.

Only pages the user can open are linked (each through the queryset its page uses), and the whole costs
a fixed number of queries, however many agreements, lines, years or questionnaires the structure has. The tiles
are kept in the cache per user, structure and day until a table they read changes (cadre.core.stamps).
"""

import dataclasses
import datetime

from django.db.models import Count, Max, Min, Q
from django.urls import reverse

from cadre.agreements.models import Agreement, Signatory
from cadre.core.french import plural
from cadre.core.stamps import Stamped, user_key
from cadre.funding.models import Document, FundingLine, FundingScheme, RequiredDocument, documents_owed
from cadre.observatory.models import Campaign, Submission, SubmissionStatus
from cadre.structures.models import Approval, Structure
from cadre.territories.models import Commune


@dataclasses.dataclass
class Link:
    title: str
    url: str
    detail: str
    alert: bool = False  # the detail calls for action (documents late)


def _agreements(structure, user, today):
    counts = (
        Agreement.objects.visible_to(user)
        .filter(parties__structure=structure)
        .aggregate(
            total=Count("pk", distinct=True),
            current=Count("pk", distinct=True, filter=Q(starts__lte=today, ends__gte=today)),
            next_end=Min("ends", filter=Q(ends__gte=today)),
        )
    )
    detail = plural(counts["total"], "convention") if counts["total"] else "Aucune convention"
    if counts["current"]:
        detail += f", dont {plural(counts['current'], 'en cours,en cours')}"
    link = Link(
        "Conventions",
        reverse("agreements:list") + f"?structure={structure.uuid}",
        detail,
    )
    return link, counts["next_end"]


def _funding(structure, user):
    counts = (
        FundingLine.objects.totals_visible_to(user)
        .filter(structure=structure)
        .aggregate(first=Min("year"), last=Max("year"), funders=Count("partner", distinct=True))
    )
    if counts["first"] is None:
        detail = "Aucun financement enregistré"
    else:
        years = str(counts["first"]) if counts["first"] == counts["last"] else f"{counts['first']} à {counts['last']}"
        detail = f"{plural(counts['funders'], 'financeur')}, {years}"
    return Link("Financements", reverse("funding:structure", args=[structure.uuid]), detail)


def _documents(structure, today):
    # The same documents as the page (funding:documents): those of every year funded, up to next year.
    years = (
        FundingLine.objects.filter(structure=structure, year__lte=today.year + 1)
        .order_by()
        .values_list("year", flat=True)
        .distinct()
    )
    owed = documents_owed(structure, set(years), today)
    late = sum(1 for item in owed if item.is_overdue)
    to_deposit = sum(1 for item in owed if item.is_open and not item.is_overdue)
    if late:
        detail = plural(late, "pièce en retard,pièces en retard")
    elif to_deposit:
        detail = plural(to_deposit, "pièce à déposer,pièces à déposer")
    else:
        detail = "À jour" if owed else "Aucune pièce demandée"
    if late and to_deposit:
        detail += f", {plural(to_deposit, 'autre à déposer,autres à déposer')}"
    link = Link(
        "Pièces justificatives",
        reverse("funding:documents", args=[structure.uuid]),
        detail,
        alert=bool(late),
    )
    next_due = min((item.due for item in owed if item.is_open and item.due >= today), default=None)
    return link, next_due


def _observatory(structure, user):
    """The latest questionnaire the user can open, and the indicators page (which needs one)."""
    # One a year: read together, the latest and the count of validated ones come from the same rows.
    submissions = list(
        Submission.objects.visible_to(user)
        .filter(structure=structure)
        .select_related("campaign")
        .only("uuid", "status", "campaign__year")
        .order_by("-campaign__year")
    )
    if not submissions:
        return []
    latest = submissions[0]
    validated = sum(1 for submission in submissions if submission.status == SubmissionStatus.VALIDATED)
    return [
        Link(
            "Questionnaire de l’observatoire",
            reverse("observatory:submission", args=[latest.uuid]),
            f"{latest.campaign.year} : {latest.get_status_display()}",
        ),
        Link(
            "Indicateurs",
            reverse("indicators:structure", args=[structure.uuid]),
            f"{plural(validated, 'année validée,années validées')}" if validated else "Aucune année validée",
        ),
    ]


def _calendar(dates):
    """The user's calendar of obligations, with this structure's next date."""
    upcoming = sorted((day, label) for day, label in dates if day is not None)
    detail = f"Prochaine : {upcoming[0][1]} le {upcoming[0][0]:%d/%m/%Y}" if upcoming else "Aucune échéance à venir"
    return Link("Calendrier des échéances", reverse("funding:calendar"), detail)


# The tables the tiles are read from (tests/test_stamps.py checks them against the queries made); apps that
# register tiles add theirs.
READS = [
    Agreement,
    Approval,
    Campaign,
    Commune,
    Document,
    FundingLine,
    FundingScheme,
    RequiredDocument,
    Signatory,
    Structure,
    Submission,
]
_LINKS = Stamped("structure-links", READS)
_MORE = []


def register(provider, reads):
    """An app built on the registry adds its tiles: `provider(structure, user, today)` gives [Link], each read
    in one query at most, from the models `reads`."""
    _MORE.append(provider)
    _LINKS.add(reads)


def structure_links(structure, user, today=None):
    """[Link] of the structure page's « Sur cette structure », for `user` (who can see `structure`)."""
    today = today or datetime.date.today()
    return _LINKS.get((user_key(user), structure.pk, today), lambda: _links(structure, user, today))


def _links(structure, user, today):
    agreements, agreement_end = _agreements(structure, user, today)
    documents, document_due = _documents(structure, today)
    approval_end = structure.approvals.filter(ends__gte=today).aggregate(next=Min("ends"))["next"]
    calendar = _calendar(
        [(approval_end, "fin d’agrément"), (agreement_end, "fin de convention"), (document_due, "pièce à déposer")],
    )
    more = [link for provider in _MORE for link in provider(structure, user, today)]
    return [agreements, _funding(structure, user), documents, *_observatory(structure, user), *more, calendar]
