"""Every URL of the project, walked as every member of the demo cast.

A new URL fails `test_every_url_is_in_the_matrix` until its expected statuses are written here.
"""

import datetime

import pytest
from django.core.management import call_command
from django.test import override_settings
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from cadre.accounts.models import ApiToken, User
from cadre.demo import cast
from cadre.exchanges.actions import record_import
from cadre.observatory import actions as observatory_actions
from cadre.observatory.models import Anomaly, AnomalyKind, Campaign, Questionnaire, Submission, SubmissionStatus
from cadre.partners.models import Partner
from cadre.structures.models import Structure
from tests.conftest import settle_constraints

pytestmark = pytest.mark.django_db

ROLES = ["anonymous", "structure_a", "structure_b", "caf69", "caf13", "city", "federation69", "admin"]
EMAILS = {
    "structure_a": cast.STRUCTURE_A,
    "structure_b": cast.STRUCTURE_B,
    "caf69": cast.CAF69,
    "caf13": cast.CAF13,
    "city": cast.CITY_VILLEURBANNE,
    "federation69": cast.FEDERATION69,
    "admin": cast.ADMIN,
}
LOGIN = 302  # anonymous visitor sent to the login page


def row(*statuses):
    assert len(statuses) == len(ROLES)
    return dict(zip(ROLES, statuses, strict=True))


ALL_OK = row(*[200] * 8)
SIGNED_IN = row(LOGIN, *[200] * 7)
# Structure A (a centre social of Villeurbanne, member of the Rhône federation):
A_VISIBLE = row(LOGIN, 200, 404, 200, 404, 200, 200, 200)
A_EDITABLE = row(LOGIN, 200, 404, 200, 404, 403, 200, 200)
A_APPROVALS = row(LOGIN, 403, 404, 200, 404, 403, 403, 200)
A_DELETE = {**A_EDITABLE, **{role: 302 for role, status in A_EDITABLE.items() if status == 200}}
A_APPROVAL_DELETE = {**A_APPROVALS, **{role: 302 for role, status in A_APPROVALS.items() if status == 200}}
CREATE_STRUCTURE = row(LOGIN, 403, 403, 200, 200, 403, 200, 200)
ADMIN_ONLY = row(LOGIN, *[403] * 6, 200)
ADMIN_ONLY_POST = row(LOGIN, *[403] * 6, 302)
API_SIGNED_IN = {**SIGNED_IN, "anonymous": 401}
# Observatory. Structure A's submission is a draft; « reviewed » is another Villeurbanne centre's submission,
# sent and waiting for the Rhône correspondants (Caf 69 and federation 69).
A_FILLING_POST = row(LOGIN, 302, 404, 403, 404, 403, 403, 302)
A_AUTOSAVE = row(LOGIN, 200, 404, 403, 404, 403, 403, 200)
REVIEW = row(LOGIN, 404, 404, 200, 404, 403, 200, 200)
REVIEW_POST = {**REVIEW, **{role: 302 for role, status in REVIEW.items() if status == 200}}
REMIND_POST = row(LOGIN, 403, 403, 302, 302, 403, 302, 302)
REOPEN_POST = row(LOGIN, 404, 404, 403, 404, 403, 403, 302)
API_A_VISIBLE = {**A_VISIBLE, "anonymous": 401}

# name: (method, url builder, expected statuses)
MATRIX = {
    "core:home": ("get", lambda o: reverse("core:home"), ALL_OK),
    "core:accessibility": ("get", lambda o: reverse("core:accessibility"), ALL_OK),
    "core:personal_data": ("get", lambda o: reverse("core:personal_data"), ALL_OK),
    "core:legal_notice": ("get", lambda o: reverse("core:legal_notice"), ALL_OK),
    "core:empty_view": ("get", lambda o: reverse("core:empty_view"), ALL_OK),
    "core:empty_layout": ("get", lambda o: reverse("core:empty_layout"), ALL_OK),
    "accounts:login": ("get", lambda o: reverse("accounts:login"), row(200, *[302] * 7)),
    "accounts:logout": ("post", lambda o: reverse("accounts:logout"), row(*[302] * 8)),
    "accounts:password_reset": ("get", lambda o: reverse("accounts:password_reset"), ALL_OK),
    "accounts:password_reset_done": ("get", lambda o: reverse("accounts:password_reset_done"), ALL_OK),
    "accounts:password_reset_confirm": (
        "get",
        lambda o: reverse("accounts:password_reset_confirm", args=["MQ", "faux-jeton"]),
        ALL_OK,
    ),
    "accounts:password_reset_complete": ("get", lambda o: reverse("accounts:password_reset_complete"), ALL_OK),
    "accounts:password_change": ("get", lambda o: reverse("accounts:password_change"), SIGNED_IN),
    "accounts:profile": ("get", lambda o: reverse("accounts:profile"), SIGNED_IN),
    # The token belongs to the administrator: nobody else can even find it.
    "accounts:revoke_token": (
        "post",
        lambda o: reverse("accounts:revoke_token", args=[o["token"].uuid]),
        row(LOGIN, *[404] * 6, 302),
    ),
    "territories:commune_suggestions": (
        "get",
        lambda o: reverse("territories:commune_suggestions") + "?q=villeur",
        ALL_OK,
    ),
    "partners:list": ("get", lambda o: reverse("partners:list"), SIGNED_IN),
    "partners:create": ("get", lambda o: reverse("partners:create"), ADMIN_ONLY),
    "partners:detail": ("get", lambda o: reverse("partners:detail", args=[o["caf69"].uuid]), SIGNED_IN),
    "partners:history": ("get", lambda o: reverse("partners:history", args=[o["caf69"].uuid]), SIGNED_IN),
    "partners:edit": ("get", lambda o: reverse("partners:edit", args=[o["caf69"].uuid]), ADMIN_ONLY),
    "partners:contact_create": (
        "get",
        lambda o: reverse("partners:contact_create", args=[o["caf69"].uuid]),
        ADMIN_ONLY,
    ),
    "partners:contact_edit": (
        "get",
        lambda o: reverse("partners:contact_edit", args=[o["caf69"].uuid, o["caf69_contact"].uuid]),
        ADMIN_ONLY,
    ),
    "partners:contact_delete": (
        "post",
        lambda o: reverse("partners:contact_delete", args=[o["caf69"].uuid, o["caf69_contact"].uuid]),
        ADMIN_ONLY_POST,
    ),
    "observatory:questionnaires": ("get", lambda o: reverse("observatory:questionnaires"), SIGNED_IN),
    "observatory:questionnaire": (
        "get",
        lambda o: reverse("observatory:questionnaire", args=[o["questionnaire"].uuid]),
        SIGNED_IN,
    ),
    "observatory:campaigns": ("get", lambda o: reverse("observatory:campaigns"), SIGNED_IN),
    "observatory:campaign_create": ("get", lambda o: reverse("observatory:campaign_create"), ADMIN_ONLY),
    "observatory:campaign": ("get", lambda o: reverse("observatory:campaign", args=[o["campaign"].uuid]), SIGNED_IN),
    "observatory:campaign_edit": (
        "get",
        lambda o: reverse("observatory:campaign_edit", args=[o["campaign"].uuid]),
        ADMIN_ONLY,
    ),
    "observatory:campaign_correspondents": (
        "get",
        lambda o: reverse("observatory:campaign_correspondents", args=[o["campaign"].uuid]),
        ADMIN_ONLY,
    ),
    "observatory:campaign_open": (
        "post",
        lambda o: reverse("observatory:campaign_open", args=[o["campaign"].uuid]),
        ADMIN_ONLY_POST,
    ),
    "observatory:campaign_remind": (
        "post",
        lambda o: reverse("observatory:campaign_remind", args=[o["campaign"].uuid]),
        REMIND_POST,
    ),
    "observatory:submission": ("get", lambda o: reverse("observatory:submission", args=[o["a_sub"].uuid]), A_VISIBLE),
    "observatory:submission_section": (
        "get",
        lambda o: reverse("observatory:submission_section", args=[o["a_sub"].uuid, "finances"]),
        A_VISIBLE,
    ),
    "observatory:section_prefill": (
        "post",
        lambda o: reverse("observatory:section_prefill", args=[o["a_sub"].uuid, "finances"]),
        A_FILLING_POST,
    ),
    "observatory:answer_save": (
        "post",
        lambda o: reverse("observatory:answer_save", args=[o["a_sub"].uuid, "faits_marquants"]),
        A_AUTOSAVE,
    ),
    "observatory:submission_submit": (
        "post",
        lambda o: reverse("observatory:submission_submit", args=[o["a_sub"].uuid]),
        A_FILLING_POST,
    ),
    "observatory:submission_print": (
        "get",
        lambda o: reverse("observatory:submission_print", args=[o["a_sub"].uuid]),
        A_VISIBLE,
    ),
    "observatory:submission_return": (
        "get",
        lambda o: reverse("observatory:submission_return", args=[o["reviewed"].uuid]),
        REVIEW,
    ),
    "observatory:submission_validate": (
        "post",
        lambda o: reverse("observatory:submission_validate", args=[o["reviewed"].uuid]),
        REVIEW_POST,
    ),
    "observatory:submission_reopen": (
        "post",
        lambda o: reverse("observatory:submission_reopen", args=[o["validated"].uuid]),
        REOPEN_POST,
    ),
    "observatory:anomaly_query": (
        "post",
        lambda o: reverse("observatory:anomaly_query", args=[o["anomaly"].uuid]),
        REVIEW_POST,
    ),
    "observatory:anomaly_justify": (
        "post",
        lambda o: reverse("observatory:anomaly_justify", args=[o["anomaly"].uuid]),
        REVIEW_POST,
    ),
    "exchanges:campaign_export": (
        "get",
        lambda o: reverse("exchanges:campaign_export", args=[o["campaign"].uuid, "xlsx"]),
        SIGNED_IN,
    ),
    "exchanges:campaign_codebook": (
        "get",
        lambda o: reverse("exchanges:campaign_codebook", args=[o["campaign"].uuid]),
        SIGNED_IN,
    ),
    # Contributors of a structure of the campaign, correspondants and administrators; not the city's viewer.
    "exchanges:campaign_import": (
        "get",
        lambda o: reverse("exchanges:campaign_import", args=[o["campaign"].uuid]),
        row(LOGIN, 200, 200, 200, 200, 403, 200, 200),
    ),
    # The import was uploaded by structure A's contributor: only they (and administrators) can open it.
    "exchanges:import_detail": (
        "get",
        lambda o: reverse("exchanges:import_detail", args=[o["answer_import"].uuid]),
        row(LOGIN, 200, 404, 404, 404, 404, 404, 200),
    ),
    "exchanges:import_apply": (
        "post",
        lambda o: reverse("exchanges:import_apply", args=[o["answer_import"].uuid]),
        row(LOGIN, 302, 404, 404, 404, 404, 404, 403),
    ),
    "structures:list": ("get", lambda o: reverse("structures:list") + "?department=69", SIGNED_IN),
    "structures:export": ("get", lambda o: reverse("structures:export", args=["xlsx"]), SIGNED_IN),
    "structures:create": ("get", lambda o: reverse("structures:create"), CREATE_STRUCTURE),
    "structures:detail": ("get", lambda o: reverse("structures:detail", args=[o["a"].uuid]), A_VISIBLE),
    # The QPV checkboxes of the form, redrawn for a commune: structure A's linked QPV are read as A is.
    "structures:priority_area_choices": (
        "get",
        lambda o: reverse("structures:priority_area_choices") + f"?structure={o['a'].uuid}&commune=69266",
        A_VISIBLE,
    ),
    "structures:history": ("get", lambda o: reverse("structures:history", args=[o["a"].uuid]), A_VISIBLE),
    "structures:edit": ("get", lambda o: reverse("structures:edit", args=[o["a"].uuid]), A_EDITABLE),
    "structures:approval_create": (
        "get",
        lambda o: reverse("structures:approval_create", args=[o["a"].uuid]),
        A_APPROVALS,
    ),
    "structures:approval_edit": (
        "get",
        lambda o: reverse("structures:approval_edit", args=[o["a_approval"].uuid]),
        A_APPROVALS,
    ),
    "structures:approval_delete": (
        "post",
        lambda o: reverse("structures:approval_delete", args=[o["a_approval"].uuid]),
        A_APPROVAL_DELETE,
    ),
    "structures:contact_create": (
        "get",
        lambda o: reverse("structures:contact_create", args=[o["a"].uuid]),
        A_EDITABLE,
    ),
    "structures:contact_edit": (
        "get",
        lambda o: reverse("structures:contact_edit", args=[o["a"].uuid, o["a_contact"].uuid]),
        A_EDITABLE,
    ),
    "structures:contact_delete": (
        "post",
        lambda o: reverse("structures:contact_delete", args=[o["a"].uuid, o["a_contact"].uuid]),
        A_DELETE,
    ),
    "directory:list": ("get", lambda o: reverse("directory:list"), ALL_OK),
    "directory:detail": ("get", lambda o: reverse("directory:detail", args=[o["a"].uuid]), ALL_OK),
    "admin:index": ("get", lambda o: reverse("admin:index"), row(*[302] * 7, 200)),
    # REST API (session here; bearer tokens are tested in test_api.py). Anonymous callers get a JSON 401.
    "api-1.0.0:api-root": ("get", lambda o: reverse("api-1.0.0:api-root"), ALL_OK),
    "api-1.0.0:openapi-json": ("get", lambda o: reverse("api-1.0.0:openapi-json"), ALL_OK),
    "api-1.0.0:openapi-view": ("get", lambda o: reverse("api-1.0.0:openapi-view"), ALL_OK),
    "api-1.0.0:regions": ("get", lambda o: reverse("api-1.0.0:regions"), ALL_OK),
    "api-1.0.0:region": ("get", lambda o: reverse("api-1.0.0:region", args=["84"]), ALL_OK),
    "api-1.0.0:departments": ("get", lambda o: reverse("api-1.0.0:departments") + "?region=84", ALL_OK),
    "api-1.0.0:department": ("get", lambda o: reverse("api-1.0.0:department", args=["69"]), ALL_OK),
    "api-1.0.0:epcis": ("get", lambda o: reverse("api-1.0.0:epcis") + "?department=69", ALL_OK),
    "api-1.0.0:epci": ("get", lambda o: reverse("api-1.0.0:epci", args=["200046977"]), ALL_OK),
    "api-1.0.0:communes": ("get", lambda o: reverse("api-1.0.0:communes") + "?q=villeur", ALL_OK),
    "api-1.0.0:commune": ("get", lambda o: reverse("api-1.0.0:commune", args=["69266"]), ALL_OK),
    "api-1.0.0:priority_areas": ("get", lambda o: reverse("api-1.0.0:priority_areas") + "?department=69", ALL_OK),
    "api-1.0.0:priority_area": ("get", lambda o: reverse("api-1.0.0:priority_area", args=["QN06921M"]), ALL_OK),
    "api-1.0.0:structures": ("get", lambda o: reverse("api-1.0.0:structures") + "?department=69", API_SIGNED_IN),
    "api-1.0.0:structure": ("get", lambda o: reverse("api-1.0.0:structure", args=[o["a"].uuid]), API_A_VISIBLE),
    "api-1.0.0:campaigns": ("get", lambda o: reverse("api-1.0.0:campaigns"), API_SIGNED_IN),
    "api-1.0.0:campaign": ("get", lambda o: reverse("api-1.0.0:campaign", args=[o["campaign"].uuid]), API_SIGNED_IN),
    "api-1.0.0:campaign_questions": (
        "get",
        lambda o: reverse("api-1.0.0:campaign_questions", args=[o["campaign"].uuid]),
        API_SIGNED_IN,
    ),
    "api-1.0.0:submissions": ("get", lambda o: reverse("api-1.0.0:submissions"), API_SIGNED_IN),
    "api-1.0.0:submission": (
        "get",
        lambda o: reverse("api-1.0.0:submission", args=[o["a_sub"].uuid]),
        API_A_VISIBLE,
    ),
    # Writes with an empty JSON body and no If-Match: who gets past scope (404) and rights (403).
    "api-1.0.0:submission_answers": (
        "api_patch",
        lambda o: reverse("api-1.0.0:submission_answers", args=[o["a_sub"].uuid]),
        row(401, 422, 404, 403, 404, 403, 403, 422),
    ),
    "api-1.0.0:submission_submit": (
        "api_post",
        lambda o: reverse("api-1.0.0:submission_submit", args=[o["a_sub"].uuid]),
        row(401, 428, 404, 403, 404, 403, 403, 428),
    ),
    "api-1.0.0:submission_return": (
        "api_post",
        lambda o: reverse("api-1.0.0:submission_return", args=[o["reviewed"].uuid]),
        row(401, 404, 404, 428, 404, 403, 428, 428),
    ),
    "api-1.0.0:submission_validate": (
        "api_post",
        lambda o: reverse("api-1.0.0:submission_validate", args=[o["reviewed"].uuid]),
        row(401, 404, 404, 428, 404, 403, 428, 428),
    ),
    "api-1.0.0:submission_reopen": (
        "api_post",
        lambda o: reverse("api-1.0.0:submission_reopen", args=[o["validated"].uuid]),
        row(401, 404, 404, 403, 404, 403, 403, 428),
    ),
    "api-1.0.0:partners": ("get", lambda o: reverse("api-1.0.0:partners"), API_SIGNED_IN),
    "api-1.0.0:partner": ("get", lambda o: reverse("api-1.0.0:partner", args=[o["caf69"].uuid]), API_SIGNED_IN),
}


# Rows kept beside the pages they cover (same shape; helpers: row, LOGIN… from this module).
from tests import access_agreements, access_definitions, access_indicators, access_open_data  # noqa: E402

for module in (access_agreements, access_definitions, access_indicators, access_open_data):
    MATRIX.update(module.ROWS)

from tests import access_accounts  # noqa: E402 — two-factor authentication and ProConnect

MATRIX.update(access_accounts.ROWS)

from tests import access_registry  # noqa: E402 — the registry import (structures, partners)

MATRIX.update(access_registry.ROWS)

# Rows must all be in MATRIX before test_url_as_role below is parametrised from it.
from tests import access_privacy  # noqa: E402 — personal-data rights

MATRIX.update(access_privacy.ROWS)

from tests import access_invitations  # noqa: E402 — teams and invitations

MATRIX.update(access_invitations.ROWS)

from tests import access_monitoring  # noqa: E402 — financial statements

MATRIX.update(access_monitoring.ROWS)

from tests import access_statement_import  # noqa: E402 — the annual accounts import and the accounts' API writes

MATRIX.update(access_statement_import.ROWS)

from tests import access_alerts  # noqa: E402 — early warning: alerts, acknowledgements, rules

MATRIX.update(access_alerts.ROWS)

from tests import access_cases  # noqa: E402 — difficulty reports and support cases

MATRIX.update(access_cases.ROWS)


def url_names(patterns=None, namespace=""):
    """Every named URL of the project (the admin site's generated model pages excepted)."""
    for pattern in patterns if patterns is not None else get_resolver().url_patterns:
        if isinstance(pattern, URLResolver):
            inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            if inner == "admin:":
                yield "admin:index"
                continue
            yield from url_names(pattern.url_patterns, inner)
        elif isinstance(pattern, URLPattern) and pattern.name:
            yield f"{namespace}{pattern.name}"


def test_every_url_is_in_the_matrix():
    missing = sorted(set(url_names()) - set(MATRIX))
    assert not missing, f"URL absentes de la matrice d'accès : {missing}"


@pytest.fixture(scope="module")
def objects(demo, django_db_blocker):
    # Built once in the module's transaction (see the `demo` fixture); each case runs in its own savepoint.
    with django_db_blocker.unblock():
        built = build_objects()
        settle_constraints()
        return built


def build_objects():
    """One object of each kind the matrix's URLs need, on the demo (also at national scale: benchmarks/pages.py)."""
    a = Structure.objects.get(memberships__user__email=cast.STRUCTURE_A)
    federation = Partner.objects.get(memberships__user__email=cast.FEDERATION69)
    if a.federation_id != federation.pk:
        Structure.objects.filter(pk=a.pk).update(federation=federation)
    caf69 = Partner.objects.get(memberships__user__email=cast.CAF69)
    token, _ = ApiToken.issue(User.objects.get(email=cast.ADMIN), "matrice")
    return {
        **observatory_objects(a, federation),
        "a": a,
        "a_approval": a.approvals.first(),
        "a_contact": a.contacts.first() or a.contacts.create(name="Contact de test"),
        "caf69": caf69,
        "caf69_contact": caf69.contacts.first() or caf69.contacts.create(name="Contact de test"),
        "token": token,
        "questionnaire": Questionnaire.objects.first()
        or Questionnaire.objects.create(code="essai", version=1, title="Essai", digest="0" * 64),
    }


def observatory_objects(a, federation):
    """The current campaign (open today), structure A's draft, a sent and a validated submission of Villeurbanne."""
    admin = User.objects.get(email=cast.ADMIN)
    today = timezone.localdate()
    campaign = Campaign.objects.filter(year=today.year - 1).first()
    if campaign is None:
        if not Questionnaire.objects.filter(code="senacs").exists():
            call_command("load_questionnaire", verbosity=0)
        campaign = Campaign.objects.create(
            year=today.year - 1,
            title="Observatoire de l'an passé",
            questionnaire=Questionnaire.objects.get(code="senacs"),
            opens_on=today - datetime.timedelta(days=10),
            closes_on=today + datetime.timedelta(days=30),
        )
        observatory_actions.open_campaign(campaign, actor=admin)
        observatory_actions.assign_default_correspondents(campaign)
    Campaign.objects.filter(pk=campaign.pk).update(
        opens_on=today - datetime.timedelta(days=10), closes_on=today + datetime.timedelta(days=30)
    )
    campaign.refresh_from_db()
    a_sub = campaign.submissions.get(structure=a)
    others = list(campaign.submissions.filter(structure__commune_id=a.commune_id).exclude(pk=a_sub.pk)[:2])
    Structure.objects.filter(pk__in=[s.structure_id for s in others]).update(federation=federation)
    Submission.objects.filter(pk=a_sub.pk).update(status=SubmissionStatus.DRAFT)
    Submission.objects.filter(pk=others[0].pk).update(status=SubmissionStatus.SUBMITTED)
    Submission.objects.filter(pk=others[1].pk).update(status=SubmissionStatus.VALIDATED)
    anomaly = Anomaly.objects.create(
        submission=others[0],
        question=campaign.questionnaire.questions.get(code="budget_total"),
        kind=AnomalyKind.REVIEWER,
        detail="Vérifier le budget",
    )
    answer_import = record_import(
        campaign,
        User.objects.get(email=cast.STRUCTURE_A),
        "a.csv",
        f"identifiant;salaries_total\r\n{a.uuid};3\r\n".encode(),
    )
    return {
        "campaign": campaign,
        "a_sub": a_sub,
        "reviewed": others[0],
        "validated": others[1],
        "anomaly": anomaly,
        "answer_import": answer_import,
    }


RECORDED_TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("name", sorted(MATRIX))
def test_url_as_role(client, objects, name, role):
    method, build, expected = MATRIX[name]
    if role != "anonymous":
        client.force_login(User.objects.get(email=EMAILS[role]))
    url = build(objects)
    # The answer is what is checked here: work the request hands to the task queue (a PDF report takes
    # seconds) is recorded, not run. Each task has its own tests.
    with override_settings(TASKS=RECORDED_TASKS):
        if method.startswith("api_"):
            body = '{"answers": {}}' if method == "api_patch" else "{}"
            response = getattr(client, method[4:])(url, data=body, content_type="application/json")
        else:
            response = getattr(client, method)(url)
    assert response.status_code == expected[role], f"{name} en tant que {role}"
    if expected[role] == LOGIN and role == "anonymous" and name not in {"accounts:logout", "admin:index"}:
        assert response["Location"].startswith(reverse("accounts:login"))
