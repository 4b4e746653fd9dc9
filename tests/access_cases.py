"""Rows of the role × URL matrix (tests/test_access.py) for difficulty reports and support cases (tests/cases_data.py).

Structure B (Marseille) is followed by the Bouches-du-Rhône's support cell (Caf 13, federation 13, Préfecture 13);
the Ville de Marseille is a partner concerned. Structure A (Villeurbanne) reports a difficulty: the Caf 69 funds
it and the federation 69 is its federation, so both are told."""

from django.urls import reverse

from cadre.monitoring.case_models import Circle
from tests.cases_data import a_report, circles_case
from tests.test_access import LOGIN, row


def case_url(name, *more):
    return lambda o: reverse(name, args=[circles_case().uuid, *more])


def document(circle):
    return circles_case().documents.get(circle=circle)


def action(circle):
    return circles_case().actions.get(circle=circle)


# Who sees structure B's case: the support cell (Caf 13) and the administrators; structure B through what is
# shared with it. Nobody of the Rhône.
CASE_VISIBLE = row(LOGIN, 404, 200, 404, 200, 404, 404, 200)
CASE_BODY_ONLY = row(LOGIN, 404, 404, 404, 200, 404, 404, 200)
CASE_MANAGE_POST = row(LOGIN, 404, 403, 404, 302, 404, 404, 302)
# A form with errors comes back with its messages (422); structure B may write shared notes.
CASE_WRITE_POST = row(LOGIN, 404, 422, 404, 422, 404, 404, 422)
CASE_MANAGE_FORM_POST = row(LOGIN, 404, 403, 404, 422, 404, 404, 422)
# The case page's forms, shown on demand (their link, htmx or not): to who may send them.
CASE_WRITE_GET = row(LOGIN, 404, 200, 404, 200, 404, 404, 200)
# Changing an action: the cell's writers and the administrators; structure B reads the shared action only.
CASE_MANAGE_GET = row(LOGIN, 404, 403, 404, 200, 404, 404, 200)
CASE_BODY_MANAGE_GET = row(LOGIN, 404, 404, 404, 200, 404, 404, 200)
# Structure A's report: its own people, the partners that fund it (the Caf 69, the Ville de Villeurbanne), its
# federation, the administrators.
A_REPORT = row(LOGIN, 200, 404, 200, 404, 200, 200, 200)
A_REPORTS = row(LOGIN, 200, 404, 200, 404, 200, 200, 200)
A_REPORT_CREATE = row(LOGIN, 200, 404, 403, 404, 403, 403, 200)
OPENERS = row(LOGIN, 403, 403, 403, 200, 403, 403, 200)
SIGNED_IN = row(LOGIN, *[200] * 7)
API_CASE = {**CASE_VISIBLE, "anonymous": 401}
API_REPORT = {**A_REPORT, "anonymous": 401}
API_SIGNED_IN = {**SIGNED_IN, "anonymous": 401}

ROWS = {
    "monitoring:reports": ("get", lambda o: reverse("monitoring:reports", args=[o["a"].uuid]), A_REPORTS),
    "monitoring:report_create": (
        "get",
        lambda o: reverse("monitoring:report_create", args=[o["a"].uuid]),
        A_REPORT_CREATE,
    ),
    "monitoring:report": ("get", lambda o: reverse("monitoring:report", args=[a_report().uuid]), A_REPORT),
    "monitoring:report_attachment": (
        "get",
        lambda o: reverse("monitoring:report_attachment", args=[a_report().attachments.get().uuid]),
        A_REPORT,
    ),
    "monitoring:cases": ("get", lambda o: reverse("monitoring:cases"), SIGNED_IN),
    "monitoring:case_create": (
        "get",
        lambda o: reverse("monitoring:case_create") + f"?structure={circles_case().structure.uuid}",
        OPENERS,
    ),
    "monitoring:case": ("get", case_url("monitoring:case"), CASE_VISIBLE),
    "monitoring:case_plan": ("get", case_url("monitoring:case_plan"), CASE_VISIBLE),
    "monitoring:case_note": ("post", case_url("monitoring:case_note"), CASE_WRITE_POST),
    "monitoring:case_note (form)": ("get", case_url("monitoring:case_note"), CASE_WRITE_GET),
    "monitoring:case_document": ("post", case_url("monitoring:case_document"), CASE_WRITE_POST),
    "monitoring:case_document (form)": ("get", case_url("monitoring:case_document"), CASE_WRITE_GET),
    "monitoring:case_document_download": (
        "get",
        lambda o: reverse("monitoring:case_document_download", args=[document(Circle.BODY).uuid]),
        CASE_BODY_ONLY,
    ),
    "monitoring:case_action": ("post", case_url("monitoring:case_action"), CASE_MANAGE_FORM_POST),
    "monitoring:case_action (form)": ("get", case_url("monitoring:case_action"), CASE_MANAGE_GET),
    "monitoring:case_action_done": (
        "post",
        lambda o: reverse("monitoring:case_action_done", args=[action(Circle.STRUCTURE).uuid]),
        CASE_MANAGE_POST,
    ),
    "monitoring:case_action_edit": (
        "get",
        lambda o: reverse("monitoring:case_action_edit", args=[action(Circle.STRUCTURE).uuid]),
        CASE_MANAGE_GET,
    ),
    "monitoring:case_action_edit (body, POST)": (
        "post",
        lambda o: reverse("monitoring:case_action_edit", args=[action(Circle.BODY).uuid]),
        {**CASE_BODY_MANAGE_GET, "caf13": 422, "admin": 422},
    ),
    "monitoring:case_status": ("post", case_url("monitoring:case_status"), CASE_MANAGE_FORM_POST),
    "monitoring:case_status (form)": ("get", case_url("monitoring:case_status"), CASE_MANAGE_GET),
    "monitoring:case_link": ("post", case_url("monitoring:case_link"), CASE_MANAGE_FORM_POST),
    "monitoring:case_link (form)": ("get", case_url("monitoring:case_link"), CASE_MANAGE_GET),
    "api-1.0.0:difficulty_reports": ("get", lambda o: reverse("api-1.0.0:difficulty_reports"), API_SIGNED_IN),
    "api-1.0.0:difficulty_report": (
        "get",
        lambda o: reverse("api-1.0.0:difficulty_report", args=[a_report().uuid]),
        API_REPORT,
    ),
    # A report written with an empty body: every caller signed in is told the missing fields (the scope and the
    # rights come after, tests/test_api_cases.py).
    "api-1.0.0:difficulty_reports (POST)": (
        "api_post",
        lambda o: reverse("api-1.0.0:difficulty_reports"),
        {**dict.fromkeys(API_SIGNED_IN, 422), "anonymous": 401},
    ),
    "api-1.0.0:support_cases": ("get", lambda o: reverse("api-1.0.0:support_cases"), API_SIGNED_IN),
    "api-1.0.0:support_case": (
        "get",
        lambda o: reverse("api-1.0.0:support_case", args=[circles_case().uuid]),
        API_CASE,
    ),
}
