"""Graded confidentiality of support cases: each note, document, action and timeline step is read by its circle
only — the support body; the partners concerned; the structure too — for every role of the demo cast, on the
pages, the downloads, the API, the e-mails and the timeline."""

import pytest
from django.core import mail
from django.urls import reverse

from cadre.accounts.models import User
from cadre.demo import cast
from cadre.monitoring import actions
from cadre.monitoring.case_models import CaseAction, CaseDocument, CaseEvent, CaseNote, Circle, SupportCase
from tests.cases_data import CASE_TITLE, MEMBER_EMAIL, TEXTS, circles_case
from tests.test_access import EMAILS, ROLES

pytestmark = pytest.mark.django_db

ALL = {Circle.BODY, Circle.PARTNERS, Circle.STRUCTURE}
# The demo cast, a member of the support cell who is not in ROLES (the Préfecture 13), and a partner concerned
# who is not on the cell (an officer of the Ville de Marseille).
CIRCLES = {
    "anonymous": set(),
    "structure_a": set(),
    "structure_b": {Circle.STRUCTURE},
    "caf69": set(),
    "caf13": ALL,  # sits on the Bouches-du-Rhône's support cell
    "city": set(),
    "federation69": set(),
    "admin": ALL,
    "body_member": ALL,
    "case_member": {Circle.PARTNERS, Circle.STRUCTURE},
}
EVERY_ROLE = [*ROLES, "body_member", "case_member"]


@pytest.fixture(scope="module")
def case(demo, django_db_blocker):
    with django_db_blocker.unblock():
        return circles_case()


def user_of(role):
    from django.contrib.auth.models import AnonymousUser

    if role == "anonymous":
        return AnonymousUser()
    email = {"body_member": cast.PREFECTURE13, "case_member": MEMBER_EMAIL}.get(role) or EMAILS[role]
    return User.objects.get(email=email)


@pytest.mark.parametrize("role", EVERY_ROLE)
def test_each_role_reads_the_circles_it_belongs_to_and_no_other(case, role):
    user = user_of(role)
    expected = CIRCLES[role]
    assert SupportCase.objects.visible_to(user).filter(pk=case.pk).exists() == bool(expected)
    for model in (CaseNote, CaseDocument, CaseAction):
        circles = set(model.objects.visible_to(user).filter(case=case).values_list("circle", flat=True))
        assert circles == expected, f"{model.__name__} pour {role}"
    # The timeline: a step is in the circle of what it tells (the opening, to the partners concerned).
    steps = set(CaseEvent.objects.visible_to(user).filter(case=case).values_list("circle", flat=True))
    assert steps <= expected and (steps >= expected)


@pytest.mark.parametrize("role", EVERY_ROLE)
def test_the_case_page_shows_each_role_its_circles_only(client, case, role):
    user = user_of(role)
    if role != "anonymous":
        client.force_login(user)
    response = client.get(reverse("monitoring:case", args=[case.uuid]))
    expected = CIRCLES[role]
    if role == "anonymous":
        assert response.status_code == 302
        return
    if not expected:
        assert response.status_code == 404
        return
    page = response.content.decode()
    for circle, text in TEXTS.items():
        assert (text in page) == (circle in expected), f"{circle} pour {role}"
        assert (f"Pièce {circle}" in page) == (circle in expected)
        assert (f"Action {circle}" in page) == (circle in expected)
    # Nothing of another circle leaks through the choices of who may read a new note either.
    if role == "structure_b":
        assert "Instance d'appui seulement" not in page and "Partenaires concernés</label>" not in page
    for document in case.documents.all():
        download = client.get(reverse("monitoring:case_document_download", args=[document.uuid]))
        assert download.status_code == (200 if document.circle in expected else 404)


def test_the_structure_sees_no_case_until_something_is_shared_with_it(case):
    b = User.objects.get(email=cast.STRUCTURE_B)
    quiet = actions.open_case(
        case.structure, committee=case.committee, actor=User.objects.get(email=cast.CAF13), title="Discret"
    )
    actions.add_note(quiet, actor=User.objects.get(email=cast.CAF13), text="Entre nous", circle=Circle.BODY)
    assert not SupportCase.objects.visible_to(b).filter(pk=quiet.pk).exists()
    assert SupportCase.objects.visible_to(b).filter(title=CASE_TITLE).exists()
    actions.add_note(quiet, actor=User.objects.get(email=cast.CAF13), text="À vous", circle=Circle.STRUCTURE)
    assert SupportCase.objects.visible_to(b).filter(pk=quiet.pk).exists()
    assert list(CaseNote.objects.visible_to(b).filter(case=quiet).values_list("text", flat=True)) == ["À vous"]


@pytest.mark.parametrize("circle", list(Circle))
def test_e_mails_reach_the_circle_of_the_note_and_never_carry_its_text(
    case, circle, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        actions.add_note(
            case, actor=User.objects.get(email=cast.PREFECTURE13), text="Texte secret du jour", circle=circle
        )
    recipients = {address for message in mail.outbox for address in message.to}
    assert all("Texte secret du jour" not in message.body for message in mail.outbox)
    assert (cast.CAF13 in recipients) is True  # on the cell: every circle
    assert (MEMBER_EMAIL in recipients) == (circle != Circle.BODY)
    assert (cast.STRUCTURE_B in recipients) == (circle == Circle.STRUCTURE)
    assert cast.CAF69 not in recipients and cast.PREFECTURE13 not in recipients  # the writer is not told


def test_the_structure_writes_only_shared_notes_and_the_body_s_choices_are_refused(client, case):
    client.force_login(User.objects.get(email=cast.STRUCTURE_B))
    url = reverse("monitoring:case_note", args=[case.uuid])
    refused = client.post(url, {"note-text": "Nous avons vu la banque.", "note-circle": Circle.BODY})
    assert refused.status_code == 422
    assert "circle" in refused.context["forms"]["note"]["form"].errors
    done = client.post(url, {"note-text": "Nous avons vu la banque.", "note-circle": Circle.STRUCTURE})
    assert done.status_code == 302
    assert CaseNote.objects.filter(case=case, text="Nous avons vu la banque.", circle=Circle.STRUCTURE).exists()


@pytest.mark.parametrize("role", ["structure_b", "caf13", "case_member"])
@pytest.mark.parametrize("kind", ["case_note", "case_document"])
def test_the_form_loaded_on_demand_offers_only_the_circles_the_user_writes_in(client, case, role, kind):
    """The case page only links to its note and document forms (issue 18): the form, in place (htmx) or on its
    own page, offers the circles the user may write in and no other."""
    client.force_login(user_of(role))
    page = client.get(reverse("monitoring:case", args=[case.uuid]))
    url = reverse(f"monitoring:{kind}", args=[case.uuid])
    assert f'href="{url}"' in page.content.decode() and "<textarea" not in page.content.decode()
    alone = client.get(url)
    fragment = client.get(url, headers={"HX-Request": "true"})
    assert alone.status_code == fragment.status_code == 200
    assert "<html" in alone.content.decode() and "<html" not in fragment.content.decode()
    offered = {value for value, _label in fragment.context["form"].fields["circle"].choices}
    assert offered == CIRCLES[role]
    for circle in ALL - CIRCLES[role]:
        assert f'value="{circle.value}"' not in fragment.content.decode()


@pytest.mark.parametrize("role", ["structure_a", "caf69", "city"])
def test_the_forms_of_a_case_are_not_shown_to_who_does_not_read_it(client, case, role):
    client.force_login(user_of(role))
    for kind in ("case_note", "case_document", "case_action", "case_status", "case_link"):
        assert client.get(reverse(f"monitoring:{kind}", args=[case.uuid])).status_code == 404


def test_the_case_history_holds_no_note(case):
    """Notes are never edited: they have no history; the case's history holds its fields only."""
    assert not hasattr(CaseNote, "history")
    fields = {field.name for field in SupportCase.history.model._meta.fields}
    assert not fields & {"text", "note", "notes"}
