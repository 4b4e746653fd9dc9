"""The home page says what waits for each user, in their scope, each item a count and a link where it is done."""

import datetime
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from cadre.accounts.models import User
from cadre.agreements.models import OPEN_ITEM_STATUSES, RoadmapItem
from cadre.core.work import work_for
from cadre.demo import cast
from cadre.observatory.models import TO_REVIEW_STATUSES, Campaign, Submission
from cadre.structures.models import Structure

pytestmark = pytest.mark.django_db


def items(user):
    return {item.label: item for item in work_for(user, timezone.localdate())}


def home(client, email):
    user = User.objects.get(email=email)
    client.force_login(user)
    with CaptureQueriesContext(connection) as queries:
        page = client.get(reverse("core:home")).content.decode()
    return user, page, len(queries)


def test_a_correspondent_sees_what_to_review_in_the_current_campaign(client, demo):
    advisor, page, _ = home(client, cast.CAF69)
    campaign = Campaign.objects.filter(opened_at__isnull=False).order_by("-year").first()
    expected = Submission.objects.reviewable_by(advisor).filter(campaign=campaign, status__in=TO_REVIEW_STATUSES)
    assert expected.count() > 0
    label = f"{expected.count()} questionnaire{'s' if expected.count() > 1 else ''} à examiner"
    assert label in page
    assert items(advisor)[label].url == reverse("observatory:campaign", args=[campaign.uuid])
    assert "Ce qui vous attend" in page and "Prochaines échéances" in page


def test_a_structure_sees_its_own_questionnaire_to_fill(client, demo):
    user, page, _ = home(client, cast.STRUCTURE_A)
    item = items(user)["1 questionnaire à remplir et envoyer"]
    submission = Submission.objects.get(
        structure__memberships__user=user, campaign__opened_at__isnull=False, status="draft"
    )
    assert item.url == reverse("observatory:submission", args=[submission.uuid])
    assert "à examiner" not in page  # a structure reviews nothing


def test_approvals_ending_are_counted_over_the_scope_and_link_to_the_filtered_list(client, demo):
    advisor, page, _ = home(client, cast.CAF69)
    ending = Structure.objects.visible_to(advisor).approval_ending_within(6).count()
    found = [item for item in work_for(advisor, timezone.localdate()) if item.group == "Structures"]
    if ending:
        assert found[0].count == ending and "approval_ending=6" in found[0].url
        listing = client.get(found[0].url).content.decode()
        assert re.search(rf"<strong>{ending}</strong>\s+structure", listing)
    else:
        assert not found


def test_a_late_roadmap_action_shows_as_urgent(client, demo):
    advisor = User.objects.get(email=cast.CAF69)
    today = timezone.localdate()
    item = RoadmapItem.objects.visible_to(advisor).filter(status__in=OPEN_ITEM_STATUSES, due__gte=today).first()
    before = sum(i.count for i in work_for(advisor, timezone.localdate()) if "feuille de route" in i.label)
    RoadmapItem.objects.filter(pk=item.pk).update(due=timezone.localdate() - datetime.timedelta(days=1))
    late = [i for i in work_for(advisor, timezone.localdate()) if "feuille de route" in i.label]
    assert late[0].count == before + 1 and late[0].urgent
    assert work_for(advisor, timezone.localdate())[0].urgent  # urgent first


def test_every_link_of_the_home_page_opens_for_its_user(client, demo):
    for email in (cast.CAF69, cast.STRUCTURE_A, cast.FEDERATION69, cast.CITY_VILLEURBANNE, cast.ADMIN):
        user, page, _ = home(client, email)
        for item in work_for(user, timezone.localdate()):
            assert client.get(item.url).status_code == 200, (email, item)


def test_the_number_of_queries_does_not_grow_with_the_scope(client, demo):
    _, _, in_a_department = home(client, cast.CAF69)
    _, _, everywhere = home(client, cast.ADMIN)
    _, _, one_structure = home(client, cast.STRUCTURE_A)
    assert max(in_a_department, everywhere, one_structure) <= 40
    assert abs(everywhere - in_a_department) <= 4


def test_blocked_balances_are_the_lines_the_balance_check_refuses(demo):
    """The query behind the home page's « soldes bloqués » agrees with the check that refuses a balance payment."""
    from cadre.funding.models import FundingLine, missing_for_balance

    lines = FundingLine.objects.filter(voted__isnull=False).exclude(payments__kind="balance").select_related("scheme")
    expected = {line.pk for line in lines if missing_for_balance(line)}
    assert expected, "the demo has lines whose balance waits for a document"
    assert set(FundingLine.objects.balance_blocked().values_list("pk", flat=True)) == expected
    advisor = User.objects.get(email=cast.CAF69)
    item = next(i for i in work_for(advisor, timezone.localdate()) if "solde" in i.label)
    followed = FundingLine.objects.followed_by(advisor).filter(year__gte=timezone.localdate().year - 1)
    assert item.count == len(expected & set(followed.values_list("pk", flat=True)))
