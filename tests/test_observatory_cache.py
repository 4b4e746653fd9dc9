"""Observatory pages kept in the cache: the campaign dashboard (cadre.observatory.dashboard) until a table it reads
changes — it declares every table it reads, and shows a change of the data on the next visit —, a questionnaire's
questions while the version loaded stays the same."""

import re

import pytest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from cadre.accounts.models import User
from cadre.demo import cast
from cadre.observatory import dashboard
from cadre.observatory.models import Anomaly, AnomalyStatus, Campaign, Question, Submission, SubmissionStatus
from cadre.structures.models import Structure, sees_structure
from tests.test_stamps import READERS, scoped, tables_read, without_token

pytestmark = pytest.mark.django_db


def opened_campaign():
    return Campaign.objects.filter(opened_at__isnull=False).order_by("-year").first()


@pytest.mark.parametrize("email", READERS)
def test_the_dashboard_declares_every_table_it_is_read_from(demo, email):
    user, campaign = scoped(email), opened_campaign()
    read = set()
    for asked in (None, "", "mine", "69"):
        read |= tables_read(lambda asked=asked: dashboard._dashboard(user, campaign, asked, can_remind=True))
    assert read and read <= dashboard._DASHBOARD.tables, sorted(read - dashboard._DASHBOARD.tables)


def count(html, pattern):
    return int(re.search(pattern, html).group(1))


def test_the_dashboard_is_kept_and_shows_a_change_of_its_data_on_the_next_visit(client, demo):
    advisor = User.objects.get(email=cast.CAF69)
    client.force_login(advisor)
    campaign = opened_campaign()
    url = reverse("observatory:campaign", args=[campaign.uuid]) + "?departement="
    first = without_token(client.get(url))
    assert without_token(client.get(url)) == first
    # A questionnaire of its scope is sent: it moves from « not sent » to « to review ».
    submission = Submission.objects.visible_to(advisor).filter(campaign=campaign, status=SubmissionStatus.DRAFT).first()
    Submission.objects.filter(pk=submission.pk).update(status=SubmissionStatus.SUBMITTED)
    html = without_token(client.get(url))
    assert count(html, r"À relire \((\d+)\)") == count(first, r"À relire \((\d+)\)") + 1
    assert count(html, r"Pas encore envoyés \((\d+)\)") == count(first, r"Pas encore envoyés \((\d+)\)") - 1
    # A point to check is raised on it.
    question = campaign.questionnaire.questions.first()
    Anomaly.objects.create(submission=submission, question=question, kind="reviewer", detail="Écart constaté")
    again = without_token(client.get(url))
    assert (
        count(again, r"Points à vérifier \((\d+) ouverts\)") == count(html, r"Points à vérifier \((\d+) ouverts\)") + 1
    )
    Anomaly.objects.filter(submission=submission).update(status=AnomalyStatus.JUSTIFIED)
    settled = without_token(client.get(url))
    assert "Écart constaté" in again and "Écart constaté" not in settled


def test_each_user_sees_their_own_dashboard(client, demo):
    campaign = opened_campaign()
    url = reverse("observatory:campaign", args=[campaign.uuid]) + "?departement="
    totals = {}
    for email in (cast.ADMIN, cast.CAF69):
        client.force_login(User.objects.get(email=email))
        totals[email] = client.get(url).context["total"]
    assert totals[cast.ADMIN] > totals[cast.CAF69] > 0


def test_the_remind_buttons_post_the_page_forms_with_their_token(client, demo):
    client.force_login(User.objects.get(email=cast.ADMIN))
    campaign = opened_campaign()
    html = client.get(reverse("observatory:campaign", args=[campaign.uuid])).content.decode()
    for form in ("remind-all", "remind-one"):
        assert f'form="{form}"' in html
        declared = html.split(f'id="{form}"')[1].split("</form>")[0]
        assert 'name="csrfmiddlewaretoken"' in declared and 'name="next"' in declared


def test_the_questionnaire_page_shows_a_version_loaded_again(client, questionnaire):
    client.force_login(User.objects.create_user(email="lecteur@exemple.fr", password="x"))
    url = reverse("observatory:questionnaire", args=[questionnaire.uuid])
    question = questionnaire.questions.first()
    assert escape(question.label) in client.get(url).content.decode()
    # Loaded again from a changed file (not used by a campaign): its load time changes with it.
    Question.objects.filter(pk=question.pk).update(label="Libellé revu")
    questionnaire.digest = "0" * 64
    questionnaire.save()
    html = client.get(url).content.decode()
    assert "Libellé revu" in html and escape(question.label) not in html


def test_the_questionnaire_page_lists_its_campaigns_and_choices_as_a_sentence(client, questionnaire):
    today = timezone.localdate()
    for year in (2090, 2091):  # years no demo campaign takes
        Campaign.objects.create(
            year=year, title=f"Observatoire {year}", questionnaire=questionnaire, opens_on=today, closes_on=today
        )
    client.force_login(User.objects.create_user(email="lecteur@exemple.fr", password="x"))
    html = client.get(reverse("observatory:questionnaire", args=[questionnaire.uuid])).content.decode()
    text = " ".join(html.split())
    assert "Utilisé par Observatoire 2091, Observatoire 2090 : cette version ne peut plus changer." in text
    question = next(q for q in questionnaire.questions.all() if q.choices)
    labels = [escape(c["label"]) for c in question.choices]
    assert f"Choix : {' ; '.join(labels)}</span>" in text


@pytest.mark.parametrize("email", READERS)
def test_the_scope_in_memory_sees_what_the_structures_query_sees(demo, email):
    """`sees_structure` (can_review's check, without a query) and `Structure.objects.visible_to` (every list) agree."""
    user = scoped(email)
    structures = list(Structure.objects.select_related("commune"))
    seen = {s.pk for s in structures if sees_structure(user, s)}
    assert seen == set(Structure.objects.visible_to(user).values_list("pk", flat=True))
    assert seen and (len(seen) < len(structures) or user.is_administrator)
