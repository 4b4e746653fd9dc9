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
