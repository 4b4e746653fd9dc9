"""Rows of the role × URL matrix (tests/test_access.py): {url name: (method, url builder, statuses by role)}."""

from django.core.management import call_command
from django.urls import reverse

from cadre.accounts.models import User
from cadre.demo import cast
from cadre.indicators.models import ExportStatus, Indicator, ReportExport
from tests.test_access import LOGIN, row  # imported while test_access is loading: defined above

SIGNED_IN = row(LOGIN, *[200] * 7)
CAF69_AND_ADMIN = row(LOGIN, 404, 404, 200, 404, 404, 404, 200)


def with_values(url):
    """The demo's indicators and their values (the 2024 campaign is validated), then `url`."""
    if not Indicator.objects.exists():
        call_command("load_indicators", verbosity=0)
    return url


def caf69_export():
    """A PDF of the Rhône report asked for by the Caf du Rhône's advisor."""
    return ReportExport.objects.create(
        level="department",
        territory="69",
        year=2024,
        requested_by=User.objects.get(email=cast.CAF69),
        status=ExportStatus.DONE,
        content=b"%PDF-1.4\n",
    )


REPORT = "?territoire=department:69&annee=2024"

ROWS = {
    "indicators:dashboard": ("get", lambda o: with_values(reverse("indicators:dashboard")), SIGNED_IN),
    # Structure A's figures come from its answers: those who read its questionnaires.
    "indicators:structure": (
        "get",
        lambda o: with_values(reverse("indicators:structure", args=[o["a"].uuid])),
        row(LOGIN, 200, 404, 200, 404, 200, 200, 200),
    ),
    "indicators:report": ("get", lambda o: with_values(reverse("indicators:report") + REPORT), SIGNED_IN),
    "indicators:report_xlsx": ("get", lambda o: with_values(reverse("indicators:report_xlsx") + REPORT), SIGNED_IN),
    "indicators:report_pdf_start": (
        "post",
        lambda o: with_values(reverse("indicators:report_pdf_start") + REPORT),
        row(LOGIN, *[302] * 7),
    ),
    "indicators:report_export": (
        "get",
        lambda o: reverse("indicators:report_export", args=[caf69_export().uuid]),
        CAF69_AND_ADMIN,
    ),
    "indicators:report_export_download": (
        "get",
        lambda o: reverse("indicators:report_export_download", args=[caf69_export().uuid]),
        CAF69_AND_ADMIN,
    ),
}
