"""Actions of a support case are changed (title, précisions, owner, due date) and reopened by those who add them,
on the version they read; the change joins the timeline in the action's own circle, the calendar follows the new
due date, and nothing of a body-only action reaches the structure."""

import datetime

import pytest
from django.core import mail
from django.urls import reverse

from cadre.accounts.models import User
from cadre.demo import cast
from cadre.funding.calendar import obligations, overdue
from cadre.monitoring import actions
from cadre.monitoring.case_models import CaseAction, CaseEvent, Circle, EventKind
from tests.cases_data import MEMBER_EMAIL, circles_case

pytestmark = pytest.mark.django_db

TODAY = datetime.date.today()


def user(email):
    return User.objects.get(email=email)


@pytest.fixture
def case(demo):
    return circles_case()


def action_of(case, circle):
    return case.actions.get(circle=circle)


def form_of(action, **changes):
    return {
        "title": action.title,
        "description": action.description,
        "owner": "structure" if action.owner_is_structure else str(action.owner.uuid),
        "due": action.due.isoformat(),
        "version": action.version,
        **changes,
    }


def edit_url(action):
    return reverse("monitoring:case_action_edit", args=[action.uuid])


def test_the_cell_moves_an_action_s_due_date_and_the_calendar_follows(client, case, django_capture_on_commit_callbacks):
    action = action_of(case, Circle.PARTNERS)
    caf13 = user(cast.CAF13)
    client.force_login(caf13)
    page = client.get(reverse("monitoring:case", args=[case.uuid])).content.decode()
    assert edit_url(action) in page
    new_due = TODAY + datetime.timedelta(days=45)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            edit_url(action),
            form_of(action, title="Action partners revue", due=new_due.isoformat(), description="Avec la banque."),
        )
    assert response.status_code == 302
    action.refresh_from_db()
    assert (action.title, action.due, action.description, action.version) == (
        "Action partners revue",
        new_due,
        "Avec la banque.",
        2,
    )
    step = CaseEvent.objects.filter(case=case, kind=EventKind.ACTION_EDIT).get()
    assert step.circle == Circle.PARTNERS and step.actor == caf13
    assert f"échéance {(TODAY + datetime.timedelta(days=10)):%d/%m/%Y} → {new_due:%d/%m/%Y}" in step.text
    # The calendar shows it at its new date, for the cell and for the partner concerned.
    title = f"{case.structure.name} : Action partners revue"
    for who in (caf13, user(MEMBER_EMAIL)):
        days = {o.day for o in obligations(who, TODAY, TODAY + datetime.timedelta(days=60)) if o.title == title}
        assert days == {new_due}
    # Its circle is told, never the structure.
    recipients = {address for message in mail.outbox for address in message.to}
    assert MEMBER_EMAIL in recipients and cast.STRUCTURE_B not in recipients


def test_two_editors_never_overwrite_each_other(client, case):
    action = action_of(case, Circle.STRUCTURE)
    read = form_of(action)
    client.force_login(user(cast.CAF13))
    client.post(edit_url(action), {**read, "title": "Premier changement"})
    stale = client.post(edit_url(action), {**read, "title": "Second changement"})
    assert stale.status_code == 409
    error = stale.context["form"].non_field_errors()[0]
    assert "modifiée entre-temps" in error and "Premier changement" in error
    action.refresh_from_db()
    assert action.title == "Premier changement"
    # The form now carries the version read again: sent once more, knowingly, it saves.
    assert stale.context["form"].data["version"] == action.version
    again = client.post(edit_url(action), {**read, "title": "Second changement", "version": action.version})
    assert again.status_code == 302
    action.refresh_from_db()
    assert action.title == "Second changement"


def test_marking_done_meanwhile_is_a_change_too(client, case):
    action = action_of(case, Circle.PARTNERS)
    read = form_of(action)
    actions.complete_action(action, actor=user(cast.PREFECTURE13))
    client.force_login(user(cast.CAF13))
    assert client.post(edit_url(action), {**read, "title": "Autre"}).status_code == 409


def test_a_done_action_is_reopened_and_goes_late_again(client, case):
    action = action_of(case, Circle.PARTNERS)
    caf13 = user(cast.CAF13)
    CaseAction.objects.filter(pk=action.pk).update(due=TODAY - datetime.timedelta(days=5))
    action = actions.complete_action(action, actor=caf13)
    title = f"{case.structure.name} : {action.title}"
    assert title not in [o.title for o in overdue(caf13, TODAY)]
    client.force_login(caf13)
    page = client.get(edit_url(action))
    assert "reopen" in page.context["form"].fields and 'name="reopen"' in page.content.decode()
    response = client.post(edit_url(action), {**form_of(action), "reopen": "on"})
    assert response.status_code == 302
    action.refresh_from_db()
    assert action.done_on is None
    assert CaseEvent.objects.filter(case=case, kind=EventKind.ACTION_REOPEN, circle=Circle.PARTNERS).exists()
    assert title in [o.title for o in overdue(caf13, TODAY)]  # an old due date kept is not refused


def test_bad_input_is_told_at_its_field(client, case):
    action = action_of(case, Circle.BODY)
    client.force_login(user(cast.CAF13))
    response = client.post(
        edit_url(action), form_of(action, title="", due="2001-01-01", owner="structure", version=action.version)
    )
    assert response.status_code == 422
    errors = response.context["form"].errors
    assert "title" in errors and "plus d'un an" in errors["due"][0]
    assert "La structure ne lit pas une action « instance d'appui seulement »" in errors["owner"][0]
    action.refresh_from_db()
    assert action.version == 1


def test_a_body_only_action_cannot_be_given_to_a_partner_who_does_not_read_it(client, case):
    action = action_of(case, Circle.BODY)  # owned by the Ville de Marseille in the shared data: not on the cell
    client.force_login(user(cast.CAF13))
    response = client.post(edit_url(action), form_of(action, title="Autre intitulé"))
    assert (
        "Ce partenaire ne lit pas une action « instance d'appui seulement »"
        in response.context["form"].errors["owner"][0]
    )


def test_adding_an_action_checks_its_owner_reads_it_too(client, case):
    client.force_login(user(cast.CAF13))
    response = client.post(
        reverse("monitoring:case_action", args=[case.uuid]),
        {
            "action-title": "Voir le commissaire aux comptes",
            "action-owner": "structure",
            "action-due": (TODAY + datetime.timedelta(days=3)).isoformat(),
            "action-circle": Circle.BODY,
        },
    )
    assert response.status_code == 422
    assert "La structure ne lit pas" in response.context["forms"]["action"]["form"].errors["owner"][0]


@pytest.mark.parametrize(
    ("email", "circle", "status"),
    [
        (cast.STRUCTURE_B, Circle.STRUCTURE, 403),  # reads it, may not change it
        (cast.STRUCTURE_B, Circle.BODY, 404),  # does not even find it
        (MEMBER_EMAIL, Circle.PARTNERS, 403),
        (MEMBER_EMAIL, Circle.BODY, 404),
        (cast.CAF69, Circle.STRUCTURE, 404),
        (cast.PREFECTURE13, Circle.BODY, 403),  # on the cell, but reads only
        (cast.ADMIN, Circle.BODY, 200),
    ],
)
def test_who_changes_an_action(client, case, email, circle, status):
    client.force_login(user(email))
    assert client.get(edit_url(action_of(case, circle))).status_code == status


def test_the_structure_never_reads_the_change_of_a_body_only_action(client, case):
    action = action_of(case, Circle.BODY)
    caf13 = user(cast.CAF13)
    cell_member = case.committee.members.values_list("partner", flat=True).first()
    actions.edit_action(
        action,
        actor=caf13,
        expected_version=action.version,
        title="Saisir le juge : cessation de paiements",
        due=action.due,
        owner=case.committee.members.get(partner=cell_member).partner,
    )
    client.force_login(user(cast.STRUCTURE_B))
    page = client.get(reverse("monitoring:case", args=[case.uuid])).content.decode()
    api = client.get(reverse("api-1.0.0:support_case", args=[case.uuid])).content.decode()
    for text in (page, api):
        assert "cessation de paiements" not in text and "Action body" not in text
    assert not CaseEvent.objects.visible_to(user(cast.STRUCTURE_B)).filter(kind=EventKind.ACTION_EDIT).exists()
    b = user(cast.STRUCTURE_B)
    assert all("cessation" not in o.title for o in obligations(b, TODAY, TODAY + datetime.timedelta(days=60)))


def test_nothing_changes_on_a_closed_case(client, case):
    action = action_of(case, Circle.PARTNERS)
    actions.change_status(case, actor=user(cast.CAF13), status="closed", outcome="other")
    client.force_login(user(cast.CAF13))
    assert client.get(edit_url(action)).status_code == 403
