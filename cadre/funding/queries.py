"""What the funding pages show, computed once for pages, exports and tests alike (the totals must
agree everywhere: tests/test_funding_pages.py adds them up)."""

import dataclasses
import datetime
from decimal import Decimal

from django.db.models import DecimalField, OuterRef, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.urls import reverse

from cadre.agreements.models import (
    Agreement,
    Amendment,
    FrameworkAgreement,
    Roadmap,
    RoadmapItem,
    RoadmapTheme,
    Signatory,
)
from cadre.core.stamps import Stamped, user_key
from cadre.funding import permissions
from cadre.funding.models import (
    ZERO,
    Document,
    DocumentStatus,
    FundingLine,
    FundingScheme,
    Payment,
    RequiredDocument,
    documents_owed,
    owed_for_lines,
)
from cadre.observatory.models import Campaign, Submission
from cadre.partners.models import Partner
from cadre.structures.models import Structure
from cadre.territories.models import Commune


def with_paid(lines):
    """Lines annotated with `paid_total` (a subquery: no row multiplied by its payments)."""
    paid = (
        Payment.objects.filter(line=OuterRef("pk"))
        .order_by()
        .values("line")
        .annotate(total=Sum("amount"))
        .values("total")
    )
    money = DecimalField(max_digits=14, decimal_places=2)
    return lines.annotate(paid_total=Coalesce(Subquery(paid, output_field=money), Value(ZERO, output_field=money)))


@dataclasses.dataclass
class FunderRow:
    partner: object
    lines: list  # the lines seen in detail; empty when only the total is shared
    total: Decimal
    share: Decimal | None = None  # % of the year's total

    @property
    def detailed(self):
        return bool(self.lines)


@dataclasses.dataclass
class FundingYear:
    year: int
    funders: list
    total: Decimal
    voted: Decimal
    paid: Decimal | None  # of the lines seen in detail


def structure_funding(structure, user):
    """The structure's funding by year, the latest first: each funder with its lines when the user
    may see them in detail, else its total only; each funder's share of the year."""
    detailed = set(FundingLine.objects.visible_to(user).filter(structure=structure).values_list("pk", flat=True))
    lines = with_paid(
        FundingLine.objects.totals_visible_to(user).filter(structure=structure).select_related("partner", "scheme")
    ).order_by("-year", "partner__name", "scheme__name")
    by_year = {}
    for line in lines:
        by_year.setdefault(line.year, {}).setdefault(line.partner_id, []).append(line)
    years = []
    for year, funders in by_year.items():
        rows = []
        for partner_lines in funders.values():
            seen = [line for line in partner_lines if line.pk in detailed]
            total = sum((line.amount or ZERO for line in partner_lines), ZERO)
            rows.append(FunderRow(partner_lines[0].partner, seen, total))
        year_total = sum((row.total for row in rows), ZERO)
        for row in rows:
            row.share = (row.total * 100 / year_total).quantize(Decimal("0.1")) if year_total else None
        rows.sort(key=lambda row: (-row.total, row.partner.name))
        seen_lines = [line for row in rows for line in row.lines]
        years.append(
            FundingYear(
                year=year,
                funders=rows,
                total=year_total,
                voted=sum((line.voted or ZERO for row in rows for line in row.lines), ZERO),
                paid=sum((line.paid_total for line in seen_lines), ZERO) if seen_lines else None,
            )
        )
    return years


@dataclasses.dataclass
class PartnerYear:
    year: int
    lines: list
    forecast: Decimal
    voted: Decimal
    paid: Decimal

    @property
    def left_to_pay(self):
        return self.voted - self.paid


PARTNER_LINE_FIELDS = [
    "uuid",
    "year",
    "forecast",
    "voted",
    "decision_reference",
    "decision_date",
    "structure__name",
    "structure__commune__name",
    "scheme__name",
]


def partner_funding(partner, year=None):
    """A partner's commitments and payments by year and structure (for its own staff)."""
    # Only what the page shows: a large partner has thousands of lines, each with three related rows.
    lines = (
        FundingLine.objects.filter(partner=partner)
        .select_related("structure__commune", "scheme")
        .only(*PARTNER_LINE_FIELDS)
    )
    if year:
        lines = lines.filter(year=year)
    years = {}
    for line in with_paid(lines).order_by("-year", "structure__name", "scheme__name"):
        years.setdefault(line.year, []).append(line)
    return [
        PartnerYear(
            year=y,
            lines=items,
            forecast=sum((line.forecast or ZERO for line in items), ZERO),
            voted=sum((line.voted or ZERO for line in items), ZERO),
            paid=sum((line.paid_total for line in items), ZERO),
        )
        for y, items in years.items()
    ]


# What a partner's funding page is read from (tests/test_stamps_funding.py checks it against the queries made).
PARTNER_READS = [Commune, FundingLine, FundingScheme, Payment, Structure]
_PARTNER = Stamped("partner-funding", PARTNER_READS)


def partner_page(partner, year=None):
    """(its years, the year shown or None, `partner_funding`) for a partner's page asking for `year` (shown when
    the partner has lines that year): thousands of lines for a large partner, kept until a table read changes."""
    return _PARTNER.get((partner.pk, year), lambda: _partner_page(partner, year))


def _partner_page(partner, year):
    years = partner_years(partner)
    year = year if year in years else None
    return years, year, partner_funding(partner, year)


def partner_years(partner):
    # Unordered: the lines' default order would join their structures and partners only to sort.
    years = FundingLine.objects.filter(partner=partner).order_by().values_list("year", flat=True).distinct()
    return sorted(years, reverse=True)


# What a structure's documents page is read from (tests/test_stamps_funding.py checks it against the queries made): kept
# until one of these tables changes.
DOCUMENTS_READS = [
    Agreement,
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
_DOCUMENTS = Stamped("structure-documents", DOCUMENTS_READS)


@dataclasses.dataclass
class StructureDocuments:
    owed: list  # [Owed], the latest year first; `questionnaire_url` set where the user may open the questionnaire
    reviewable: set  # pks of the deposits awaiting review that the user may review
    readable: set  # pks of the deposits whose file the user may download


def structure_documents(structure, user, today=None):
    """The documents `structure` owes for the years it is funded (up to next year) and what `user`, who sees
    the structure, may do with each deposit: a dozen queries, read again only once a table read changes."""
    today = today or datetime.date.today()
    return _DOCUMENTS.get((user_key(user), structure.pk, today), lambda: _structure_documents(structure, user, today))


def _structure_documents(structure, user, today):
    # Unordered: the lines' default order would join their structures and partners only to sort.
    years = set(FundingLine.objects.filter(structure=structure).order_by().values_list("year", flat=True))
    owed = documents_owed(structure, sorted(y for y in years if y <= today.year + 1), today)
    deposited = [item.document for item in owed if item.document is not None]
    awaiting = [document for document in deposited if document.status == DocumentStatus.SUBMITTED]
    # Who sees the structure may not read its files (a federation): their names are then shown unlinked.
    readable = Document.objects.visible_to(user).filter(pk__in=[document.pk for document in deposited])
    questionnaires = dict(
        Submission.objects.visible_to(user).filter(structure=structure).values_list("campaign__year", "uuid")
    )
    for item in owed:
        if item.is_questionnaire and item.year in questionnaires:
            item.questionnaire_url = reverse("observatory:submission", args=[questionnaires[item.year]])
    return StructureDocuments(
        owed=owed,
        reviewable=permissions.reviewable_documents(user, awaiting),
        readable=set(readable.values_list("pk", flat=True)),
    )


# What an agreement's sheet (its PDF) is read from (tests/test_stamps_funding.py checks it against the queries made):
# the PDF is kept until one of these tables changes.
AGREEMENT_SHEET_READS = [
    Agreement,
    Amendment,
    Commune,
    FrameworkAgreement,
    FundingLine,
    FundingScheme,
    Partner,
    Payment,
    Roadmap,
    RoadmapItem,
    RoadmapTheme,
    Signatory,
    Structure,
]
AGREEMENT_SHEET = Stamped("agreement-sheet", AGREEMENT_SHEET_READS)


def agreement_sheet(agreement, user):
    """What an agreement's sheet shows (`agreement` with its framework, commune and roadmap): parties, the funding
    by year, funder and scheme among the lines `user` sees in detail, the roadmap, the amendments."""
    lines = with_paid(
        FundingLine.objects.visible_to(user).filter(agreement=agreement).select_related("partner", "scheme")
    )
    grouped = {}
    for line in lines:
        key = (line.year, line.partner.name, line.scheme.name)
        amount, paid = grouped.get(key, (ZERO, ZERO))
        grouped[key] = (amount + (line.amount or ZERO), paid + line.paid_total)
    years = {}
    for (year, partner, scheme), (amount, paid) in sorted(grouped.items()):
        years.setdefault(year, []).append({"partner": partner, "scheme": scheme, "amount": amount, "paid": paid})
    year_rows = [
        (year, rows, sum((r["amount"] for r in rows), ZERO), sum((r["paid"] for r in rows), ZERO))
        for year, rows in years.items()
    ]
    roadmap = getattr(agreement, "roadmap", None)  # selected with the agreement
    themes = []
    if roadmap:
        items = RoadmapItem.objects.filter(theme__roadmap=roadmap).select_related("owner_partner", "owner_structure")
        by_theme = {}
        for item in items:
            by_theme.setdefault(item.theme_id, []).append(item)
        themes = [(theme, by_theme.get(theme.pk, [])) for theme in roadmap.themes.all()]
    parties = list(agreement.parties.select_related("partner", "structure"))
    return {
        "agreement": agreement,
        "partners": [p for p in parties if p.partner_id],
        "structures": [p for p in parties if p.structure_id],
        "years": year_rows,
        "total": sum((row[2] for row in year_rows), ZERO),
        "total_paid": sum((row[3] for row in year_rows), ZERO),
        "roadmap": roadmap,
        "themes": themes,
        "amendments": agreement.amendments.all(),
    }


# What the overdue documents page is read from (tests/test_stamps_funding.py checks it against the queries made).
OVERDUE_READS = [Campaign, Document, FundingLine, FundingScheme, RequiredDocument, Structure, Submission]
_OVERDUE = Stamped("overdue-documents", OVERDUE_READS)


def overdue_documents(user, today=None):
    """[(structure, Owed)] past their due date and not deposited (or refused), over the lines `user` follows
    (its partner's, its structure's, all for an administrator), the earliest first; kept until a table read
    changes."""
    today = today or datetime.date.today()
    return _OVERDUE.get((user_key(user), today), lambda: _overdue_documents(user, today))


def _overdue_documents(user, today):
    lines = FundingLine.objects.followed_by(user).filter(year__lte=today.year)
    rows = [(structure, owed) for structure, owed in owed_for_lines(lines, today) if owed.is_overdue]
    rows.sort(key=lambda row: (row[1].due, row[0].name))
    return rows
