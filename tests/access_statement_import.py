"""Rows of the role × URL matrix (tests/test_access.py) for the annual accounts import (tests/test_statement_import.py)
and the writes of annual accounts in the API (tests/test_api_monitoring.py)."""

from django.urls import reverse

from cadre.accounts.models import User
from cadre.demo import cast
from cadre.monitoring.actions import record_statement_import
from cadre.monitoring.models import StatementImport
from tests.access_monitoring import draft, submitted
from tests.test_access import API_A_VISIBLE, API_SIGNED_IN, LOGIN, row

# Who may enter accounts imports them: the structures' writers (A and B each theirs) and the administrators.
IMPORTERS = row(LOGIN, 200, 200, 403, 403, 403, 403, 200)


def statement_import(o):
    """A checked file of structure A's 2019 accounts (all lines 0: they add up), uploaded by A's director."""
    writer = User.objects.get(email=cast.STRUCTURE_A)
    found = StatementImport.objects.filter(uploaded_by=writer).first()
    if found is None:
        content = f"Identifiant Cadre;Exercice\r\n{o['a'].uuid};2019\r\n".encode()
        found = record_statement_import(writer, "comptes.csv", content)
    return found


ROWS = {
    "monitoring:statement_import": ("get", lambda o: reverse("monitoring:statement_import"), IMPORTERS),
    "monitoring:statement_template": ("get", lambda o: reverse("monitoring:statement_template"), IMPORTERS),
    # Uploaded by A's director: only they (and administrators) open it; only they apply it.
    "monitoring:statement_import_detail": (
        "get",
        lambda o: reverse("monitoring:statement_import_detail", args=[statement_import(o).uuid]),
        row(LOGIN, 200, 404, 404, 404, 404, 404, 200),
    ),
    "monitoring:statement_import_apply": (
        "post",
        lambda o: reverse("monitoring:statement_import_apply", args=[statement_import(o).uuid]),
        row(LOGIN, 302, 404, 404, 404, 404, 404, 403),
    ),
    "api-1.0.0:financial_statement_ratios": (
        "get",
        lambda o: reverse("api-1.0.0:financial_statement_ratios", args=[draft(o).uuid]),
        API_A_VISIBLE,
    ),
    # An empty body without If-Match: who may act is asked for the version read (428), who sees is refused (403).
    "api-1.0.0:financial_statement_submit": (
        "api_post",
        lambda o: reverse("api-1.0.0:financial_statement_submit", args=[draft(o).uuid]),
        row(401, 428, 404, 403, 404, 403, 403, 428),
    ),
    "api-1.0.0:financial_statement_accept": (
        "api_post",
        lambda o: reverse("api-1.0.0:financial_statement_accept", args=[submitted(o).uuid]),
        row(401, 403, 404, 428, 404, 403, 403, 428),
    ),
    "api-1.0.0:financial_statement_return": (
        "api_post",
        lambda o: reverse("api-1.0.0:financial_statement_return", args=[submitted(o).uuid]),
        row(401, 403, 404, 428, 404, 403, 403, 428),
    ),
    "api-1.0.0:health_statuses": ("get", lambda o: reverse("api-1.0.0:health_statuses"), API_SIGNED_IN),
}
