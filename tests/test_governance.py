"""Governance bodies: who sees them (the support cell stays among its members), meetings, decisions
and their follow-ups, event registrations within the places."""

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from cadre.accounts.models import User
from cadre.agreements import actions
from cadre.agreements.models import Committee, CommitteeKind, Event, FollowUp, Meeting
from cadre.demo import cast

pytestmark = pytest.mark.django_db


def test_the_support_cell_is_seen_by_its_members_only(demo):
    support = Committee.objects.get(kind=CommitteeKind.SUPPORT)
    steering = Committee.objects.get(kind=CommitteeKind.STEERING)
    director_b = User.objects.get(email=cast.STRUCTURE_B)
    caf13 = User.objects.get(email=cast.CAF13)
    assert steering in Committee.objects.visible_to(director_b)  # it sees the framework
    assert support not in Committee.objects.visible_to(director_b)
    assert support in Committee.objects.visible_to(caf13)  # a member


def test_a_chair_records_a_decision_with_its_follow_up_and_marks_it_done(client, demo):
    meeting = Meeting.objects.filter(committee__kind=CommitteeKind.STEERING).order_by("-starts_at").first()
    client.force_login(User.objects.get(email=cast.CAF13))
    url = reverse("agreements:meeting", args=[meeting.uuid])
    missing_due = client.post(url, {"action": "decision", "text": "Étendre l'observatoire", "follow_up": "Écrire"})
    assert missing_due.context["decision_form"].errors["due"] == ["Une suite à donner a une échéance."]
    count = meeting.decisions.count()
    response = client.post(
        url,
        {
            "action": "decision",
            "text": "Étendre l'observatoire aux EVS",
            "follow_up": "Adapter le questionnaire",
            "due": "2027-01-31",
        },
    )
    assert response.status_code == 302
    decision = meeting.decisions.order_by("-number").first()
    assert decision.number == count + 1
    follow_up = decision.follow_ups.get()
    client.post(reverse("agreements:follow_up_done", args=[follow_up.uuid]))
    follow_up.refresh_from_db()
    assert follow_up.done_on == datetime.date.today()
    assert FollowUp.objects.late(today=datetime.date(2025, 7, 1)).filter(title="Rédiger l'avenant n° 1").exists()


def test_registrations_stop_at_the_places_and_past_events(demo):
    event = Event.objects.get(kind="data_day")
    event.capacity = event.registrations.count() + 1
    event.save()
    actions.register(event, User.objects.get(email=cast.CAF69))
    with pytest.raises(ValidationError, match="Complet"):
        actions.register(event, User.objects.get(email=cast.FEDERATION69))
    with pytest.raises(ValidationError, match="déjà inscrit"):
        actions.register(event, User.objects.get(email=cast.CAF69))
    past = Event.objects.get(kind="exchange_day")
    assert past.starts_at < timezone.now()
    with pytest.raises(ValidationError, match="déjà eu lieu"):
        actions.register(past, User.objects.get(email=cast.CAF69))


def test_a_co_chair_creates_a_body_adds_a_member_and_publishes_an_event(client, demo):
    from cadre.agreements.models import FrameworkAgreement
    from cadre.partners.models import Partner

    framework = FrameworkAgreement.objects.get(department_id="13", starts__year=2024)
    client.force_login(User.objects.get(email=cast.CAF13))
    response = client.post(
        reverse("agreements:committee_create", args=[framework.uuid]),
        {"kind": "territorial", "name": "Instance territoriale d'Arles", "mission": ""},
    )
    committee = Committee.objects.get(name="Instance territoriale d'Arles")
    assert response["Location"] == reverse("agreements:committee", args=[committee.uuid])
    arles = Partner.objects.get(name="Ville d'Arles")
    member = reverse("agreements:committee_member", args=[committee.uuid])
    client.post(member, {"partner": arles.pk, "person": "M. le maire", "role": "chair"})
    assert committee.members.get().partner == arles
    again = client.post(member, {"partner": arles.pk, "role": "member"})
    assert "partner" in again.context["form"].errors
    event = client.post(
        reverse("agreements:event_create", args=[framework.uuid]),
        {"kind": "training", "title": "Formation à l'observatoire", "starts_at": "2027-03-04T14:00", "capacity": "20"},
    )
    assert event.status_code == 302
    assert Event.objects.get(title="Formation à l'observatoire").capacity == 20


def test_a_signed_agreement_is_attached_checked_and_served_to_those_who_see_it(client, demo):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from cadre.agreements.models import Agreement, AgreementKind, Attachment

    tripartite = Agreement.objects.get(kind=AgreementKind.TRIPARTITE)
    client.force_login(User.objects.get(email=cast.CAF69))
    url = reverse("agreements:attach", args=[tripartite.uuid])
    bad = client.post(url, {"kind": "annex", "file": SimpleUploadedFile("annexe.pdf", b"pas un pdf")}, follow=True)
    assert "pas un vrai fichier PDF" in bad.content.decode()
    assert tripartite.attachments.count() == 1  # the demo's signed text only
    client.post(
        url, {"kind": "annex", "title": "Annexe financière", "file": SimpleUploadedFile("annexe.pdf", b"%PDF-1.4 x")}
    )
    annex = Attachment.objects.get(title="Annexe financière")
    assert client.get(reverse("agreements:attachment", args=[annex.uuid])).content == b"%PDF-1.4 x"
    client.force_login(User.objects.get(email=cast.CAF13))
    assert client.get(reverse("agreements:attachment", args=[annex.uuid])).status_code == 404
