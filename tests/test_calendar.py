"""The obligations calendar: what falls in it, its iCalendar feed, the e-mail reminders."""

import datetime

import pytest
from django.core import mail
from django.core.management import call_command
from django.urls import reverse
from icalendar import Calendar

from cadre.accounts.models import User
from cadre.agreements.models import Agreement, AgreementKind
from cadre.demo import cast
from cadre.funding import views
from cadre.funding.calendar import obligations
from cadre.funding.models import CalendarFeed
from cadre.structures.models import Structure

pytestmark = pytest.mark.django_db


def test_a_caf_advisor_sees_approvals_agreements_and_documents_due(demo):
    advisor = User.objects.get(email=cast.CAF69)
    events = obligations(advisor, datetime.date(2026, 1, 1), datetime.date(2028, 12, 31))
    kinds = {e.kind for e in events}
    assert {"Fin d'agrément", "Fin de convention", "Pièce à déposer"} <= kinds
    tripartite = Agreement.objects.get(kind=AgreementKind.TRIPARTITE)
    assert any(e.uid == f"agreement-{tripartite.uuid}" and e.day == datetime.date(2027, 12, 31) for e in events)
    elsewhere = {str(s.uuid) for s in Structure.objects.filter(commune__department_id="13")}
    assert not any(e.kind == "Fin d'agrément" and e.path.split("/")[-2] in elsewhere for e in events)  # not its scope
    assert any(e.kind == "Fin d'agrément" for e in events)
    assert events == sorted(events, key=lambda e: (e.day, e.kind, e.title))
    caf13 = User.objects.get(email=cast.CAF13)  # a member of the Bouches-du-Rhône steering committee
    its = obligations(caf13, datetime.date(2025, 1, 1), datetime.date(2026, 12, 31))
    assert {"Réunion", "Suite de décision"} <= {e.kind for e in its}
    assert not {"Réunion", "Suite de décision"} & {e.kind for e in events}  # the Rhône has no such body


def test_the_feed_is_read_by_its_secret_address_and_renewing_it_closes_the_old_one(client, demo):
    client.force_login(User.objects.get(email=cast.CAF69))
    client.post(reverse("funding:calendar_token"))
    token = CalendarFeed.objects.get(user__email=cast.CAF69).token
    client.logout()
    response = client.get(reverse("funding:calendar_feed", args=[token]))
    assert response["Content-Type"].startswith("text/calendar")
    calendar = Calendar.from_ical(response.content)
    events = list(calendar.walk("VEVENT"))
    assert events and all(str(e["uid"]).endswith("@cadre") for e in events)
    today = datetime.date.today()
    expected = obligations(User.objects.get(email=cast.CAF69), *views._calendar_period(today))
    assert len(events) == len(expected) > 0
    assert {str(e["uid"]) for e in events} == {f"{o.uid}@cadre" for o in expected}
    client.force_login(User.objects.get(email=cast.CAF69))
    client.post(reverse("funding:calendar_token"))
    client.logout()
    assert client.get(reverse("funding:calendar_feed", args=[token])).status_code == 404
    assert client.get(reverse("funding:calendar_feed", args=["pas-un-jeton"])).status_code == 404


def test_reminders_go_15_and_3_days_before(demo):
    tripartite = Agreement.objects.get(kind=AgreementKind.TRIPARTITE)
    call_command("send_obligation_reminders", today=(tripartite.ends - datetime.timedelta(days=15)).isoformat())
    to = {m.to[0]: m for m in mail.outbox}
    assert cast.CITY_VILLEURBANNE in to  # a party of the agreement
    assert "Convention tripartite Ville de Villeurbanne" in to[cast.CITY_VILLEURBANNE].body
    assert cast.CAF13 not in to or "Villeurbanne" not in to[cast.CAF13].body
    mail.outbox.clear()
    call_command("send_obligation_reminders", today=(tripartite.ends - datetime.timedelta(days=10)).isoformat())
    assert not any("Convention tripartite Ville de Villeurbanne" in m.body for m in mail.outbox)


def test_the_page_reads_the_period_and_the_overdue_once_with_the_same_result(client, demo):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from cadre.funding.calendar import calendar_and_overdue, overdue

    advisor = User.objects.get(email=cast.CAF69)
    today = datetime.date.today()
    start, end = views._calendar_period(today)
    with CaptureQueriesContext(connection) as apart:
        expected = (obligations(advisor, start, end), overdue(advisor, today))
    with CaptureQueriesContext(connection) as together:
        assert calendar_and_overdue(advisor, today, start, end) == expected
    assert expected[0] and len(together) <= len(apart) - 7  # documents owed, roadmap items, follow-ups
    client.force_login(advisor)
    assert client.get(reverse("funding:calendar")).context["months"]


def test_the_feed_is_written_again_when_an_event_changes(client, demo):
    advisor = User.objects.get(email=cast.CAF69)
    feed = CalendarFeed.objects.create(user=advisor)
    url = reverse("funding:calendar_feed", args=[feed.token])

    def summaries():
        return {str(e["summary"]) for e in Calendar.from_ical(client.get(url).content).walk("VEVENT")}

    before = summaries()
    tripartite = Agreement.objects.get(kind=AgreementKind.TRIPARTITE)
    old_title = tripartite.title
    naming = {s for s in before if old_title in s}  # its roadmap items say which agreement they serve
    assert naming
    tripartite.title = "Convention tripartite renouvelée"
    tripartite.save()
    after = summaries()
    assert {s.replace("Convention tripartite renouvelée", old_title) for s in after} == before
    assert not {s for s in after if old_title in s}
