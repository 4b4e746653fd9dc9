"""What the funding pages show, computed once for pages, exports and tests alike (the totals must
agree everywhere: tests/test_funding_pages.py adds them up)."""

import dataclasses
from decimal import Decimal

from django.db.models import DecimalField, OuterRef, Subquery, Sum, Value
from django.db.models.functions import Coalesce

from cadre.funding.models import ZERO, FundingLine, Payment


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


def partner_years(partner):
    # Unordered: the lines' default order would join their structures and partners only to sort.
    years = FundingLine.objects.filter(partner=partner).order_by().values_list("year", flat=True).distinct()
    return sorted(years, reverse=True)
