"""REST API v1, observatory: campaigns, questionnaires, submissions, answers and the review steps."""

import datetime
import decimal
import uuid

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from cadre.accounts.models import Role
from cadre.observatory.actions import load_questionnaire, open_campaign, save_answer
from cadre.observatory.models import (
    Anomaly,
    AnomalyStatus,
    Answer,
    Campaign,
    Correspondent,
    Question,
    Submission,
    SubmissionStatus,
)
from cadre.partners.models import PartnerKind
from cadre.territories.models import Commune
from tests.factories import MARSEILLE_3E, VENISSIEUX, ApprovalFactory, PartnerFactory, UserFactory, member
from tests.test_api import Api, url

pytestmark = pytest.mark.django_db

D = decimal.Decimal

SMALL = """
code = "essai"
version = 1
title = "Questionnaire d'essai"

[[sections]]
code = "rh"
title = "Ressources humaines"

[[sections.questions]]
code = "salaries_total"
label = "Salariés au 31 décembre"
type = "integer"
required = true
min = 0
max = 500

[[sections.questions]]
code = "salaries_cdi"
label = "dont en CDI"
type = "integer"
min = 0

[[sections.questions]]
code = "directeur"
label = "La structure a-t-elle un directeur ?"
type = "boolean"
applies_to = ["centre_social"]

[[sections.questions]]
code = "directeur_diplome"
label = "Diplôme du directeur"
type = "choice"
shown_if = "directeur == true"
choices = [{ code = "niveau_7", label = "Niveau 7 (DESJEPS, master)" }, { code = "niveau_6", label = "Niveau 6" }]

[[sections]]
code = "finances"
title = "Finances"

[[sections.questions]]
code = "budget_total"
label = "Budget total"
type = "amount"
min = 0

[[sections.questions]]
code = "produits_caf"
label = "Produits de la Caf"
type = "amount"
min = 0

[[sections.questions]]
code = "part_qpv"
label = "Part des personnes habitant en QPV"
type = "percentage"

[[sections.questions]]
code = "lieux"
label = "Lieux d'actions hors les murs"
type = "multiple_choice"
choices = [{ code = "mediatheque", label = "Médiathèque" }, { code = "ecole", label = "École" }]

[[rules]]
code = "cdi_total"
level = "error"
check = "salaries_cdi <= salaries_total"
message = "Les salariés en CDI ne peuvent dépasser le total des salariés."
questions = ["salaries_cdi", "salaries_total"]

[[rules]]
code = "caf_budget"
level = "warning"
check = "produits_caf <= budget_total * 0.9"
message = "Les produits de la Caf dépassent 90 % du budget : est-ce exact ?"
questions = ["produits_caf"]
"""


@pytest.fixture
def small(tmp_path):
    path = tmp_path / "essai.toml"
    path.write_text(SMALL, encoding="utf-8")
    return load_questionnaire(path)[0]


@pytest.fixture
def admin():
    return UserFactory(email="admin@exemple.fr", is_superuser=True)


@pytest.fixture
def world(small, admin):
    """Structure A (Villeurbanne, member of the Rhône federation), B (Marseille), an EVS of Vénissieux;
    the cast of test_access; an open 2025 campaign whose correspondants are the two Caf advisors."""
    federation69 = PartnerFactory(name="FCS du Rhône", kind=PartnerKind.FEDERATION)
    caf69_partner = PartnerFactory(name="Caf du Rhône", kind=PartnerKind.CAF, departments=["69"])
    caf13_partner = PartnerFactory(name="Caf des Bouches-du-Rhône", kind=PartnerKind.CAF, departments=["13"])
    city = PartnerFactory(name="Ville de Villeurbanne", kind=PartnerKind.COMMUNE, communes=["69266"])
    a = ApprovalFactory(structure__name="Alpha Villeurbanne", structure__federation=federation69).structure
    b = ApprovalFactory(
        structure__name="Bêta Marseille", structure__commune=Commune.objects.get(code=MARSEILLE_3E)
    ).structure
    evs = ApprovalFactory(
        structure__name="Gamma EVS", structure__kind="evs", structure__commune=Commune.objects.get(code=VENISSIEUX)
    ).structure
    today = timezone.localdate()
    campaign = Campaign.objects.create(
        year=2025,
        title="Observatoire 2025",
        questionnaire=small,
        opens_on=today - datetime.timedelta(days=30),
        closes_on=today + datetime.timedelta(days=30),
    )
    open_campaign(campaign, actor=admin)
    people = {
        "staff_a": member(UserFactory(email="directrice@alpha.fr"), a, Role.EDITOR),
        "viewer_a": member(UserFactory(email="lecteur@alpha.fr"), a, Role.VIEWER),
        "staff_b": member(UserFactory(email="directeur@beta.fr"), b, Role.EDITOR),
        "caf69": member(UserFactory(email="conseillere@caf69.fr"), caf69_partner, Role.EDITOR),
        "caf13": member(UserFactory(email="conseiller@caf13.fr"), caf13_partner, Role.EDITOR),
        "city": member(UserFactory(email="ville@villeurbanne.fr"), city, Role.VIEWER),
        "federation69": member(UserFactory(email="charge@fcs69.fr"), federation69, Role.EDITOR),
        "admin": admin,
        "caf69_partner": caf69_partner,
        "caf13_partner": caf13_partner,
    }
    Correspondent.objects.create(campaign=campaign, user=people["caf69"], department_id="69")
    Correspondent.objects.create(campaign=campaign, user=people["caf13"], department_id="13")
    submissions = {s.structure_id: s for s in Submission.objects.select_related("structure", "campaign")}
    return {
        **people,
        "campaign": campaign,
        "questionnaire": small,
        "a": submissions[a.pk],
        "b": submissions[b.pk],
        "evs": submissions[evs.pk],
    }


def question(questionnaire, code):
    return Question.objects.select_related("section").get(questionnaire=questionnaire, code=code)


def fill(world, key="a", **values):
    """Store answers (by the structure's staff) without going through the API."""
    submission = world[key]
    actor = world["staff_a"] if key == "a" else world["admin"]
    for code, raw in values.items():
        save_answer(submission, question(world["questionnaire"], code), raw, actor=actor)
    submission.refresh_from_db()
    return submission


def submitted(world, key="a", **values):
    submission = fill(world, key, **({"salaries_total": 12, "salaries_cdi": 8} | values))
    response = Api(world["admin"]).post(url("submission_submit", submission.uuid), {"version": submission.version})
    assert response.status_code == 200, response.content
    submission.refresh_from_db()
    return submission


def patch_answers(api, submission, answers):
    return api.patch(url("submission_answers", submission.uuid), {"answers": answers})


def if_match(version):
    return {"If-Match": f'"{version}"'}


class TestCampaigns:
    def test_list_counts_only_the_submissions_one_sees(self, world):
        fill(world, "a", salaries_total=3)
        response = Api(world["caf69"]).get(url("campaigns"))
        assert response.status_code == 200, response.content
        [campaign] = response.json()["results"]
        assert campaign["id"] == str(world["campaign"].uuid)
        assert (campaign["year"], campaign["title"], campaign["phase"]) == (2025, "Observatoire 2025", "open")
        assert campaign["phase_label"] == "saisie en cours"
        assert campaign["questionnaire"] == {
            "id": str(world["questionnaire"].uuid),
            "code": "essai",
            "version": 1,
            "title": "Questionnaire d'essai",
        }
        # The Caf of the Rhône sees structure A (a draft now) and the EVS of Vénissieux, not Marseille.
        assert campaign["submissions"] == {
            "total": 2,
            "not_started": 1,
            "draft": 1,
            "submitted": 0,
            "returned": 0,
            "resubmitted": 0,
            "validated": 0,
        }
        counts = Api(world["staff_b"]).get(url("campaign", world["campaign"].uuid)).json()["submissions"]
        assert (counts["total"], counts["not_started"]) == (1, 1)
        assert Api(world["admin"]).get(url("campaign", world["campaign"].uuid)).json()["submissions"]["total"] == 3

    def test_a_campaign_in_preparation_is_the_administrators_only(self, world):
        draft = Campaign.objects.create(
            year=2026,
            title="Observatoire 2026",
            questionnaire=world["questionnaire"],
            opens_on=datetime.date(2027, 3, 1),
            closes_on=datetime.date(2027, 5, 31),
        )
        assert [c["year"] for c in Api(world["caf69"]).get(url("campaigns")).json()["results"]] == [2025]
        response = Api(world["caf69"]).get(url("campaign", draft.uuid))
        assert response.status_code == 404 and "Aucune campagne" in response.json()["detail"]
        assert Api(world["caf69"]).get(url("campaign_questions", draft.uuid)).status_code == 404
        listed = Api(world["admin"]).get(url("campaigns")).json()["results"]
        assert [(c["year"], c["phase"], c["submissions"]["total"]) for c in listed] == [
            (2026, "draft", 0),
            (2025, "open", 3),
        ]

    def test_questions_of_the_frozen_questionnaire(self, world):
        response = Api(world["staff_b"]).get(url("campaign_questions", world["campaign"].uuid))
        assert response.status_code == 200, response.content
        body = response.json()
        assert body["campaign"] == str(world["campaign"].uuid) and body["questionnaire"]["version"] == 1
        assert [s["code"] for s in body["sections"]] == ["rh", "finances"]
        questions = {q["code"]: q for s in body["sections"] for q in s["questions"]}
        assert list(questions)[:2] == ["salaries_total", "salaries_cdi"]
        total = questions["salaries_total"]
        assert (total["type"], total["min"], total["max"], total["bounds"], total["required"]) == (
            "integer",
            0,
            500,
            "de 0 à 500",
            True,
        )
        assert questions["directeur"]["applies_to"] == ["centre_social"]
        assert questions["directeur_diplome"]["shown_if"] == "directeur == true"
        assert questions["directeur_diplome"]["choices"][1] == {"code": "niveau_6", "label": "Niveau 6"}
        assert (questions["part_qpv"]["unit"], questions["part_qpv"]["max"]) == ("%", 100)
        assert questions["budget_total"]["unit"] == "€"
        assert [(r["code"], r["level"]) for r in body["rules"]] == [("cdi_total", "error"), ("caf_budget", "warning")]
        assert body["rules"][0]["check"] == "salaries_cdi <= salaries_total"

    @pytest.mark.parametrize(
        ("method", "name", "with_id"),
        [
            ("get", "campaigns", False),
            ("get", "campaign", True),
            ("get", "campaign_questions", True),
            ("get", "submissions", False),
            ("get", "submission", True),
            ("patch", "submission_answers", True),
            ("post", "submission_submit", True),
            ("post", "submission_return", True),
            ("post", "submission_validate", True),
            ("post", "submission_reopen", True),
        ],
    )
    def test_anonymous_callers_get_a_json_401(self, method, name, with_id):
        path = url(name, uuid.uuid4()) if with_id else url(name)
        client = Client()
        if method == "get":
            response = client.get(path)
        else:
            response = getattr(client, method)(path, "{}", content_type="application/json")
        assert response.status_code == 401
        assert "Authentification requise" in response.json()["detail"]


class TestSubmissionScope:
    def ids(self, response):
        assert response.status_code == 200, response.content
        return {r["id"] for r in response.json()["results"]}

    def test_structure_staff_see_their_own_submission_only(self, world):
        a, b = world["a"], world["b"]
        api = Api(world["staff_a"])
        assert self.ids(api.get(url("submissions"))) == {str(a.uuid)}
        assert api.get(url("submission", a.uuid)).status_code == 200
        response = api.get(url("submission", b.uuid))
        assert response.status_code == 404 and "Aucune saisie" in response.json()["detail"]
        assert Api(world["staff_b"]).get(url("submission", a.uuid)).status_code == 404

    def test_partners_see_their_territory(self, world):
        a, b, evs = world["a"], world["b"], world["evs"]
        assert self.ids(Api(world["caf69"]).get(url("submissions"))) == {str(a.uuid), str(evs.uuid)}
        assert self.ids(Api(world["caf13"]).get(url("submissions"))) == {str(b.uuid)}
        assert self.ids(Api(world["city"]).get(url("submissions"))) == {str(a.uuid)}
        assert self.ids(Api(world["federation69"]).get(url("submissions"))) == {str(a.uuid)}
        assert len(self.ids(Api(world["admin"]).get(url("submissions")))) == 3
        assert Api(world["caf13"]).get(url("submission", a.uuid)).status_code == 404

    def test_filters(self, world):
        a, b = world["a"], world["b"]
        fill(world, "a", salaries_total=3)
        api = Api(world["admin"])
        assert self.ids(api.get(url("submissions"), {"department": "13"})) == {str(b.uuid)}
        assert self.ids(api.get(url("submissions"), {"status": "draft"})) == {str(a.uuid)}
        assert self.ids(api.get(url("submissions"), {"structure": str(b.structure.uuid)})) == {str(b.uuid)}
        assert len(self.ids(api.get(url("submissions"), {"campaign": str(world["campaign"].uuid), "year": 2025}))) == 3
        assert self.ids(api.get(url("submissions"), {"year": 2024})) == set()
        # A correspondant's own work list: the départements they review.
        caf69 = Api(world["caf69"])
        assert len(self.ids(caf69.get(url("submissions"), {"to_review": "true"}))) == 2
        assert self.ids(Api(world["city"]).get(url("submissions"), {"to_review": "true"})) == set()
        row = api.get(url("submissions"), {"department": "13"}).json()["results"][0]
        assert row["structure"] == {
            "id": str(b.structure.uuid),
            "name": "Bêta Marseille",
            "kind": "centre_social",
            "commune": MARSEILLE_3E,
            "commune_name": "Marseille 3e Arrondissement",
            "department": "13",
        }
        assert row["campaign"]["year"] == 2025 and row["status"] == "not_started" and row["version"] == 1

    @pytest.mark.parametrize(
        ("params", "field", "message"),
        [
            ({"department": "99"}, "department", "Département inconnu"),
            ({"status": "finie"}, "status", "Valeur non autorisée"),
            ({"campaign": "pas-un-uuid"}, "campaign", "UUID"),
        ],
    )
    def test_bad_filters_are_a_400_in_french(self, world, params, field, message):
        response = Api(world["admin"]).get(url("submissions"), params)
        assert response.status_code == 400
        assert message in response.json()["errors"][field][0]

    def test_a_campaign_one_cannot_see_is_a_bad_filter(self, world):
        response = Api(world["caf69"]).get(url("submissions"), {"campaign": str(uuid.uuid4())})
        assert response.status_code == 400 and "Aucune campagne" in response.json()["errors"]["campaign"][0]

    def test_list_queries_do_not_grow_with_the_page(self, world, settings):
        settings.CADRE_API_MAX_PAGE_SIZE = 200
        api = Api(world["caf69"], session=True)
        campaign = world["campaign"]

        def add(count):
            for structure in [ApprovalFactory().structure for _ in range(count)]:
                Submission.objects.create(campaign=campaign, structure=structure, status=SubmissionStatus.DRAFT)

        add(3)
        api.get(url("submissions"))  # the session and the scope are read once, then cached
        # Both pages are followed by another one (a last page needs no count): like is compared with like.
        with CaptureQueriesContext(connection) as small:
            assert len(api.get(url("submissions"), {"page_size": 4}).json()["results"]) == 4
        add(45)
        with CaptureQueriesContext(connection) as large:
            assert len(api.get(url("submissions"), {"page_size": 50}).json()["results"]) == 50
        assert len(large) == len(small), [q["sql"] for q in large.captured_queries]
        with CaptureQueriesContext(connection) as campaigns:
            assert api.get(url("campaigns")).json()["results"][0]["submissions"]["draft"] == 48
        assert len(campaigns) <= len(small) + 1


class TestSubmissionDetail:
    def test_detail_with_answers_issues_timeline_and_etag(self, world):
        fill(world, "a", salaries_total="12", salaries_cdi="14", budget_total="600 000 €", lieux="École")
        response = Api(world["caf69"]).get(url("submission", world["a"].uuid))
        assert response.status_code == 200, response.content
        assert response["ETag"] == '"2"'
        body = response.json()
        assert (body["status"], body["status_label"], body["version"]) == ("draft", "en cours de saisie", 2)
        assert body["structure"]["name"] == "Alpha Villeurbanne" and body["campaign"]["year"] == 2025
        answers = body["answers"]
        assert list(answers) == ["salaries_total", "salaries_cdi", "budget_total", "lieux"]
        assert answers["salaries_total"]["value"] == 12 and answers["salaries_total"]["version"] == 1
        assert answers["budget_total"]["value"] == 600000
        assert answers["budget_total"]["display"] == "600\u202f000"
        assert answers["lieux"] == {**answers["lieux"], "value": ["ecole"], "display": "École", "comment": ""}
        assert answers["lieux"]["updated_by"] == world["staff_a"].display_name
        assert body["issues"] == [
            {
                "level": "error",
                "question": "salaries_cdi",
                "message": "Les salariés en CDI ne peuvent dépasser le total des salariés.",
                "rule": "cdi_total",
            }
        ]
        [event] = body["events"]
        assert (event["from_status"], event["to_status"], event["by"]) == (
            "not_started",
            "draft",
            world["staff_a"].display_name,
        )
        assert body["anomalies"] == [] and body["read_only_reason"] == ""
        # The Caf advisor reads but does not fill; nothing is to review yet.
        assert body["allowed_actions"] == []
        assert Api(world["staff_a"]).get(url("submission", world["a"].uuid)).json()["allowed_actions"] == [
            "answers",
            "submit",
        ]

    def test_malformed_id_is_a_400(self, world):
        response = Api(world["admin"]).get(url("submission", "pas-un-uuid"))
        assert response.status_code == 400
        assert response.json()["errors"]["submission_id"] == ["Identifiant (UUID) mal formé."]


class TestAnswers:
    def test_answers_are_read_the_french_way_and_saved_together(self, world):
        a = world["a"]
        response = patch_answers(
            Api(world["staff_a"]),
            a,
            {
                "salaries_total": {"value": "12", "version": 0},
                "budget_total": {"value": "12 345,67", "version": 0},
                "part_qpv": {"value": 45.5, "version": 0},
                "directeur": {"value": "oui", "version": 0},
                "directeur_diplome": {"value": "niveau 6", "version": 0},
                "lieux": {"value": ["mediatheque", "École"], "version": 0},
            },
        )
        assert response.status_code == 200, response.content
        assert response["ETag"] == '"2"'
        answers = response.json()["answers"]
        assert answers["budget_total"]["value"] == 12345.67 and answers["budget_total"]["display"] == "12\u202f345,67"
        assert answers["part_qpv"]["value"] == 45.5 and answers["directeur"]["value"] is True
        assert answers["directeur_diplome"]["value"] == "niveau_6"
        assert answers["lieux"]["value"] == ["ecole", "mediatheque"]
        a.refresh_from_db()
        assert a.status == SubmissionStatus.DRAFT
        assert a.values()["budget_total"] == D("12345.67")
        assert Answer.objects.get(submission=a, question__code="salaries_total").updated_by == world["staff_a"]

    def test_one_unreadable_value_saves_nothing(self, world):
        a = world["a"]
        response = patch_answers(
            Api(world["staff_a"]),
            a,
            {
                "salaries_total": {"value": "12,5", "version": 0},
                "salaries_cdi": {"value": "3", "version": 0},
                "part_qpv": {"value": "120", "version": 0},
                "directeur": {"value": "peut-être", "version": 0},
            },
        )
        assert response.status_code == 422, response.content
        body = response.json()
        assert "rien n'a été enregistré" in body["detail"]
        assert body["errors"] == {
            "salaries_total": ["Saisissez un nombre entier."],
            "part_qpv": ["La valeur doit être au plus 100 %."],
            "directeur": ["Répondez par oui ou par non (et non « peut-être »)."],
        }
        assert not Answer.objects.exists()
        a.refresh_from_db()
        assert (a.status, a.version) == (SubmissionStatus.NOT_STARTED, 1)

    def test_unknown_and_not_asked_questions_are_named(self, world):
        response = patch_answers(
            Api(world["admin"]),
            world["evs"],
            {
                "salaries_total": {"value": 2, "version": 0},
                "salaires": {"value": 3, "version": 0},
                "directeur": {"value": True, "version": 0},
            },
        )
        assert response.status_code == 422
        errors = response.json()["errors"]
        assert set(errors) == {"salaires", "directeur"}
        assert errors["salaires"][0].startswith("Question inconnue : « salaires »")
        assert "n'est pas posée aux structures de type « espace de vie sociale »" in errors["directeur"][0]
        assert not Answer.objects.exists()

    @pytest.mark.parametrize(
        ("body", "field", "message"),
        [
            ({"answers": {}}, "answers", "au moins une réponse"),
            ({"answers": {"salaries_total": {"value": 1, "version": 0, "valeur": 2}}}, "answers", "Champ inconnu"),
            ({"answers": {"salaries_total": {"value": 1, "version": -1}}}, "answers", "supérieure ou égale à 0"),
            ({"réponses": {}}, "réponses", "Champ inconnu"),
        ],
    )
    def test_malformed_bodies(self, world, body, field, message):
        response = Api(world["staff_a"]).patch(url("submission_answers", world["a"].uuid), body)
        assert response.status_code == 422, response.content
        assert message in " ".join(response.json()["errors"][field])

    def test_the_version_of_each_answer_is_required(self, world):
        response = patch_answers(
            Api(world["staff_a"]),
            world["a"],
            {"salaries_total": {"value": 12, "version": 0}, "salaries_cdi": {"value": 3}},
        )
        assert response.status_code == 428
        assert "Version manquante pour : salaries_cdi" in response.json()["detail"]
        assert not Answer.objects.exists()

    def test_stale_version_is_a_409_with_the_stored_value_and_saves_nothing(self, world):
        a = fill(world, "a", salaries_total="12")
        colleague = member(UserFactory(first_name="Dominique", last_name="Durand"), a.structure, Role.EDITOR)
        theirs, mine = Api(colleague), Api(world["staff_a"])
        response = patch_answers(theirs, a, {"salaries_total": {"value": "14", "version": 1}})
        assert response.status_code == 200, response.content
        response = patch_answers(
            mine,
            a,
            {"salaries_total": {"value": "13", "version": 1}, "salaries_cdi": {"value": "3", "version": 0}},
        )
        assert response.status_code == 409
        body = response.json()
        assert "salaries_total" in body["detail"] and "Rien n'a été enregistré" in body["detail"]
        conflict = body["conflicts"]["salaries_total"]
        assert (conflict["your_version"], conflict["version"], conflict["value"], conflict["display"]) == (
            1,
            2,
            14,
            "14",
        )
        assert conflict["updated_by"] == "Dominique Durand"
        assert set(body["conflicts"]) == {"salaries_total"}
        assert a.values() == {"salaries_total": D(14)}

    def test_a_first_answer_written_meanwhile_is_a_conflict_too(self, world):
        a = fill(world, "a", salaries_total="12")
        response = patch_answers(Api(world["staff_a"]), a, {"salaries_total": {"value": "13", "version": 0}})
        assert response.status_code == 409
        assert response.json()["conflicts"]["salaries_total"]["version"] == 1

    def test_comment_alone_keeps_the_value_and_settles_a_warning(self, world):
        a = fill(world, "a", salaries_total=3, budget_total=100, produits_caf=95)
        api = Api(world["staff_a"])
        issues = api.get(url("submission", a.uuid)).json()["issues"]
        assert [i["rule"] for i in issues] == ["caf_budget"]
        response = patch_answers(
            api, a, {"produits_caf": {"version": 1, "comment": "Subvention exceptionnelle de la Caf."}}
        )
        assert response.status_code == 200, response.content
        body = response.json()
        assert body["issues"] == []
        answer = body["answers"]["produits_caf"]
        assert (answer["value"], answer["version"], answer["comment"]) == (
            95,
            2,
            "Subvention exceptionnelle de la Caf.",
        )

    def test_null_empties_an_answer(self, world):
        a = fill(world, "a", salaries_cdi=3)
        response = patch_answers(Api(world["staff_a"]), a, {"salaries_cdi": {"value": None, "version": 1}})
        assert response.status_code == 200, response.content
        assert response.json()["answers"]["salaries_cdi"]["value"] is None

    def test_who_may_write(self, world):
        a, b = world["a"], world["b"]
        answers = {"salaries_total": {"value": 12, "version": 0}}
        for role in ["caf69", "city", "federation69", "viewer_a"]:
            response = patch_answers(Api(world[role]), a, answers)
            assert response.status_code == 403, role
            assert "Seuls les contributeurs de la structure" in response.json()["detail"]
        assert patch_answers(Api(world["caf13"]), a, answers).status_code == 404
        assert patch_answers(Api(world["staff_a"]), b, answers).status_code == 404
        assert not Answer.objects.exists()

    def test_sent_answers_are_read_only_with_the_reason(self, world):
        a = submitted(world)
        response = patch_answers(Api(world["staff_a"]), a, {"salaries_total": {"value": 13, "version": 1}})
        assert response.status_code == 403
        assert response.json()["detail"].startswith("Questionnaire envoyé le")
        assert a.values()["salaries_total"] == 12

    def test_closed_campaign_is_read_only(self, world):
        Campaign.objects.filter(pk=world["campaign"].pk).update(closes_on=timezone.localdate() - datetime.timedelta(1))
        response = patch_answers(Api(world["staff_a"]), world["a"], {"salaries_total": {"value": 1, "version": 0}})
        assert response.status_code == 403
        assert "La campagne est close depuis le" in response.json()["detail"]


class TestReview:
    def step(self, api, name, submission, body=None, version=None):
        headers = if_match(version) if version is not None else {}
        return api.post(url(name, submission.uuid), body or {}, **headers)

    def test_submit_needs_if_match_and_refuses_with_the_issues(self, world):
        a = fill(world, "a", salaries_cdi=3)
        api = Api(world["staff_a"])
        response = self.step(api, "submission_submit", a)
        assert response.status_code == 428 and "If-Match" in response.json()["detail"]
        response = self.step(api, "submission_submit", a, version=a.version)
        assert response.status_code == 422, response.content
        body = response.json()
        assert body["detail"] == "Le questionnaire ne peut pas encore être envoyé : 1 erreur."
        assert body["issues"] == [
            {"level": "error", "question": "salaries_total", "message": "Cette question est obligatoire.", "rule": None}
        ]
        a.refresh_from_db()
        assert a.status == SubmissionStatus.DRAFT

    def test_submit_then_stale_if_match_is_a_409(self, world):
        a = fill(world, "a", salaries_total=12)
        api = Api(world["staff_a"])
        response = self.step(api, "submission_submit", a, {"comment": "Bonne lecture"}, version=a.version)
        assert response.status_code == 200, response.content
        body = response.json()
        assert (body["status"], body["version"], response["ETag"]) == ("submitted", 3, '"3"')
        assert body["events"][-1]["comment"] == "Bonne lecture" and body["submitted_at"]
        assert body["read_only_reason"].startswith("Questionnaire envoyé le")
        # The correspondant read version 2, before the sending.
        response = self.step(Api(world["caf69"]), "submission_validate", a, version=2)
        assert response.status_code == 409
        assert response["ETag"] == '"3"'
        assert response.json()["current_version"] == 3 and response.json()["current_status"] == "submitted"
        assert "a changé depuis la version 2" in response.json()["detail"]

    def test_structure_staff_only_submit(self, world):
        a = fill(world, "a", salaries_total=12)
        for role in ["caf69", "city", "viewer_a"]:
            response = self.step(Api(world[role]), "submission_submit", a, version=a.version)
            assert response.status_code == 403, role
            assert "Seuls les contributeurs" in response.json()["detail"]
        assert self.step(Api(world["staff_b"]), "submission_submit", a, version=a.version).status_code == 404

    def test_the_correspondant_of_the_departement_validates(self, world):
        a = submitted(world)
        response = self.step(Api(world["caf69"]), "submission_validate", a, {"comment": "RAS"}, version=a.version)
        assert response.status_code == 200, response.content
        body = response.json()
        assert (body["status"], body["validated_by"]) == ("validated", world["caf69"].display_name)
        assert body["read_only_reason"].startswith(f"Questionnaire validé par {world['caf69'].display_name}")
        a.refresh_from_db()
        assert (a.status, a.validated_by) == (SubmissionStatus.VALIDATED, world["caf69"])

    def test_a_correspondant_elsewhere_gets_403_if_he_sees_it_and_404_if_not(self, world):
        b = submitted(world, "b")
        # Sees both départements (member of both Caf), correspondant of the Rhône only.
        both = member(world["caf69"], world["caf13_partner"], Role.EDITOR)
        response = self.step(Api(both), "submission_validate", b, version=b.version)
        assert response.status_code == 403
        assert "correspondants de l'observatoire 2025 pour le département 13" in response.json()["detail"]
        other = member(UserFactory(), world["caf69_partner"], Role.EDITOR)
        Correspondent.objects.create(campaign=world["campaign"], user=other, department_id="69")
        assert self.step(Api(other), "submission_validate", b, version=b.version).status_code == 404
        a = submitted(world)
        for role in ["city", "federation69", "staff_a"]:
            assert self.step(Api(world[role]), "submission_validate", a, version=a.version).status_code == 403
        b.refresh_from_db()
        assert b.status == SubmissionStatus.SUBMITTED

    def test_a_draft_cannot_be_validated(self, world):
        a = fill(world, "a", salaries_total=12)
        response = self.step(Api(world["caf69"]), "submission_validate", a, version=a.version)
        assert response.status_code == 409
        assert response.json()["detail"].startswith(
            "Un questionnaire « en cours de saisie » ne peut pas passer à « validée »."
        )

    def test_return_with_remarks_then_resubmit(self, world, mailoutbox, django_capture_on_commit_callbacks):
        a = submitted(world)
        api = Api(world["caf69"])
        response = self.step(api, "submission_return", a, version=a.version)
        assert response.status_code == 422
        assert response.json()["detail"].startswith("Dites à la structure ce qu'il faut revoir")
        response = self.step(api, "submission_return", a, {"remarks": {"salaires": "?"}}, version=a.version)
        assert response.status_code == 422
        assert response.json()["errors"]["remarks"][0].startswith("Question inconnue : « salaires »")
        with django_capture_on_commit_callbacks(execute=True):
            response = self.step(
                api,
                "submission_return",
                a,
                {"comment": "Merci de vérifier", "remarks": {"salaries_cdi": "8 CDI pour 12 salariés ?"}},
                version=a.version,
            )
        assert response.status_code == 200, response.content
        body = response.json()
        assert body["status"] == "returned" and body["allowed_actions"] == []
        [anomaly] = body["anomalies"]
        assert (anomaly["question"], anomaly["kind"], anomaly["status"]) == ("salaries_cdi", "reviewer", "queried")
        assert [m.to for m in mailoutbox] == [[world["staff_a"].email]]
        # The structure corrects and sends again; the remark counts as corrected.
        staff = Api(world["staff_a"])
        assert patch_answers(staff, a, {"salaries_cdi": {"value": 6, "version": 1}}).status_code == 200
        response = self.step(staff, "submission_submit", a, version=body["version"])
        assert response.status_code == 200, response.content
        assert response.json()["status"] == "resubmitted"
        assert Anomaly.objects.get().status == AnomalyStatus.CORRECTED

    def test_open_anomalies_block_the_validation(self, world):
        a = submitted(world)
        Anomaly.objects.create(
            submission=a, question=question(world["questionnaire"], "salaries_total"), kind="reviewer", detail="?"
        )
        response = self.step(Api(world["admin"]), "submission_validate", a, version=a.version)
        assert response.status_code == 422
        assert response.json()["detail"].startswith("1 point à vérifier reste ouvert")

    def test_only_administrators_reopen_with_a_reason(self, world):
        a = submitted(world)
        a = Submission.objects.get(pk=a.pk)
        assert self.step(Api(world["caf69"]), "submission_validate", a, version=a.version).status_code == 200
        a.refresh_from_db()
        response = self.step(Api(world["caf69"]), "submission_reopen", a, {"reason": "Erreur"}, version=a.version)
        assert response.status_code == 403 and "Seuls les administrateurs" in response.json()["detail"]
        admin = Api(world["admin"])
        response = self.step(admin, "submission_reopen", a, version=a.version)
        assert response.status_code == 422 and "Indiquez la raison" in response.json()["detail"]
        response = self.step(admin, "submission_reopen", a, {"reason": "Budget faux"}, version=a.version)
        assert response.status_code == 200, response.content
        body = response.json()
        assert body["status"] == "returned" and body["events"][-1]["comment"] == "Réouverture : Budget faux"
        response = self.step(admin, "submission_reopen", a, {"reason": "Encore"}, version=body["version"])
        assert response.status_code == 409
        assert "ne peut pas passer" in response.json()["detail"]

    def test_a_validated_submission_cannot_be_returned_by_a_correspondant(self, world):
        a = submitted(world)
        assert self.step(Api(world["caf69"]), "submission_validate", a, version=a.version).status_code == 200
        response = self.step(Api(world["caf69"]), "submission_return", a, {"comment": "Oups"}, version=a.version + 1)
        assert response.status_code == 409
        a.refresh_from_db()
        assert a.status == SubmissionStatus.VALIDATED

    def test_no_body_is_needed_besides_if_match(self, world):
        a = fill(world, "a", salaries_total=12)
        response = Api(world["staff_a"]).post(url("submission_submit", a.uuid), "", **if_match(a.version))
        assert response.status_code == 200, response.content
        assert response.json()["status"] == "submitted"

    def test_version_may_come_in_the_body_and_unknown_fields_are_refused(self, world):
        a = fill(world, "a", salaries_total=12)
        response = Api(world["staff_a"]).post(url("submission_submit", a.uuid), {"version": a.version})
        assert response.status_code == 200, response.content
        response = Api(world["caf69"]).post(
            url("submission_validate", a.uuid), {"version": response.json()["version"], "avis": "ok"}
        )
        assert response.status_code == 422 and "Champ inconnu" in response.json()["errors"]["avis"][0]
