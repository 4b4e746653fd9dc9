"""Difficulty reports and support cases in the API: the pages' scope, and of a case only what the caller's circle
reads — a token of the structure never returns a body-only note, document, action or timeline step."""

import pytest
from django.urls import reverse

from cadre.accounts.models import ApiToken, User
from cadre.demo import cast
from cadre.monitoring.case_models import Circle
from tests.cases_data import MEMBER_EMAIL, TEXTS, a_report, circles_case

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def case(demo, django_db_blocker):
    with django_db_blocker.unblock():
        a_report()
        return circles_case()


def token_of(email):
    return ApiToken.issue(User.objects.get(email=email), "essai")[1]


def read(client, email, url, **params):
    return client.get(url, params, HTTP_AUTHORIZATION=f"Bearer {token_of(email)}")


@pytest.mark.parametrize(
    ("email", "circles"),
    [
        (cast.STRUCTURE_B, {Circle.STRUCTURE}),
        (MEMBER_EMAIL, {Circle.PARTNERS, Circle.STRUCTURE}),
        (cast.CAF13, set(Circle)),
        (cast.PREFECTURE13, set(Circle)),
    ],
)
def test_a_case_returns_the_caller_s_circles_only(client, case, email, circles):
    body = read(client, email, reverse("api-1.0.0:support_case", args=[case.uuid])).json()
    assert {note["circle"] for note in body["notes"]} == circles
    assert {note["text"] for note in body["notes"]} == {TEXTS[c] for c in circles}
    assert {d["circle"] for d in body["documents"]} == circles
    assert {a["circle"] for a in body["actions"]} == circles
    assert {step["circle"] for step in body["timeline"]} <= circles
    text = str(body)
    for circle in set(Circle) - circles:
        assert TEXTS[circle] not in text


@pytest.mark.parametrize("email", [cast.CAF69, cast.STRUCTURE_A, cast.FEDERATION69, cast.CITY_VILLEURBANNE])
def test_outside_the_circles_a_case_does_not_exist(client, case, email):
    assert read(client, email, reverse("api-1.0.0:support_case", args=[case.uuid])).status_code == 404
    listed = read(client, email, reverse("api-1.0.0:support_cases")).json()
    assert case.title not in str(listed)


def test_reports_are_read_by_the_partners_told_and_the_structure(client, case):
    report = a_report()
    url = reverse("api-1.0.0:difficulty_reports")
    listed = read(client, cast.CAF69, url, structure=report.structure.uuid).json()
    assert listed["count"] == 1 and listed["results"][0]["attachments"] == ["courrier.pdf"]
    assert read(client, cast.STRUCTURE_A, url).json()["count"] >= 1
    assert read(client, cast.CAF13, url, structure=report.structure.uuid).json()["count"] == 0
    detail = read(client, cast.CAF69, reverse("api-1.0.0:difficulty_report", args=[report.uuid])).json()
    assert detail["category"] == "staff" and detail["urgency"] == "high"


# -- A difficulty reported through the API: the web form's checks and the same workflow ---------------------------


def post(client, email, body):
    import json

    return client.post(
        reverse("api-1.0.0:difficulty_reports"),
        data=json.dumps(body),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token_of(email)}",
    )


def report_body(structure, **changes):
    return {
        "structure": str(structure.uuid),
        "category": "financial",
        "urgency": "critical",
        "description": "La banque refuse le découvert : les salaires de fin de mois ne sont pas couverts.",
        **changes,
    }


@pytest.fixture
def a(demo):
    from cadre.structures.models import Structure

    return Structure.objects.get(memberships__user__email=cast.STRUCTURE_A)


def test_a_structure_reports_a_difficulty_through_the_api_and_its_funders_learn_it(
    client, a, django_capture_on_commit_callbacks
):
    import base64

    from django.core import mail

    from cadre.monitoring.case_models import DifficultyReport
    from tests.cases_data import PDF

    attachment = {"name": "releve.pdf", "content": base64.b64encode(PDF).decode()}
    with django_capture_on_commit_callbacks(execute=True):
        response = post(client, cast.STRUCTURE_A, report_body(a, attachments=[attachment]))
    assert response.status_code == 201, response.json()
    body = response.json()
    report = DifficultyReport.objects.get(uuid=body["id"])
    assert response["Location"] == reverse("api-1.0.0:difficulty_report", args=[report.uuid])
    assert body["attachments"] == ["releve.pdf"] and body["urgency"] == "critical"
    assert report.reported_by.email == cast.STRUCTURE_A and report.notified.exists()
    assert set(body["notified"]) == {str(p.uuid) for p in report.notified.all()}
    recipients = {address for message in mail.outbox for address in message.to}
    assert cast.CAF69 in recipients and cast.STRUCTURE_A not in recipients
    # Read back by the Caf 69, told of it.
    assert read(client, cast.CAF69, response["Location"]).json()["description"].startswith("La banque refuse")


def test_bad_input_is_told_in_french_at_each_field_and_nothing_is_written(client, a):
    from cadre.monitoring.case_models import DifficultyReport

    before = DifficultyReport.objects.count()
    response = post(client, cast.STRUCTURE_A, report_body(a, category="money", urgency="soon", description="Aïe"))
    assert response.status_code == 422
    errors = response.json()["errors"]
    assert "n’est pas un des choix disponibles" in errors["category"][0] or "choix" in errors["category"][0]
    assert "choix" in errors["urgency"][0]
    assert errors["description"] == ["Décrivez la difficulté en quelques phrases (20 caractères au moins)."]
    fake = post(client, cast.STRUCTURE_A, report_body(a, attachments=[{"name": "faux.pdf", "content": "TVo="}]))
    assert "faux.pdf : Ce fichier n'est pas un vrai fichier PDF" in fake.json()["errors"]["attachments"][0]
    garbled = post(client, cast.STRUCTURE_A, report_body(a, attachments=[{"name": "x.pdf", "content": "%%%"}]))
    assert "base64 attendu" in garbled.json()["errors"]["attachments.0.content"][0]
    missing = post(client, cast.STRUCTURE_A, {"structure": str(a.uuid)})
    assert missing.status_code == 422 and set(missing.json()["errors"]) >= {"category", "description"}
    assert DifficultyReport.objects.count() == before


@pytest.mark.parametrize(
    ("email", "status"),
    [
        (cast.STRUCTURE_B, 404),  # not its structure: not even found
        (cast.CAF69, 403),  # sees structure A, does not report for it
        (cast.FEDERATION69, 403),
        (cast.ADMIN, 201),
    ],
)
def test_who_reports_for_a_structure(client, a, email, status):
    assert post(client, email, report_body(a)).status_code == status
