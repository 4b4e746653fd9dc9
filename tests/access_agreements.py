"""Rows of the role × URL matrix (tests/test_access.py) for agreements and funding, on the demo's
Bouches-du-Rhône convention cadre, Villeurbanne tripartite agreement and funding lines."""

from django.urls import reverse

from cadre.agreements.models import Agreement, AgreementKind, FrameworkAgreement, RoadmapItem
from cadre.funding.models import FundingLine, FundingScheme
from tests.test_access import (  # defined above the import in test_access
    ADMIN_ONLY,
    API_SIGNED_IN,
    LOGIN,
    SIGNED_IN,
    row,
)

A_VISIBLE = row(LOGIN, 200, 404, 200, 404, 200, 200, 200)
# The Villeurbanne tripartite agreement: its parties (structure A, the Caf du Rhône, the city) and
# the Rhône federation, which sees its member structures.
TRIPARTITE = row(LOGIN, 200, 404, 200, 404, 200, 200, 200)
TRIPARTITE_MANAGE_POST = row(LOGIN, 403, 404, 302, 404, 403, 403, 302)
# The Bouches-du-Rhône convention cadre: seen in the 13, managed by its co-chairs (Caf 13 here).
FRAMEWORK_13 = row(LOGIN, 404, 200, 404, 200, 404, 404, 200)
# A Caf du Rhône line for structure A: the funder and the structure see it in detail.
A_CAF_LINE = row(LOGIN, 200, 404, 200, 404, 404, 404, 200)
A_CAF_LINE_MANAGE = row(LOGIN, 403, 404, 200, 404, 404, 404, 200)


def framework():
    return FrameworkAgreement.objects.get(department_id="13", starts__year=2024)


def tripartite():
    return Agreement.objects.get(kind=AgreementKind.TRIPARTITE)


def caf_line(o):
    return FundingLine.objects.filter(structure=o["a"], partner=o["caf69"]).first()


def a_document(o):
    """A document of structure A for its Caf animation globale funding, waiting for review."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from cadre.funding.actions import deposit

    line = FundingLine.objects.filter(structure=o["a"], partner=o["caf69"], scheme__code="ps-animation-globale").first()
    required = line.scheme.required_documents.first()
    return deposit(o["a"], required, line.year, SimpleUploadedFile("comptes.pdf", b"%PDF-1.4 test"), actor=None)


def caf_item():
    return RoadmapItem.objects.filter(theme__roadmap__agreement=tripartite(), owner_partner__isnull=False).first()


ROWS = {
    "agreements:list": ("get", lambda o: reverse("agreements:list"), SIGNED_IN),
    "agreements:framework": ("get", lambda o: reverse("agreements:framework", args=[framework().uuid]), FRAMEWORK_13),
    "agreements:framework_status": (
        "post",
        lambda o: reverse("agreements:framework_status", args=[framework().uuid]),
        row(LOGIN, 404, 403, 404, 302, 404, 404, 302),
    ),
    "agreements:framework_amend": (
        "get",
        lambda o: reverse("agreements:framework_amend", args=[framework().uuid]),
        row(LOGIN, 404, 403, 404, 200, 404, 404, 200),
    ),
    "agreements:detail": ("get", lambda o: reverse("agreements:detail", args=[tripartite().uuid]), TRIPARTITE),
    "agreements:status": (
        "post",
        lambda o: reverse("agreements:status", args=[tripartite().uuid]),
        TRIPARTITE_MANAGE_POST,
    ),
    "agreements:late_items": ("get", lambda o: reverse("agreements:late_items"), SIGNED_IN),
    "agreements:item": ("get", lambda o: reverse("agreements:item", args=[caf_item().uuid]), TRIPARTITE),
    "funding:structure": ("get", lambda o: reverse("funding:structure", args=[o["a"].uuid]), A_VISIBLE),
    "funding:line_create": (
        "get",
        lambda o: reverse("funding:line_create", args=[o["a"].uuid]),
        row(LOGIN, 403, 404, 200, 404, 403, 200, 200),
    ),
    "funding:partner": (
        "get",
        lambda o: reverse("funding:partner", args=[o["caf69"].uuid]),
        row(LOGIN, 403, 403, 200, 403, 403, 403, 200),
    ),
    "funding:agreement": ("get", lambda o: reverse("funding:agreement", args=[tripartite().uuid]), TRIPARTITE),
    "funding:line": ("get", lambda o: reverse("funding:line", args=[caf_line(o).uuid]), A_CAF_LINE),
    "funding:line_edit": ("get", lambda o: reverse("funding:line_edit", args=[caf_line(o).uuid]), A_CAF_LINE_MANAGE),
    "funding:documents": ("get", lambda o: reverse("funding:documents", args=[o["a"].uuid]), A_VISIBLE),
    "funding:overdue": ("get", lambda o: reverse("funding:overdue"), SIGNED_IN),
    # Structure A's document: A, its funders (the Caf du Rhône, the city) and administrators.
    "funding:document": (
        "get",
        lambda o: reverse("funding:document", args=[a_document(o).uuid]),
        row(LOGIN, 200, 404, 200, 404, 200, 404, 200),
    ),
    "funding:document_review": (
        "post",
        lambda o: reverse("funding:document_review", args=[a_document(o).uuid]),
        row(LOGIN, 403, 404, 302, 404, 403, 404, 302),
    ),
    "funding:schemes": ("get", lambda o: reverse("funding:schemes"), SIGNED_IN),
    "funding:scheme": (
        "get",
        lambda o: reverse("funding:scheme", args=[FundingScheme.objects.get(code="ps-animation-globale").uuid]),
        SIGNED_IN,
    ),
    "funding:scheme_year": (
        "post",
        lambda o: reverse("funding:scheme_year", args=[FundingScheme.objects.get(code="ps-animation-globale").uuid]),
        {**ADMIN_ONLY, "admin": 200},  # an empty form comes back with its errors
    ),
    "api-1.0.0:framework_agreements": ("get", lambda o: reverse("api-1.0.0:framework_agreements"), API_SIGNED_IN),
    "api-1.0.0:framework_agreement": (
        "get",
        lambda o: reverse("api-1.0.0:framework_agreement", args=[framework().uuid]),
        {**FRAMEWORK_13, "anonymous": 401},
    ),
    "api-1.0.0:agreements": ("get", lambda o: reverse("api-1.0.0:agreements"), API_SIGNED_IN),
    "api-1.0.0:agreement": (
        "get",
        lambda o: reverse("api-1.0.0:agreement", args=[tripartite().uuid]),
        {**TRIPARTITE, "anonymous": 401},
    ),
    "api-1.0.0:funding_lines": ("get", lambda o: reverse("api-1.0.0:funding_lines"), API_SIGNED_IN),
    "api-1.0.0:funding_line": (
        "get",
        lambda o: reverse("api-1.0.0:funding_line", args=[caf_line(o).uuid]),
        {**A_CAF_LINE, "anonymous": 401},
    ),
    # An empty body: scope (404) and rights (403) first, then the missing fields (422).
    "api-1.0.0:funding_line_payments": (
        "api_post",
        lambda o: reverse("api-1.0.0:funding_line_payments", args=[caf_line(o).uuid]),
        row(401, 403, 404, 422, 404, 404, 404, 422),
    ),
}


def caf69_envelope(o):
    from decimal import Decimal

    from cadre.funding.models import Envelope

    scheme = FundingScheme.objects.get(code="subvention-projet")
    return Envelope.objects.create(partner=o["caf69"], scheme=scheme, year=2027, amount=Decimal("10000"))


ROWS.update(
    {
        "funding:envelopes": ("get", lambda o: reverse("funding:envelopes"), SIGNED_IN),
        "funding:partner_export": (
            "get",
            lambda o: reverse("funding:partner_export", args=[o["caf69"].uuid]),
            row(LOGIN, 403, 403, 200, 403, 403, 403, 200),
        ),
        "funding:envelope_create": (
            "get",
            lambda o: reverse("funding:envelope_create"),
            row(LOGIN, 403, 403, 200, 200, 403, 200, 200),
        ),
        "funding:envelope": (
            "get",
            lambda o: reverse("funding:envelope", args=[caf69_envelope(o).uuid]),
            row(LOGIN, 404, 404, 200, 404, 404, 404, 200),
        ),
    }
)

TRIPARTITE_MANAGE = row(LOGIN, 403, 404, 200, 404, 403, 403, 200)
FRAMEWORK_13_MANAGE = row(LOGIN, 404, 403, 404, 200, 404, 404, 200)

ROWS.update(
    {
        "agreements:framework_create": ("get", lambda o: reverse("agreements:framework_create"), ADMIN_ONLY),
        "agreements:framework_edit": (
            "get",
            lambda o: reverse("agreements:framework_edit", args=[framework().uuid]),
            FRAMEWORK_13_MANAGE,
        ),
        "agreements:framework_signatory": (
            "get",
            lambda o: reverse("agreements:framework_signatory", args=[framework().uuid]),
            FRAMEWORK_13_MANAGE,
        ),
        "agreements:create": (
            "get",
            lambda o: reverse("agreements:create"),
            row(LOGIN, 403, 403, 200, 200, 403, 200, 200),
        ),
        "agreements:edit": ("get", lambda o: reverse("agreements:edit", args=[tripartite().uuid]), TRIPARTITE_MANAGE),
        "agreements:party": ("get", lambda o: reverse("agreements:party", args=[tripartite().uuid]), TRIPARTITE_MANAGE),
        "agreements:roadmap_start": (
            "post",
            lambda o: reverse("agreements:roadmap_start", args=[tripartite().uuid]),
            TRIPARTITE_MANAGE_POST,
        ),
        "agreements:item_create": (
            "get",
            lambda o: reverse("agreements:item_create", args=[tripartite().uuid]),
            TRIPARTITE_MANAGE,
        ),
    }
)


def a_feed(o):
    from cadre.accounts.models import User
    from cadre.demo import cast
    from cadre.funding.models import CalendarFeed

    return CalendarFeed.objects.get_or_create(user=User.objects.get(email=cast.CAF69))[0]


ROWS.update(
    {
        "funding:calendar": ("get", lambda o: reverse("funding:calendar"), SIGNED_IN),
        "funding:calendar_token": ("post", lambda o: reverse("funding:calendar_token"), row(LOGIN, *[302] * 7)),
        # The secret address is the credential: anyone holding it reads that person's dates.
        "funding:calendar_feed": (
            "get",
            lambda o: reverse("funding:calendar_feed", args=[a_feed(o).token]),
            row(*[200] * 8),
        ),
    }
)


def caf69_import(o):
    from cadre.accounts.models import User
    from cadre.demo import cast
    from cadre.funding.models import SubsidyImport

    return SubsidyImport.objects.create(
        partner=o["caf69"],
        scheme=FundingScheme.objects.get(code="subvention-projet"),
        file_name="subventions.csv",
        content=b"nomAttribuant,idAttribuant\n",
        uploaded_by=User.objects.get(email=cast.CAF69),
    )


ROWS.update(
    {
        "funding:scdl": (
            "get",
            lambda o: reverse("funding:scdl", args=[o["caf69"].uuid]),
            row(LOGIN, 403, 403, 200, 403, 403, 403, 200),
        ),
        # An import is the work of its partner's writers (and of the administrators).
        "funding:scdl_import": (
            "get",
            lambda o: reverse("funding:scdl_import", args=[caf69_import(o).uuid]),
            row(LOGIN, 404, 404, 200, 404, 404, 404, 200),
        ),
        "funding:scdl_import decide": (
            "post",
            lambda o: reverse("funding:scdl_import", args=[caf69_import(o).uuid]),
            row(LOGIN, 404, 404, 302, 404, 404, 404, 302),
        ),
    }
)


def steering():
    from cadre.agreements.models import Committee, CommitteeKind

    return Committee.objects.get(kind=CommitteeKind.STEERING, framework=framework())


def steering_meeting():
    return steering().meetings.order_by("starts_at").first()


def a_follow_up():
    from cadre.agreements.models import FollowUp

    return FollowUp.objects.filter(decision__meeting=steering_meeting()).first()


def data_day():
    from cadre.agreements.models import Event

    return Event.objects.get(kind="data_day")


ROWS.update(
    {
        "agreements:governance": ("get", lambda o: reverse("agreements:governance"), SIGNED_IN),
        "agreements:committee": (
            "get",
            lambda o: reverse("agreements:committee", args=[steering().uuid]),
            FRAMEWORK_13,
        ),
        "agreements:meeting_create": (
            "get",
            lambda o: reverse("agreements:meeting_create", args=[steering().uuid]),
            FRAMEWORK_13_MANAGE,
        ),
        "agreements:meeting": (
            "get",
            lambda o: reverse("agreements:meeting", args=[steering_meeting().uuid]),
            FRAMEWORK_13,
        ),
        "agreements:follow_up_done": (
            "post",
            lambda o: reverse("agreements:follow_up_done", args=[a_follow_up().uuid]),
            row(LOGIN, 404, 403, 404, 302, 404, 404, 302),
        ),
        "agreements:event": ("get", lambda o: reverse("agreements:event", args=[data_day().uuid]), SIGNED_IN),
        "agreements:event_registration": (
            "post",
            lambda o: reverse("agreements:event_registration", args=[data_day().uuid]),
            row(LOGIN, *[302] * 7),
        ),
    }
)


ROWS["funding:agreement_pdf"] = (
    "get",
    lambda o: reverse("funding:agreement_pdf", args=[tripartite().uuid]),
    TRIPARTITE,
)


ROWS["funding:scheme_document"] = (
    "post",
    lambda o: reverse("funding:scheme_document", args=[FundingScheme.objects.get(code="ps-evs").uuid]),
    {**ADMIN_ONLY, "admin": 200},  # an empty form comes back with its errors
)
ROWS["funding:scheme_step"] = (
    "post",
    lambda o: reverse("funding:scheme_step", args=[FundingScheme.objects.get(code="ps-evs").uuid]),
    {**ADMIN_ONLY, "admin": 200},
)


ROWS.update(
    {
        "agreements:committee_create": (
            "get",
            lambda o: reverse("agreements:committee_create", args=[framework().uuid]),
            FRAMEWORK_13_MANAGE,
        ),
        "agreements:event_create": (
            "get",
            lambda o: reverse("agreements:event_create", args=[framework().uuid]),
            FRAMEWORK_13_MANAGE,
        ),
        "agreements:committee_member": (
            "get",
            lambda o: reverse("agreements:committee_member", args=[steering().uuid]),
            FRAMEWORK_13_MANAGE,
        ),
    }
)


def tripartite_attachment():
    from cadre.agreements.models import Attachment

    return Attachment.objects.get(agreement=tripartite())


ROWS.update(
    {
        "agreements:framework_attach": (
            "post",
            lambda o: reverse("agreements:framework_attach", args=[framework().uuid]),
            row(LOGIN, 404, 403, 404, 302, 404, 404, 302),
        ),
        "agreements:attach": (
            "post",
            lambda o: reverse("agreements:attach", args=[tripartite().uuid]),
            TRIPARTITE_MANAGE_POST,
        ),
        "agreements:attachment": (
            "get",
            lambda o: reverse("agreements:attachment", args=[tripartite_attachment().uuid]),
            TRIPARTITE,
        ),
    }
)
