"""The demo partnership (seed_demo): accounts, real geography, valid data, determinism, idempotence;
the observatory's campaigns (a past one validated, the current one in every state), plausible answers."""

import datetime
import decimal
import hashlib
import math
import random
import statistics
from collections import Counter, defaultdict
from io import StringIO

import pytest
from django.contrib.auth import authenticate
from django.core.management import CommandError, call_command
from django.test import RequestFactory, override_settings
from django.urls import reverse
from django.utils import timezone
from stdnum.fr import siret as stdnum_siret

from cadre.accounts.models import Membership, Role, User
from cadre.agreements.models import Agreement, AgreementKind, FrameworkAgreement, SignatoryRole
from cadre.demo import cast
from cadre.demo import observatory as demo_observatory
from cadre.demo import seed as demo_seed
from cadre.demo.vocabulary import of
from cadre.funding.models import Document, Envelope, FundingLine, Payment, PaymentKind
from cadre.monitoring import receivers as alert_receivers
from cadre.monitoring.models import FinancialStatement
from cadre.observatory import actions
from cadre.observatory.models import (
    DETECTED_KINDS,
    OPEN_ANOMALY_STATUSES,
    Anomaly,
    AnomalyKind,
    AnomalyStatus,
    Answer,
    Campaign,
    CampaignPhase,
    Correspondent,
    Submission,
    SubmissionEvent,
    SubmissionStatus,
    asked_questions,
)
from cadre.partners.models import Partner, PartnerKind
from cadre.structures.models import (
    Approval,
    ApprovalKind,
    PriorityAreaStatus,
    Structure,
    StructureContact,
    StructureKind,
)

pytestmark = pytest.mark.django_db

CAST_ROLES = {
    cast.CAF69: ("Caf du Rhône", Role.EDITOR),
    cast.CAF13: ("Caf des Bouches-du-Rhône", Role.EDITOR),
    cast.CITY_VILLEURBANNE: ("Ville de Villeurbanne", Role.VIEWER),
    cast.FEDERATION69: ("Fédération des centres sociaux du Rhône et de la Métropole de Lyon", Role.EDITOR),
    cast.FEDERATION13: ("Union des centres sociaux des Bouches-du-Rhône", Role.EDITOR),
    cast.PREFECTURE13: ("Préfecture des Bouches-du-Rhône", Role.VIEWER),
    cast.METROPOLIS69: ("Métropole de Lyon", Role.VIEWER),
}


def digest():
    rows = sorted(f"{s.name}|{s.commune_id}|{s.siret}" for s in Structure.objects.all())
    return hashlib.sha256("\n".join(rows).encode()).hexdigest()


def observatory_digest():
    """Every answer, step and anomaly of the campaigns, named by SIRET and year (not database ids)."""
    by = ("submission__structure__siret", "submission__campaign__year", "submission__status")
    rows = Answer.objects.values_list(*by, "question__code", "number", "text", "codes", "comment", "updated_at")
    rows = list(rows)
    rows += SubmissionEvent.objects.values_list(*by, "from_status", "to_status", "actor__email", "at", "comment")
    rows += Anomaly.objects.values_list(*by, "question__code", "kind", "status", "detail", "value_seen", "query")
    assert rows
    return hashlib.sha256("\n".join(sorted(map(repr, rows))).encode()).hexdigest()


def monitoring_digest():
    """Every figure and state of the financial statements, named by SIRET and year."""
    fields = [
        f.attname
        for f in FinancialStatement._meta.concrete_fields
        if f.attname != "id" and not f.attname.endswith("_id")
    ]
    fields = [f for f in fields if f not in {"created_at", "updated_at"}]
    people = ("submitted_by__email", "reviewed_by__email")
    rows = list(FinancialStatement.objects.values_list("structure__siret", *people, *fields))
    assert rows
    return hashlib.sha256("\n".join(sorted(map(repr, rows))).encode()).hexdigest()


def wipe():
    # Without history: deleting 150 structures would otherwise write 150 « deleted » entries and more; nor a
    # recompute of health statuses per deleted payment and document.
    with override_settings(SIMPLE_HISTORY_ENABLED=False), alert_receivers.paused():
        Campaign.objects.all().delete()
        FinancialStatement.objects.all().delete()
        Payment.objects.all().delete()
        Envelope.objects.all().delete()
        Document.objects.all().delete()
        FundingLine.objects.all().delete()
        Agreement.objects.all().delete()
        for framework in FrameworkAgreement.objects.order_by("-starts"):  # the later edition first
            framework.delete()
        Structure.objects.all().delete()
        Partner.objects.all().delete()
        User.objects.all().delete()


def login_request():
    return RequestFactory().post(reverse("accounts:login"))


def test_cast_accounts_log_in_with_the_demo_password(demo):
    emails = [cast.ADMIN, *CAST_ROLES, cast.STRUCTURE_A, cast.STRUCTURE_B, cast.structure_editor(150)]
    for email in emails:
        user = authenticate(request=login_request(), username=email, password=cast.PASSWORD)
        assert user is not None and user.email == email, email
        assert user.first_name and user.last_name
    assert authenticate(request=login_request(), username=cast.CAF69, password="autre") is None
    admin = User.objects.get(email=cast.ADMIN)
    assert admin.is_superuser and admin.is_staff and admin.is_administrator


def test_login_page_accepts_a_demo_account(client, demo):
    response = client.post(reverse("accounts:login"), {"username": cast.STRUCTURE_A, "password": cast.PASSWORD})
    assert response.status_code == 302
    assert client.get(reverse("accounts:profile")).status_code == 200
    # A Caf advisor writes on many structures: after the password comes the enrolment of a second factor.
    client.post(reverse("accounts:logout"))
    response = client.post(reverse("accounts:login"), {"username": cast.CAF69, "password": cast.PASSWORD})
    assert response.status_code == 302
    response = client.get(reverse("accounts:profile"))
    assert response["Location"].startswith(reverse("accounts:two_factor_setup"))


def test_partner_accounts_have_their_role(demo):
    for email, (partner_name, role) in CAST_ROLES.items():
        membership = Membership.objects.select_related("partner").get(user__email=email)
        assert (membership.partner.name, membership.role) == (partner_name, role), email


def test_about_150_structures_on_real_communes_of_69_and_13(demo):
    structures = list(Structure.objects.select_related("commune"))
    assert len(structures) == 150
    assert sum(s.kind == StructureKind.CENTRE_SOCIAL for s in structures) == 90
    for structure in structures:
        commune = structure.commune
        assert commune.department_id in {"69", "13"}, structure
        assert commune.code not in {"69123", "13055"}, "placer dans un arrondissement, pas dans la ville entière"
        assert structure.postal_code in commune.postal_code_list, structure
    villeurbanne = [s for s in structures if s.commune_id == "69266" and s.kind == StructureKind.CENTRE_SOCIAL]
    assert len(villeurbanne) == 6
    # Weighted by population: Marseille and Lyon arrondissements, and small communes for EVS.
    assert sum(s.commune.parent_id == "13055" for s in structures) >= 15
    assert sum(s.commune.parent_id == "69123" for s in structures) >= 5
    assert any(s.kind == StructureKind.EVS and s.commune.population < 5000 for s in structures)


def test_priority_areas_match_the_commune(demo):
    statuses = set()
    for structure in Structure.objects.select_related("commune").prefetch_related("priority_areas__communes"):
        areas = list(structure.priority_areas.all())
        assert structure.check_priority_areas(areas) is None, structure
        statuses.add(structure.priority_area_status)
        if structure.priority_area_status == PriorityAreaStatus.IN_AREA:
            for area in areas:
                listed = {c.code for c in area.communes.all()}
                assert listed & {structure.commune_id, structure.commune.parent_id}, (structure, area)
    assert statuses == set(PriorityAreaStatus.values)


def test_every_siret_is_valid_and_unique(demo):
    # A few associative EVS are not registered yet (neither SIRET nor RNA): the SCDL export leaves them out.
    sirets = [s.siret for s in Structure.objects.exclude(siret="")] + [
        p.siret for p in Partner.objects.exclude(siret="")
    ]
    assert all(stdnum_siret.is_valid(siret) for siret in sirets)
    assert len(set(sirets)) == len(sirets)


def test_records_pass_model_validation(demo):
    for structure in Structure.objects.select_related("commune"):
        structure.full_clean()
        assert 2 <= len(structure.project_axes) <= 5
        assert 1 <= structure.contacts.count() <= 3
    for approval in Approval.objects.select_related("structure"):
        approval.full_clean()  # duration 1 to 4 years, kind fits the structure, no overlap
    for contact in StructureContact.objects.all():
        contact.full_clean()
        assert contact.email.endswith("@exemple.fr")


def test_approvals_are_current_and_some_end_soon(demo):
    today = timezone.localdate()
    assert not Structure.objects.with_current_approval_end(today).filter(approval_ends__isnull=True).exists()
    assert Structure.objects.approval_ending_within(12, today).count() >= 10
    assert Structure.objects.approval_ending_within(3, today).exists()
    renewed = Approval.objects.filter(starts__gt=today, kind__in=[ApprovalKind.SOCIAL_PROJECT, ApprovalKind.EVS])
    assert renewed.exists()
    centres = Structure.objects.filter(kind=StructureKind.CENTRE_SOCIAL)
    with_family = centres.filter(approvals__kind=ApprovalKind.FAMILY_PROJECT).distinct().count()
    assert 0.4 * 90 <= with_family <= 0.8 * 90
    assert not Approval.objects.filter(structure__kind=StructureKind.EVS).exclude(kind=ApprovalKind.EVS).exists()
    assert Approval.objects.filter(ends__lt=today).exists()


def test_structures_a_and_b_are_centres_in_different_departements(demo):
    a = Structure.objects.get(memberships__user__email=cast.STRUCTURE_A)
    b = Structure.objects.get(memberships__user__email=cast.STRUCTURE_B)
    assert a.kind == b.kind == StructureKind.CENTRE_SOCIAL
    assert a.commune_id == "69266"
    assert b.commune.parent_id == "13055"
    assert a.federation.email and a.federation.kind == PartnerKind.FEDERATION
    assert a.federation == Partner.objects.get(memberships__user__email=cast.FEDERATION69)
    assert a.approvals.exists() and a.contacts.exists()


def test_each_structure_has_exactly_one_editor_from_the_cast(demo):
    memberships = list(
        Membership.objects.filter(user__email__startswith="structure-").select_related("user", "structure")
    )
    assert len(memberships) == 150
    assert {m.user.email for m in memberships} == {cast.structure_editor(n) for n in range(1, 151)}
    assert all(m.role == Role.EDITOR and m.structure_id and not m.partner_id for m in memberships)
    assert len({m.structure_id for m in memberships}) == 150
    per_user = Membership.objects.filter(user__email__startswith="structure-").values("user").distinct().count()
    assert per_user == 150


def test_history_records_the_creation_with_the_priority_areas(demo):
    admin = User.objects.get(email=cast.ADMIN)
    structure = Structure.objects.filter(priority_area_status=PriorityAreaStatus.IN_AREA).first()
    record = structure.history.get()
    assert record.history_type == "+" and record.history_user == admin
    assert set(record.priority_areas.values_list("priorityarea_id", flat=True)) == set(
        structure.priority_areas.values_list("code", flat=True)
    )
    assert Approval.history.filter(structure_id=structure.pk).count() == structure.approvals.count()
    caf = Partner.objects.get(short_name="Caf 69")
    assert list(caf.history.get().departments.values_list("department_id", flat=True)) == ["69"]


def test_seed_is_deterministic_whatever_the_day(demo):
    first, answers = digest(), observatory_digest()
    wipe()
    summary = demo_seed.seed(today=datetime.date(2025, 3, 14))
    assert summary["structures"] == 150
    assert digest() == first
    assert set(Campaign.objects.values_list("year", flat=True)) == {2023, 2024}
    wipe()
    demo_seed.seed(seed=7)
    assert digest() != first
    assert observatory_digest() != answers


def test_same_seed_same_answers(demo):
    answers, statements = observatory_digest(), monitoring_digest()
    wipe()
    demo_seed.seed()
    assert observatory_digest() == answers
    assert monitoring_digest() == statements


def test_second_run_is_refused_and_if_empty_does_nothing(demo):
    with pytest.raises(CommandError, match="existent déjà"):
        call_command("seed_demo", verbosity=0)
    out = StringIO()
    call_command("seed_demo", "--if-empty", stdout=out)
    assert "existent déjà" in out.getvalue()
    assert Structure.objects.count() == 150


def test_national_scale_needs_the_whole_geography(demo):
    wipe()
    with pytest.raises(CommandError, match="load_territories"):
        call_command("seed_demo", "--scale", "national", verbosity=0)
    assert not Structure.objects.exists()


def test_national_builder_on_the_loaded_departements(demo, monkeypatch):
    # The real run needs all of France (see benchmarks/); here, the same code on 69 and 13, scaled down.
    wipe()
    monkeypatch.setattr(demo_seed, "FULL_GEOGRAPHY_MIN_COMMUNES", 0)
    monkeypatch.setattr(demo_seed, "NATIONAL_CENTRES", 40)
    monkeypatch.setattr(demo_seed, "NATIONAL_EVS", 20)
    monkeypatch.setattr(demo_seed, "NATIONAL_STRUCTURE_EDITORS", 10)
    summary = demo_seed.seed(scale="national")
    assert summary["structures"] == 60
    assert set(Partner.objects.values_list("name", flat=True)) == {
        "Caf du Rhône",
        "Caf des Bouches-du-Rhône",
        "Fédération des centres sociaux du Rhône",
        "Fédération des centres sociaux des Bouches-du-Rhône",
    }
    for structure in Structure.objects.prefetch_related("priority_areas__communes"):
        assert structure.check_priority_areas(structure.priority_areas.all()) is None
        assert structure.approvals.exists()
    assert Membership.objects.filter(user__email__startswith="contributeur-").count() == 10
    assert not User.objects.filter(email=cast.STRUCTURE_A).exists()
    assert authenticate(request=login_request(), username=cast.CAF69, password=cast.PASSWORD)


def test_demo_accounts_lists_the_cast(demo):
    out = StringIO()
    call_command("demo_accounts", stdout=out)
    text = out.getvalue()
    assert cast.PASSWORD in text
    for email in [cast.ADMIN, *CAST_ROLES]:
        assert email in text
    assert "structure-001 … structure-150@cadre.demo" in text
    assert Structure.objects.get(memberships__user__email=cast.STRUCTURE_A).name in text
    assert f"questionnaire {timezone.localdate().year - 1} en cours de saisie" in text
    assert "campagne ouverte jusqu'au" in text and "validés" in text


def test_demo_accounts_without_demo_says_so():
    wipe()
    out = StringIO()
    call_command("demo_accounts", stdout=out)
    assert "Pas de comptes de démonstration" in out.getvalue()
    assert cast.PASSWORD not in out.getvalue()


def test_helpers():
    used = set()
    sirets = [demo_seed.make_siret(random.Random(1), "78", used) for _ in range(50)]
    assert all(stdnum_siret.is_valid(s) for s in sirets) and len(set(sirets)) == 50
    counts = demo_seed.largest_remainder({"a": 10, "b": 30, "c": 0}, 20)
    assert sum(counts.values()) == 20 and counts["c"] == 1 and counts["b"] > counts["a"]
    assert [of("Arles"), of("La Ciotat"), of("Les Pennes-Mirabeau"), of("le Moulin", proper=False)] == [
        "d'Arles",
        "de La Ciotat",
        "des Pennes-Mirabeau",
        "du Moulin",
    ]


# -- the observatory ------------------------------------------------------------------------------

STEPS_TO = {
    SubmissionStatus.NOT_STARTED: [[]],
    SubmissionStatus.DRAFT: [["draft"]],
    SubmissionStatus.SUBMITTED: [["draft", "submitted"]],
    SubmissionStatus.RETURNED: [["draft", "submitted", "returned"]],
    SubmissionStatus.RESUBMITTED: [["draft", "submitted", "returned", "resubmitted"]],
    SubmissionStatus.VALIDATED: [
        ["draft", "submitted", "validated"],
        ["draft", "submitted", "returned", "resubmitted", "validated"],
    ],
}
SENT = {SubmissionStatus.SUBMITTED, SubmissionStatus.RESUBMITTED, SubmissionStatus.VALIDATED}


def campaigns():
    today = timezone.localdate()
    return Campaign.objects.get(year=today.year - 2), Campaign.objects.get(year=today.year - 1)


def loaded(campaign):
    """The campaign's submissions with their answers ({code: Answer}), events and anomalies, in few queries."""
    submissions = {
        s.pk: s for s in campaign.submissions.select_related("structure__commune", "validated_by", "campaign")
    }
    for submission in submissions.values():
        submission.loaded_answers, submission.loaded_events, submission.loaded_anomalies = {}, [], []
    for answer in Answer.objects.filter(submission__campaign=campaign).select_related("question"):
        submissions[answer.submission_id].loaded_answers[answer.question.code] = answer
    for event in SubmissionEvent.objects.filter(submission__campaign=campaign).order_by("at", "pk"):
        submissions[event.submission_id].loaded_events.append(event)
    for anomaly in Anomaly.objects.filter(submission__campaign=campaign).select_related("question"):
        submissions[anomaly.submission_id].loaded_anomalies.append(anomaly)
    return list(submissions.values())


def reviewed_by_a_correspondent(submission, user):
    return Correspondent.objects.filter(
        campaign=submission.campaign, user=user, department=submission.structure.commune.department_id
    ).exists()


def check_timeline(submission, editors):
    events = submission.loaded_events
    path = [e.to_status for e in events]
    assert path in STEPS_TO[submission.status], (submission, path)
    assert [e.from_status for e in events] == ["not_started", *path][: len(events)]
    assert submission.version == 1 + len(events)
    moments = [e.at for e in events]
    assert moments == sorted(moments)
    if events:
        assert submission.campaign.opened_at <= moments[0] and moments[-1] < timezone.now()
        assert submission.updated_at >= moments[-1]
    for event in events:
        if event.to_status in {"returned", "validated"}:
            assert reviewed_by_a_correspondent(submission, event.actor), (submission, event)
        else:
            assert event.actor_id == editors.get(submission.structure_id), (submission, event)
        if event.to_status == "returned":
            assert event.comment
    sent = [e.at for e in events if e.to_status in {"submitted", "resubmitted"}]
    assert submission.submitted_at == (sent[-1] if sent else None)
    if submission.status == SubmissionStatus.VALIDATED:
        assert submission.validated_by == events[-1].actor and submission.validated_at == events[-1].at
    else:
        assert submission.validated_by is None and submission.validated_at is None


def structure_editors():
    return dict(
        Membership.objects.filter(structure__isnull=False, role=Role.EDITOR).values_list("structure_id", "user_id")
    )


def test_past_campaign_is_closed_and_all_validated_with_timelines(demo):
    past, _ = campaigns()
    today = timezone.localdate()
    assert past.phase(today) == CampaignPhase.CLOSED and past.questionnaire.code == "senacs"
    submissions = loaded(past)
    observed = Structure.objects.observed_in(past.year).filter(closed_on__isnull=True)
    assert {s.structure_id for s in submissions} == set(observed.values_list("pk", flat=True))
    assert len(submissions) > 100 and {s.status for s in submissions} == {SubmissionStatus.VALIDATED}
    editors = structure_editors()
    for submission in submissions:
        check_timeline(submission, editors)
        assert len(submission.loaded_answers) >= 60
        assert not [a for a in submission.loaded_anomalies if a.status in OPEN_ANOMALY_STATUSES]
    returned = [s for s in submissions if len(s.loaded_events) == 5]
    assert 0.05 * len(submissions) <= len(returned) <= 0.3 * len(submissions)
    # Caf and federation correspondants of each département, and both validate.
    reviewers = Correspondent.objects.filter(campaign=past).values_list("user__email", flat=True)
    assert set(reviewers) == {cast.CAF69, cast.CAF13, cast.FEDERATION69, cast.FEDERATION13}
    validators = {s.validated_by.email for s in submissions}
    assert validators == set(reviewers)


def test_current_campaign_is_open_with_every_state_in_each_departement(demo):
    _, current = campaigns()
    today = timezone.localdate()
    assert current.phase(today) == CampaignPhase.OPEN
    assert 25 <= (today - current.opens_on).days <= 35 and 55 <= (current.closes_on - today).days <= 65
    submissions = loaded(current)
    for department in ("69", "13"):
        states = Counter(s.status for s in submissions if s.structure.commune.department_id == department)
        assert set(states) == set(SubmissionStatus.values), (department, states)
    editors = structure_editors()
    by_status = defaultdict(list)
    for submission in submissions:
        check_timeline(submission, editors)
        by_status[submission.status].append(submission)
    assert not any(s.loaded_answers for s in by_status[SubmissionStatus.NOT_STARTED])
    draft_sizes = [len(s.loaded_answers) for s in by_status[SubmissionStatus.DRAFT]]
    sent_sizes = [len(s.loaded_answers) for s in by_status[SubmissionStatus.SUBMITTED]]
    assert max(draft_sizes) > 0 and statistics.mean(draft_sizes) < 0.75 * statistics.mean(sent_sizes)
    for submission in by_status[SubmissionStatus.RETURNED]:
        remarks = [a for a in submission.loaded_anomalies if a.kind == AnomalyKind.REVIEWER]
        assert remarks and all(a.status == AnomalyStatus.QUERIED and a.query and a.queried_by for a in remarks)
    for submission in by_status[SubmissionStatus.RESUBMITTED]:
        # The remark was addressed: the answer changed after it, as _settle_remarks reads it.
        for remark in (a for a in submission.loaded_anomalies if a.kind == AnomalyKind.REVIEWER):
            answer = submission.loaded_answers[remark.question.code]
            assert remark.status == AnomalyStatus.CORRECTED and answer.updated_at > remark.queried_at
            assert answer.number != remark.value_seen and answer.version == 2
    for submission in by_status[SubmissionStatus.VALIDATED]:
        assert not [a for a in submission.loaded_anomalies if a.status in OPEN_ANOMALY_STATUSES]
    anomalies = [a for s in submissions for a in s.loaded_anomalies]
    assert {a.status for a in anomalies} == set(AnomalyStatus.values)
    assert {a.kind for a in anomalies} == set(AnomalyKind.values)
    for anomaly in anomalies:
        if anomaly.status == AnomalyStatus.JUSTIFIED:
            assert anomaly.justification and anomaly.resolved_by and anomaly.resolved_at
        if anomaly.status == AnomalyStatus.QUERIED:
            assert anomaly.query and anomaly.queried_by and anomaly.queried_at


def test_answers_read_back_and_follow_the_questionnaire(demo):
    """Every value reads back through Question.parse; only questions put to the structure are answered;
    what was sent has no error and no warning left without a comment."""
    for campaign in campaigns():
        questionnaire = campaign.questionnaire
        questions = list(questionnaire.questions.select_related("section"))
        rules = list(questionnaire.rules.all())
        comments = 0
        for submission in loaded(campaign):
            answers = submission.loaded_answers
            values = {code: a.value for code, a in answers.items()}
            for code, answer in answers.items():
                assert answer.question.parse(answer.value) == answer.value, (code, answer.value)
                comments += bool(answer.comment)
            asked = {q.code for q in asked_questions(questions, submission.structure.kind, values)}
            assert set(values) <= asked, set(values) - asked
            if submission.status in SENT:
                assert actions.submission_issues(submission, questions, rules) == [], submission
            elif answers:
                issues = actions.submission_issues(submission, questions, rules)
                assert not [i for i in issues if i.rule_code and i.is_error], issues
        assert comments >= 1  # a few warnings are justified by the structure


def test_detected_anomalies_are_what_the_detector_finds(demo):
    """The anomalies written in bulk are those detect_anomalies would keep: what find_anomalies finds
    now is open, queried or justified; what it no longer finds was corrected."""
    past, current = campaigns()
    for campaign in (past, current):
        for number, submission in enumerate(loaded(campaign)):
            if submission.status not in {*SENT, SubmissionStatus.RETURNED}:
                assert not submission.loaded_anomalies
                continue
            if campaign == past and number % 3 and not submission.loaded_anomalies:
                continue  # a third of the plain ones is enough (the detector runs a few queries each)
            found = {
                (question_id, kind): detail
                for (question_id, kind), (detail, _) in actions.find_anomalies(submission).items()
            }
            detected = [a for a in submission.loaded_anomalies if a.kind in DETECTED_KINDS]
            kept = {(a.question_id, a.kind): a.detail for a in detected if a.status != AnomalyStatus.CORRECTED}
            assert kept == found, submission
            for anomaly in detected:
                if anomaly.status == AnomalyStatus.CORRECTED:
                    answer = submission.loaded_answers[anomaly.question.code]
                    assert answer.number != anomaly.value_seen and answer.updated_at < submission.submitted_at


def full_answers(kind):
    """{code: [numbers]} of the sent submissions (both campaigns) of structures of `kind`."""
    found = defaultdict(list)
    for campaign in campaigns():
        for submission in loaded(campaign):
            if submission.status in SENT and submission.structure.kind == kind:
                typo = any(
                    a.question.code == "budget_total" and a.status == AnomalyStatus.CORRECTED
                    for a in submission.loaded_anomalies
                )
                for code, answer in submission.loaded_answers.items():
                    if answer.number is not None and not (typo and code == "budget_total"):
                        found[code].append(float(answer.number))
                caf = sum(float(submission.loaded_answers[c].number) for c in ("caf_prestation_service", "caf_autres"))
                income = sum(float(submission.loaded_answers[c].number) for c in demo_observatory.FUNDER_CODES)
                found["caf_share"].append(caf / income)
                found["commune_share"].append(
                    float(submission.loaded_answers["commune_intercommunalite"].number) / income
                )
    return found


def test_answers_are_calibrated_on_senacs_figures(demo):
    centres, evs = full_answers(StructureKind.CENTRE_SOCIAL), full_answers(StructureKind.EVS)
    mean = statistics.mean
    assert 25 <= mean(centres["salaries_total"]) <= 40
    assert 12 <= mean(centres["etp_total"]) <= 22
    assert 20 <= mean(centres["benevoles_activite"]) <= 40
    assert 450_000 <= mean(centres["budget_total"]) <= 750_000
    assert 0.22 <= mean(centres["caf_share"]) <= 0.35 and 0.18 <= mean(centres["commune_share"]) <= 0.35
    assert 1_800 <= mean(centres["personnes_touchees_total"]) <= 3_500
    assert max(evs["salaries_total"]) <= 3 and mean(evs["etp_total"]) <= 1.6
    assert 10 <= mean(evs["benevoles_activite"]) <= 25
    assert 50_000 <= mean(evs["budget_total"]) <= 100_000
    assert mean(evs["personnes_touchees_total"]) < mean(centres["personnes_touchees_total"]) / 3
    # Structures differ: budgets spread over a factor of 3 or more.
    budgets = sorted(centres["budget_total"])
    assert budgets[int(0.9 * len(budgets))] > 2.5 * budgets[int(0.1 * len(budgets))]


def test_a_structures_answers_change_little_from_one_year_to_the_next(demo):
    past, current = (loaded(c) for c in campaigns())
    last_year = {s.structure_id: s.loaded_answers for s in past}
    changes = []
    for submission in current:
        before = last_year.get(submission.structure_id)
        if submission.status not in SENT or before is None:
            continue
        for code in ("budget_total", "salaries_total", "personnes_touchees_total", "benevoles_gouvernance"):
            if before[code].number and submission.loaded_answers[code].number:
                changes.append(abs(math.log(submission.loaded_answers[code].number / before[code].number)))
    assert len(changes) > 100
    assert statistics.median(changes) < 0.1  # a few per cent
    assert sum(change > math.log(1.5) for change in changes) <= 0.05 * len(changes)  # the deliberate ones


def test_structure_a_fills_its_questionnaire_with_last_years_answers_validated(demo):
    past, current = campaigns()
    a = Structure.objects.get(memberships__user__email=cast.STRUCTURE_A)
    draft = Submission.objects.get(campaign=current, structure=a)
    assert draft.status == SubmissionStatus.DRAFT and draft.is_open_to_structure(timezone.localdate())
    sections = {a.question.section.code for a in draft.answers.select_related("question__section")}
    assert sections == {"projet_social", "gouvernance", "publics"}
    event = draft.events.get()
    assert event.to_status == "draft" and event.actor.email == cast.STRUCTURE_A
    before = Submission.objects.get(campaign=past, structure=a)
    assert before.status == SubmissionStatus.VALIDATED
    prefilled = before.answers.filter(question__prefill=True)
    assert prefilled.count() >= 20 and before.answers.count() >= 80
    b = Submission.objects.get(campaign=current, structure__memberships__user__email=cast.STRUCTURE_B)
    assert b.status == SubmissionStatus.SUBMITTED and b.submitted_at and b.answers.count() >= 80
    assert b.events.last().actor.email == cast.STRUCTURE_B


def test_seed_observatory_writes_yearly_campaigns(demo):
    with pytest.raises(CommandError, match="--replace"):
        call_command("seed_observatory", "--campaigns", "3", verbosity=0)
    out = StringIO()
    call_command("seed_observatory", "--campaigns", "3", "--replace", stdout=out)
    assert "3 campagnes" in out.getvalue() and "envoyés" in out.getvalue()
    today = timezone.localdate()
    years = dict(Campaign.objects.values_list("year", "opens_on"))
    assert sorted(years) == [today.year - 3, today.year - 2, today.year - 1]
    # Every open structure answers every year (--observed-only would follow the approvals).
    assert Submission.objects.filter(campaign__year=today.year - 3).count() == Structure.objects.count()
    assert set(Submission.objects.filter(campaign__year__lt=today.year - 1).values_list("status", flat=True)) == {
        SubmissionStatus.VALIDATED
    }
    before, after = (
        dict(
            Answer.objects.filter(submission__campaign__year=year, question__code="budget_total").values_list(
                "submission__structure_id", "number"
            )
        )
        for year in (today.year - 3, today.year - 2)
    )
    ratios = [after[k] / before[k] for k in before.keys() & after.keys()]
    assert statistics.median(ratios) == pytest.approx(decimal.Decimal(1), abs=decimal.Decimal("0.1"))


def test_the_demo_conventions_and_their_funding(demo):
    framework = FrameworkAgreement.objects.get(department_id="13", starts__year=2024)
    chairs = set(framework.signatories.filter(role=SignatoryRole.CO_CHAIR).values_list("partner__kind", flat=True))
    assert chairs == {PartnerKind.STATE, PartnerKind.CAF}
    communes = framework.signatories.filter(partner__kind=PartnerKind.COMMUNE, left_on__isnull=True)
    assert set(communes.values_list("partner__name", flat=True)) == {
        "Ville de Marseille",
        "Ville d'Arles",
        "Ville d'Aubagne",
    }
    joined, left = framework.signatory_changes()
    assert [p.name for p in left] == ["Ville d'Aix-en-Provence"]
    assert "Ville d'Aubagne" in [p.name for p in joined]
    assert framework.amendments.get().joined.get().name == "Ville d'Aubagne"
    tripartite = Agreement.objects.get(kind=AgreementKind.TRIPARTITE)
    assert tripartite.structures().count() == 6
    assert set(tripartite.structures().values_list("commune_id", flat=True)) == {"69266"}
    assert tripartite.roadmap.themes.count() == 5
    # Funding in every state: paid in full, partly paid, voted not paid, forecast only.
    lines = FundingLine.objects.all()
    assert lines.filter(payments__kind=PaymentKind.BALANCE).exists()
    assert lines.filter(voted__isnull=False, payments__isnull=True).exists()
    assert lines.filter(voted__isnull=True).exists()
    partly = [line for line in lines.filter(voted__isnull=False) if 0 < line.paid() < line.voted]
    assert partly
    assert all(line.paid() <= line.voted for line in lines.filter(voted__isnull=False))


def test_national_demo_keeps_the_cast_among_national_volumes(demo, monkeypatch):
    # What benchmarks/pages.py walks: the demo partnership in 69 and 13, generated structures elsewhere.
    wipe()
    call_command("load_territories", "--departments", "01", "69", "13", verbosity=0)
    monkeypatch.setattr(demo_seed, "FULL_GEOGRAPHY_MIN_COMMUNES", 0)
    monkeypatch.setattr(demo_seed, "NATIONAL_CENTRES", 20)
    monkeypatch.setattr(demo_seed, "NATIONAL_EVS", 10)
    monkeypatch.setattr(demo_seed, "NATIONAL_STRUCTURE_EDITORS", 5)
    summary = demo_seed.seed(scale="national_demo")
    assert summary["structures"] == 150 + 30
    assert Structure.objects.filter(commune__department_id="01").count() == 30
    assert Structure.objects.get(memberships__user__email=cast.STRUCTURE_A).commune_id == "69266"
    assert set(Partner.objects.filter(kind="caf").values_list("name", flat=True)) == {
        "Caf du Rhône",
        "Caf des Bouches-du-Rhône",
        "Caf de l'Ain",
    }
    assert User.objects.filter(is_superuser=True).count() == 1
    assert authenticate(request=login_request(), username=cast.CITY_VILLEURBANNE, password=cast.PASSWORD)
