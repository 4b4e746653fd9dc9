"""Rows of the role × URL matrix (tests/test_access.py) for financial statements (tests/test_monitoring_pages.py)."""

import datetime

from django.urls import reverse

from cadre.monitoring.enums import StatementStatus
from cadre.monitoring.models import FinancialStatement
from tests.test_access import A_VISIBLE, API_A_VISIBLE, API_SIGNED_IN, LOGIN, row

# Structure A's own writers and the administrators enter its accounts; the Caf 69, which funds it, reviews them.
A_ENTRY = row(LOGIN, 200, 404, 403, 404, 403, 403, 200)
A_ENTRY_POST = row(LOGIN, 302, 404, 403, 404, 403, 403, 302)
A_REVIEW_POST = row(LOGIN, 403, 404, 302, 404, 403, 403, 302)


def a_statement(o, year, status):
    """Structure A's accounts of `year` (all amounts zero: they add up), in `status`."""
    statement, _ = FinancialStatement.objects.update_or_create(
        structure=o["a"],
        year=year,
        defaults={"starts_on": datetime.date(year, 1, 1), "ends_on": datetime.date(year, 12, 31), "status": status},
    )
    return statement


def draft(o):
    return a_statement(o, 2024, StatementStatus.DRAFT)


def submitted(o):
    return a_statement(o, 2025, StatementStatus.SUBMITTED)  # the Caf's service funding of A covers 2024–2027


ROWS = {
    "monitoring:statements": ("get", lambda o: reverse("monitoring:statements", args=[o["a"].uuid]), A_VISIBLE),
    "monitoring:statement_create": (
        "get",
        lambda o: reverse("monitoring:statement_create", args=[o["a"].uuid]),
        A_ENTRY,
    ),
    "monitoring:statement": ("get", lambda o: reverse("monitoring:statement", args=[draft(o).uuid]), A_VISIBLE),
    "monitoring:statement_edit": ("get", lambda o: reverse("monitoring:statement_edit", args=[draft(o).uuid]), A_ENTRY),
    "monitoring:statement_submit": (
        "post",
        lambda o: reverse("monitoring:statement_submit", args=[draft(o).uuid]),
        A_ENTRY_POST,
    ),
    # A POST without a decision is sent back to the page with the form's message: who may review gets a redirect.
    "monitoring:statement_review": (
        "post",
        lambda o: reverse("monitoring:statement_review", args=[submitted(o).uuid]),
        A_REVIEW_POST,
    ),
    "api-1.0.0:financial_statements": ("get", lambda o: reverse("api-1.0.0:financial_statements"), API_SIGNED_IN),
    "api-1.0.0:financial_statement": (
        "get",
        lambda o: reverse("api-1.0.0:financial_statement", args=[draft(o).uuid]),
        API_A_VISIBLE,
    ),
}
