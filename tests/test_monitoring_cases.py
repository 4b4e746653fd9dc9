"""A structure reports a difficulty and its funders and federation learn it at once; the support cell opens a case,
moves it through its steps to its outcome, gives it actions that join the calendar and go late visibly, links
its meetings, and follows a recovery plan's ratio targets against the accepted statements."""

import datetime
from decimal import Decimal

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from cadre.accounts.models import User
from cadre.agreements.models import Meeting
from cadre.core.work import work_for
from cadre.demo import cast
from cadre.funding.calendar import obligations, overdue
from cadre.monitoring import actions
from cadre.monitoring.case_models import (
    CaseEvent,
    CaseOrigin,
    CaseStatus,
    Circle,
    DifficultyReport,
    EventKind,
    RecoveryPlan,
    SupportCase,
)
from cadre.monitoring.enums import StatementStatus
from cadre.monitoring.models import FinancialStatement
from cadre.partners.models import Partner
from cadre.structures.models import Structure
from cadre.structures.overview import structure_links
from tests.cases_data import PDF, circles_case

pytestmark = pytest.mark.django_db


def user(email):
    return User.objects.get(email=email)


@pytest.fixture
def a(demo):
    return Structure.objects.get(memberships__user__email=cast.STRUCTURE_A)


def reports_waiting(email):
    found = [i for i in work_for(user(email), timezone.localdate()) if "signalement" in i.label]
    return found[0].count if found else 0


def report_form(**changes):
    return {
        "category": "financial",
        "urgency": "critical",
        "description": "La trésorerie ne couvre plus les salaires de fin de mois : la banque refuse le découvert.",
        **changes,
    }


def test_a_structure_reports_a_difficulty_and_its_funders_and_federation_learn_it_at_once(
    client, a, django_capture_on_commit_callbacks
):
    client.force_login(user(cast.STRUCTURE_A))
    url = reverse("monitoring:report_create", args=[a.uuid])
    attachment = SimpleUploadedFile("releve.pdf", PDF, content_type="application/pdf")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, {**report_form(), "files": [attachment]})
    report = DifficultyReport.objects.get(structure=a)
    assert response["Location"] == reverse("monitoring:report", args=[report.uuid])
    assert report.attachments.get().file_name == "releve.pdf"
    told = set(report.notified.values_list("pk", flat=True))
    caf69 = Partner.objects.get(memberships__user__email=cast.CAF69)
    assert caf69.pk in told and (a.federation_id is None or a.federation_id in told)
    recipients = {address for message in mail.outbox for address in message.to}
    assert cast.CAF69 in recipients and cast.STRUCTURE_A not in recipients and cast.CAF13 not in recipients
    assert "La trésorerie ne couvre plus" in mail.outbox[0].body
    # On the Caf's home page, urgent, linking to the report; and on the structure's page.
    item = next(i for i in work_for(user(cast.CAF69), timezone.localdate()) if "signalement" in i.label)
    assert item.urgent and item.url == reverse("monitoring:report", args=[report.uuid])
    assert item.label == "1 signalement de difficulté sans dossier"
    titles = {link.title: link for link in structure_links(a, user(cast.CAF69))}
    assert "1 signalement" in titles["Signalements de difficulté"].detail
    assert reports_waiting(cast.CAF13) == 1  # the demo's report of the Bouches-du-Rhône, not structure A's
    client.force_login(user(cast.CAF69))
    page = client.get(response["Location"])
    assert "releve.pdf" in page.content.decode()


def test_a_short_description_or_a_false_file_is_told_at_its_field(client, a):
    client.force_login(user(cast.STRUCTURE_A))
    url = reverse("monitoring:report_create", args=[a.uuid])
    short = client.post(url, report_form(description="Aïe"))
    assert "20 caractères au moins" in short.context["form"].errors["description"][0]
    fake = SimpleUploadedFile("faux.pdf", b"MZ not a pdf", content_type="application/pdf")
    refused = client.post(url, {**report_form(), "files": [fake]})
    assert "faux.pdf : Ce fichier n'est pas un vrai fichier PDF" in refused.context["form"].errors["files"][0]
    assert not DifficultyReport.objects.filter(structure=a).exists()


def test_the_cell_opens_a_case_from_a_report_with_the_partners_told_as_members(client, demo):
    report = actions.report_difficulty(
        Structure.objects.get(memberships__user__email=cast.STRUCTURE_B),
        actor=user(cast.STRUCTURE_B),
        category="governance",
        description="Le bureau a démissionné en bloc après l'assemblée générale.",
        urgency="high",
    )
    assert reports_waiting(cast.CAF13) == 2
    client.force_login(user(cast.CAF13))
    url = reverse("monitoring:case_create") + f"?signalement={report.uuid}"
    form = client.get(url).context["form"]
    members = [str(pk) for pk in form.initial["members"]]
    assert set(members) == {str(pk) for pk in report.notified.values_list("pk", flat=True)} and members
    response = client.post(
        url,
        {"committee": form.fields["committee"].queryset.first().pk, "title": "Gouvernance", "members": members},
    )
    case = SupportCase.objects.get(report=report)
    assert response["Location"] == reverse("monitoring:case", args=[case.uuid])
    assert case.origin == CaseOrigin.REPORT and case.status == CaseStatus.OPEN
    assert set(case.members.values_list("pk", flat=True)) == set(report.notified.values_list("pk", flat=True))
    assert CaseEvent.objects.filter(case=case, kind=EventKind.OPENED).exists()
    # The report now has its case: no longer waiting on the home page (the demo's own report still is).
    assert reports_waiting(cast.CAF13) == 1


def test_the_open_case_form_offers_the_partners_around_the_structure_and_refuses_any_other(client, demo):
    b = Structure.objects.get(memberships__user__email=cast.STRUCTURE_B)
    department = b.commune.department_id
    told = set(actions.partners_told(b, timezone.localdate().year))
    around = set(Partner.objects.filter(departments=department).values_list("pk", flat=True)) | set(
        Partner.objects.filter(communes__department_id=department).values_list("pk", flat=True)
    )
    client.force_login(user(cast.CAF13))
    url = reverse("monitoring:case_create") + f"?structure={b.uuid}"
    form = client.get(url).context["form"]
    offered = {value for value, _label in form.fields["members"].choices}
    assert offered == around | told and {value for value, _ in form.fields["lead"].choices} == offered | {""}
    stranger = Partner.objects.exclude(pk__in=offered).first()
    committee = form.fields["committee"].choices[0][0]
    refused = client.post(url, {"committee": committee, "title": "Essai", "members": [stranger.pk]})
    assert refused.status_code == 200 and "members" in refused.context["form"].errors
    refused = client.post(url, {"committee": committee, "title": "Essai", "lead": stranger.pk})
    assert refused.status_code == 200 and "lead" in refused.context["form"].errors
    assert not SupportCase.objects.filter(structure=b, title="Essai").exists()


def test_the_state_form_brought_on_demand_keeps_the_version_of_the_page_seen(client, demo):
    """The state form comes after the page (its link): changed meanwhile by someone else, the case is not moved
    on the strength of a page that no longer says what it is."""
    case = circles_case()
    client.force_login(user(cast.CAF13))
    page = client.get(reverse("monitoring:case", args=[case.uuid]))
    link, seen = page.context["forms"]["status"]["url"], case.version
    actions.change_status(case, actor=user(cast.ADMIN), status=CaseStatus.DIAGNOSIS, expected_version=seen)
    form = client.get(link, headers={"HX-Request": "true"}).context["form"]
    assert form.initial["version"] == seen  # the page's, not the one read now
    url = reverse("monitoring:case_status", args=[case.uuid])
    response = client.post(
        url, {"status-status": CaseStatus.PLAN, "status-version": form.initial["version"]}, follow=True
    )
    assert "changé entre-temps" in response.content.decode()
    case.refresh_from_db()
    assert case.status == CaseStatus.DIAGNOSIS


def test_the_case_moves_step_by_step_and_closes_only_with_its_outcome(client, demo):
    case = circles_case()
    client.force_login(user(cast.CAF13))
    url = reverse("monitoring:case_status", args=[case.uuid])
    skipped = client.post(url, {"status-status": CaseStatus.PLAN, "status-version": case.version})
    assert skipped.status_code == 422 and "status" in skipped.context["forms"]["status"]["form"].errors
    client.post(url, {"status-status": CaseStatus.DIAGNOSIS, "status-version": case.version})
    case.refresh_from_db()
    assert case.status == CaseStatus.DIAGNOSIS
    no_outcome = client.post(url, {"status-status": CaseStatus.CLOSED, "status-version": case.version})
    assert "Indiquez l'issue" in no_outcome.context["forms"]["status"]["form"].errors["outcome"][0]
    stale = client.post(url, {"status-status": CaseStatus.PLAN, "status-version": case.version - 1})
    case.refresh_from_db()
    assert stale.status_code == 302 and case.status == CaseStatus.DIAGNOSIS  # someone moved it meanwhile
    client.post(
        url, {"status-status": CaseStatus.CLOSED, "status-outcome": "recovered", "status-version": case.version}
    )
    case.refresh_from_db()
    assert case.status == CaseStatus.CLOSED and case.outcome == "recovered" and case.closed_on
    steps = list(CaseEvent.objects.filter(case=case, kind__in=[EventKind.STATUS, EventKind.CLOSED]))
    assert [s.text for s in steps] == ["Ouvert → Diagnostic", "Diagnostic → Clos : redressé"]
    assert case.history.count() == 3  # opened, diagnosis, closed
    # Closed: nothing more is written on it.
    assert client.post(reverse("monitoring:case_note", args=[case.uuid]), {"note-text": "x"}).status_code == 403


def test_actions_join_the_calendar_and_go_late_visibly(client, demo):
    case = circles_case()
    caf13, member = user(cast.CAF13), user("ville.marseille.essai@cadre.demo")
    today = datetime.date.today()
    late = actions.add_action(
        case, actor=caf13, title="Rencontrer la banque", due=today - datetime.timedelta(days=3), circle=Circle.BODY
    )
    titles = [o.title for o in obligations(caf13, today, today + datetime.timedelta(days=30))]
    assert f"{case.structure.name} : Action partners" in titles
    late_titles = [o.title for o in overdue(caf13, today)]
    assert f"{case.structure.name} : Rencontrer la banque" in late_titles
    assert f"{case.structure.name} : Rencontrer la banque" not in [o.title for o in overdue(member, today)]
    item = next(i for i in work_for(caf13, today) if "en retard" in i.label and "accompagnement" in i.label)
    assert item.urgent
    client.force_login(caf13)
    page = client.get(reverse("monitoring:case", args=[case.uuid])).content.decode()
    assert "en retard" in page
    client.post(reverse("monitoring:case_action_done", args=[late.uuid]))
    late.refresh_from_db()
    assert late.done_on == today
    assert f"{case.structure.name} : Rencontrer la banque" not in [o.title for o in overdue(caf13, today)]


def test_the_plan_s_targets_are_followed_against_the_accepted_statements(client, demo):
    case = circles_case()
    client.force_login(user(cast.CAF13))
    url = reverse("monitoring:case_plan", args=[case.uuid])
    early = client.post(url, {"form": "target", "ratio": "cash_days", "year": 2024, "target": "30"})
    assert early.status_code == 302 and not RecoveryPlan.objects.filter(case=case).exists()
    client.post(url, {"form": "plan", "adopted_on": "2026-03-01", "summary": "Réduire les charges externes."})
    negative = client.post(url, {"form": "target", "ratio": "cash_days", "year": 2025, "target": "-5"})
    assert "ne peut pas être négative" in negative.context["target_form"].errors["target"][0]
    statement = (
        FinancialStatement.objects.filter(structure=case.structure, status=StatementStatus.ACCEPTED)
        .order_by("-year")
        .first()
    )
    client.post(
        url, {"form": "target", "ratio": "cash_days", "year": statement.year, "target": "100 000", "at_least": "on"}
    )
    client.post(url, {"form": "target", "ratio": "cash_days", "year": statement.year + 3, "target": "30"})
    client.post(url, {"form": "milestone", "title": "Budget voté", "due": "2026-06-30"})
    page = client.get(url)
    rows = {target.year: (actual, reached) for target, _, actual, reached in page.context["targets"]}
    assert rows[statement.year][0] is not None and rows[statement.year][1] is False  # 100 000 days: not reached
    assert rows[statement.year + 3] == (None, None)  # no accepted statement yet
    assert "non atteinte" in page.content.decode() and "Budget voté" in page.content.decode()
    assert case.plan.targets.get(year=statement.year).target == Decimal("100000")
    milestone = case.plan.milestones.get()
    client.post(url, {"form": "milestone_done", "milestone": milestone.pk})
    milestone.refresh_from_db()
    assert milestone.done_on == timezone.localdate()
    assert CaseEvent.objects.filter(case=case, text="Jalon atteint : Budget voté").exists()


def test_a_meeting_of_the_cell_is_linked_and_shown_to_its_members_only(client, demo):
    case = circles_case()
    meeting = Meeting(committee=case.committee, starts_at=timezone.now(), place="Caf 13")
    meeting.save_tracked(user=user(cast.ADMIN))
    client.force_login(user(cast.CAF13))
    client.post(reverse("monitoring:case_link", args=[case.uuid]), {"link-meeting": meeting.pk})
    assert case.meetings.filter(pk=meeting.pk).exists()
    assert (
        reverse("agreements:meeting", args=[meeting.uuid])
        in client.get(reverse("monitoring:case", args=[case.uuid])).content.decode()
    )
    client.force_login(user("ville.marseille.essai@cadre.demo"))  # a partner concerned, not on the cell
    page = client.get(reverse("monitoring:case", args=[case.uuid])).content.decode()
    assert reverse("agreements:meeting", args=[meeting.uuid]) not in page


def test_the_demo_follows_two_open_cases_and_a_closed_one_in_the_bouches_du_rhone(demo):
    from cadre.demo import monitoring as demo_monitoring
    from cadre.demo import seed as demo_seed

    def figures():
        cases = SupportCase.objects.filter(title__in=DEMO_TITLES).order_by("uuid")
        return [
            (c.uuid, c.structure.uuid, c.status, c.outcome, c.opened_on, sorted(c.notes.values_list("uuid", "circle")))
            for c in cases
        ] + [tuple(DifficultyReport.objects.filter(description__startswith="L'Urssaf").values_list("uuid", "urgency"))]

    cases = SupportCase.objects.filter(title__in=DEMO_TITLES)
    assert {c.structure.commune.department_id for c in cases} == {"13"}
    assert cases.open().count() == 2 and cases.filter(status=CaseStatus.CLOSED, outcome="recovered").count() == 1
    with_plan = cases.get(plan__isnull=False)
    assert set(with_plan.notes.values_list("circle", flat=True)) == set(Circle)
    assert with_plan.plan.targets.count() == 3 and with_plan.plan.milestones.count() == 2
    assert with_plan.structure.memberships.filter(user__email=cast.STRUCTURE_B).exists()
    report = DifficultyReport.objects.get(description__startswith="L'Urssaf")
    assert not report.cases.exists() and report.notified.exists()
    first = figures()
    SupportCase.objects.filter(title__in=DEMO_TITLES).delete()
    report.delete()
    Meeting.objects.filter(committee=with_plan.committee).delete()

    class Again:
        seed = demo_seed.DEFAULT_SEED
        today = timezone.localdate()

    assert demo_monitoring.seed_cases(Again) == 3
    assert figures() == first


DEMO_TITLES = [
    "Trois exercices déficitaires : plan de retour à l'équilibre",
    "Fonds propres sous trois mois de charges",
    "Fonds de roulement négatif après les travaux",
]


def test_the_cell_opens_a_case_from_the_latest_alert_with_its_facts(client, demo):
    from cadre.demo.monitoring import BY_CODE, structures_in_difficulty

    structure = structures_in_difficulty()[BY_CODE["tax-social-debts"]]
    client.force_login(user(cast.CAF13))
    tile = next(link for link in structure_links(structure, user(cast.CAF13)) if "dossier" in link.title)
    assert tile.title == "Ouvrir un dossier d’accompagnement" and "alerte=1" in tile.url
    page = client.get(tile.url)
    health = page.context["health"]
    assert health.level != "vert" and health.fact_texts
    form = page.context["form"]
    client.post(tile.url, {"committee": form.fields["committee"].queryset.first().pk, "title": "Dettes sociales"})
    case = SupportCase.objects.get(structure=structure, title="Dettes sociales")
    assert case.origin == CaseOrigin.ALERT and case.alert_year == health.year
    assert [fact["text"] for fact in case.alert_facts] == health.fact_texts
    assert health.fact_texts[0] in client.get(reverse("monitoring:case", args=[case.uuid])).content.decode()
    # Not to a partner outside any support body.
    client.force_login(user(cast.CAF69))
    assert client.get(tile.url).status_code == 403
