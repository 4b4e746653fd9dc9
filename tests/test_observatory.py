"""Observatory: questionnaire files, typed answers in French writing, conditions, rules, opening a campaign."""

import datetime
import decimal
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError

from cadre.accounts.models import Role
from cadre.observatory import expressions
from cadre.observatory.actions import CampaignAlreadyOpen, QuestionnaireInUse, load_questionnaire, open_campaign
from cadre.observatory.definitions import check
from cadre.observatory.models import Campaign, Question, Questionnaire, Submission, check_answers
from cadre.structures.models import Structure
from tests.factories import ApprovalFactory, UserFactory, member

pytestmark = pytest.mark.django_db
D = decimal.Decimal
SHIPPED = Path(__file__).resolve().parent.parent / "cadre/observatory/questionnaires"

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
required = true
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
choices = [
  { code = "mediatheque", label = "Médiathèque" },
  { code = "ecole", label = "École" },
  { code = "bailleur", label = "Local d'un bailleur" },
]

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
    questionnaire, outcome = load_questionnaire(path)
    assert outcome == "created"
    return questionnaire


def question(questionnaire, code):
    return Question.objects.select_related("section").get(questionnaire=questionnaire, code=code)


class TestFrenchEntries:
    @pytest.mark.parametrize(
        "code, raw, expected",
        [
            ("produits_caf", "1 234", D(1234)),
            ("salaries_total", "12", D(12)),
            ("budget_total", "600 000 €", D("600000")),
            ("budget_total", "12 345,67", D("12345.67")),
            ("budget_total", "12\u202f345,5", D("12345.5")),
            ("part_qpv", "45,5 %", D("45.5")),
            ("directeur", "Oui", True),
            ("directeur", "non", False),
            ("directeur_diplome", "niveau 6", "niveau_6"),
            ("directeur_diplome", "niveau_7", "niveau_7"),
            ("lieux", "École ; mediatheque", ["ecole", "mediatheque"]),
            ("salaries_total", "  ", None),
        ],
    )
    def test_entries_are_read_as_typed(self, small, code, raw, expected):
        assert question(small, code).parse(raw) == expected

    @pytest.mark.parametrize(
        "code, raw, message",
        [
            ("salaries_total", "12,5", "Saisissez un nombre entier."),
            ("salaries_total", "douze", "« douze » n'est pas un nombre."),
            ("salaries_total", "-1", "La valeur doit être au moins 0."),
            ("salaries_total", "501", "La valeur doit être au plus 500."),
            ("budget_total", "10,555", "Un montant a au plus deux décimales (les centimes)."),
            ("part_qpv", "120", "La valeur doit être au plus 100 %."),
            ("directeur", "peut-être", "Répondez par oui ou par non (et non « peut-être »)."),
            ("directeur_diplome", "bac", "« bac » ne fait pas partie des choix proposés"),
            ("lieux", "mediatheque; piscine", "« piscine » ne fait pas partie des choix proposés"),
        ],
    )
    def test_bad_entries_get_a_french_message(self, small, code, raw, message):
        with pytest.raises(ValidationError) as error:
            question(small, code).parse(raw)
        assert error.value.messages[0].startswith(message)

    def test_numbers_are_shown_in_french(self, small):
        assert question(small, "budget_total").display(D("600000.50")) == "600\u202f000,5"
        assert question(small, "budget_total").display(D("2024")) == "2024"
        assert question(small, "salaries_total").bounds_label == "de 0 à 500"
        assert question(small, "lieux").display(["ecole", "mediatheque"]) == "École ; Médiathèque"


class TestConditionsAndRules:
    def issues(self, questionnaire, kind, values, comments=None):
        questions = list(questionnaire.questions.select_related("section"))
        found = check_answers(questions, list(questionnaire.rules.all()), kind, values, comments)
        return {(i.level, i.question_code, i.rule_code or i.message) for i in found}

    def test_required_question_only_when_asked(self, small):
        values = {"salaries_total": D(3), "directeur": False}
        assert self.issues(small, "centre_social", values) == set()
        values["directeur"] = True
        assert self.issues(small, "centre_social", values) == {
            ("error", "directeur_diplome", "Cette question est obligatoire.")
        }
        # The director questions are not put to an EVS: nothing is missing.
        assert self.issues(small, "evs", {"salaries_total": D(0)}) == set()

    def test_error_rule_blocks_and_warning_is_settled_by_a_comment(self, small):
        values = {"salaries_total": D(3), "salaries_cdi": D(4), "budget_total": D(100), "produits_caf": D(95)}
        assert self.issues(small, "evs", values) == {
            ("error", "salaries_cdi", "cdi_total"),
            ("warning", "produits_caf", "caf_budget"),
        }
        comments = {"produits_caf": "Subvention exceptionnelle de la Caf cette année."}
        assert self.issues(small, "evs", values, comments) == {("error", "salaries_cdi", "cdi_total")}

    def test_rules_on_unanswered_questions_wait(self, small):
        assert self.issues(small, "evs", {"salaries_total": D(3), "produits_caf": D(95)}) == set()

    def test_decimal_literals_compare_exactly(self):
        assert expressions.evaluate("a <= b * 0.9", {"a": D("90.00"), "b": D("100")}) is True
        assert expressions.evaluate("a + b == c", {"a": D("0.10"), "b": D("0.20"), "c": D("0.30")}) is True
        assert expressions.evaluate("a / b > 1", {"a": D(1), "b": D(0)}) is None

    @pytest.mark.parametrize("source", ["__import__('os')", "a.real", "open('x')", "a[0]", "a ==", "(lambda: 1)()"])
    def test_expressions_are_restricted(self, source):
        with pytest.raises(expressions.ExpressionError):
            expressions.parse(source)


class TestQuestionnaireFiles:
    def test_every_fault_is_reported_with_its_place(self):
        data = {
            "code": "Essai",
            "version": 0,
            "title": "",
            "sections": [
                {
                    "code": "rh",
                    "title": "RH",
                    "questions": [
                        {"code": "total", "label": "Total", "type": "integer", "min": 5, "max": 1},
                        {"code": "total", "label": "Encore", "type": "entier"},
                        {"code": "cdi", "label": "CDI", "type": "integer", "shown_if": "inconnu > 0"},
                        {
                            "code": "choix",
                            "label": "Un choix",
                            "type": "choice",
                            "choices": [{"code": "a", "label": "A"}],
                        },
                    ],
                }
            ],
            "rules": [{"code": "r1", "level": "fatal", "check": "total >", "message": "m", "questions": ["nulle"]}],
        }
        errors = check(data)
        expected = [
            "en-tête : « code » doit être en minuscules",
            "en-tête : « version » doit être un entier positif.",
            "en-tête : « title » est obligatoire.",
            "rubrique rh, question total : « min » dépasse « max ».",
            "rubrique rh, question total : le code « total » est déjà celui d'une autre question.",
            "rubrique rh, question total : type « entier » inconnu",
            "rubrique rh, question choix : une question à choix propose au moins deux choix.",
            "rubrique rh, question cdi, « shown_if » : « inconnu » n'est pas le code d'une question.",
            "règle r1 : « level » vaut « error » ou « warning ».",
            "règle r1, « check » : expression invalide « total > »",
            "règle r1 : la question « nulle » n'existe pas.",
        ]
        for message in expected:
            assert any(e.startswith(message) for e in errors), (message, errors)
        assert len(errors) == len(expected)

    def test_a_spreadsheet_column_name_is_no_question_code(self):
        data = {
            "code": "essai",
            "version": 1,
            "title": "Essai",
            "sections": [
                {"code": "rh", "title": "RH", "questions": [{"code": "identifiant", "label": "Id", "type": "text"}]}
            ],
        }
        message = "le code « identifiant » est réservé (colonne des tableurs de réponses)."
        assert check(data) == [f"rubrique rh, question identifiant : {message}"]

    def test_a_bad_file_writes_nothing_and_says_why(self, tmp_path):
        path = tmp_path / "faux.toml"
        path.write_text(SMALL.replace('type = "amount"', 'type = "argent"', 1), encoding="utf-8")
        with pytest.raises(CommandError) as error:
            call_command("load_questionnaire", str(path))
        assert "rien n'a été chargé" in str(error.value) and "type « argent » inconnu" in str(error.value)
        assert not Questionnaire.objects.exists()

    def test_reloading_is_idempotent_and_a_used_version_is_frozen(self, tmp_path, small):
        path = tmp_path / "essai.toml"
        assert load_questionnaire(path) == (small, "unchanged")
        path.write_text(SMALL.replace("Salariés au 31 décembre", "Salariés au 31/12"), encoding="utf-8")
        replaced, outcome = load_questionnaire(path)
        assert outcome == "replaced" and question(replaced, "salaries_total").label == "Salariés au 31/12"
        Campaign.objects.create(
            year=2025,
            title="Observatoire 2025",
            questionnaire=replaced,
            opens_on=datetime.date(2026, 3, 1),
            closes_on=datetime.date(2026, 5, 31),
        )
        path.write_text(SMALL.replace("Budget total", "Budget"), encoding="utf-8")
        with pytest.raises(QuestionnaireInUse, match="version = 2"):
            load_questionnaire(path)
        assert question(replaced, "budget_total").label == "Budget total"

    def test_shipped_questionnaires_load(self):
        paths = sorted(SHIPPED.glob("*.toml"))
        assert paths, "aucun questionnaire livré"
        call_command("load_questionnaire")
        for questionnaire in Questionnaire.objects.all():
            assert 90 <= questionnaire.questions.count() <= 120
            assert questionnaire.rules.count() >= 8


class TestOpeningACampaign:
    @pytest.fixture
    def campaign(self, small):
        return Campaign.objects.create(
            year=2025,
            title="Observatoire 2025",
            questionnaire=small,
            opens_on=datetime.date(2026, 3, 1),
            closes_on=datetime.date(2026, 5, 31),
        )

    def test_structures_of_the_year_are_those_approved_in_it_and_first_approved_before(self):
        old = ApprovalFactory(starts=datetime.date(2022, 1, 1), ends=datetime.date(2025, 12, 31)).structure
        renewed = ApprovalFactory(starts=datetime.date(2021, 1, 1), ends=datetime.date(2024, 6, 30)).structure
        ApprovalFactory(structure=renewed, starts=datetime.date(2024, 7, 1), ends=datetime.date(2028, 6, 30))
        new = ApprovalFactory(starts=datetime.date(2025, 6, 1), ends=datetime.date(2027, 5, 31)).structure
        known_before = ApprovalFactory(starts=datetime.date(2025, 1, 1), ends=datetime.date(2028, 12, 31)).structure
        Structure.objects.filter(pk=known_before.pk).update(first_approval_date=datetime.date(2012, 9, 1))
        ended = ApprovalFactory(starts=datetime.date(2020, 1, 1), ends=datetime.date(2024, 12, 31)).structure
        family_only = ApprovalFactory(
            kind="family_project", starts=datetime.date(2020, 1, 1), ends=datetime.date(2027, 12, 31)
        ).structure
        assert set(Structure.objects.observed_in(2025)) == {old, renewed, known_before}
        assert new in Structure.objects.observed_in(2026) and ended not in Structure.objects.observed_in(2026)
        assert family_only not in Structure.objects.observed_in(2025)

    def test_opening_creates_the_submissions_and_tells_each_structure(
        self, campaign, mailoutbox, django_capture_on_commit_callbacks
    ):
        observed = ApprovalFactory(starts=datetime.date(2022, 1, 1), ends=datetime.date(2026, 12, 31)).structure
        director = member(UserFactory(email="directrice@buers.fr"), observed, Role.MANAGER)
        member(UserFactory(email="lecteur@buers.fr"), observed, Role.VIEWER)
        closed = ApprovalFactory(starts=datetime.date(2022, 1, 1), ends=datetime.date(2026, 12, 31)).structure
        Structure.objects.filter(pk=closed.pk).update(closed_on=datetime.date(2025, 9, 30))
        admin = UserFactory(is_superuser=True)
        with django_capture_on_commit_callbacks(execute=True):
            submissions = open_campaign(campaign, actor=admin)
        assert [s.structure for s in submissions] == [observed]
        assert Submission.objects.get().status == "not_started"
        assert [m.to for m in mailoutbox] == [[director.email]]
        assert "31/05/2026" in mailoutbox[0].body and observed.name in mailoutbox[0].body
        with pytest.raises(CampaignAlreadyOpen):
            open_campaign(campaign, actor=admin)
        assert Submission.objects.count() == 1


def test_the_campaign_list_counts_the_questionnaires_each_user_sees(client, campaign):
    from django.urls import reverse

    from cadre.partners.models import PartnerKind
    from tests.factories import MARSEILLE_3E, PartnerFactory, StructureFactory

    marseille = [StructureFactory(commune_id=MARSEILLE_3E) for _ in range(2)]
    for structure, status in ((StructureFactory(), "draft"), (marseille[0], "validated"), (marseille[1], "submitted")):
        Submission.objects.create(campaign=campaign, structure=structure, status=status)
    caf13 = member(UserFactory(), PartnerFactory(kind=PartnerKind.CAF, departments=["13"]), Role.EDITOR)
    for user, expected in ((UserFactory(is_superuser=True), (3, 1, 1)), (caf13, (2, 1, 1))):
        client.force_login(user)
        listed = client.get(reverse("observatory:campaigns")).context["campaigns"]
        assert [(c.total, c.sent, c.validated) for c in listed if c.pk == campaign.pk] == [expected]


def test_an_administrator_adds_a_correspondent_chosen_by_name(client, campaign):
    from django.urls import reverse

    from cadre.partners.models import PartnerKind
    from tests.factories import PartnerFactory

    advisor = member(
        UserFactory(first_name="Inès", last_name="Caf", email="ines@caf13.fr"),
        PartnerFactory(kind=PartnerKind.CAF, departments=["13"]),
        Role.EDITOR,
    )
    client.force_login(UserFactory(is_superuser=True))
    url = reverse("observatory:campaign_correspondents", args=[campaign.uuid])
    page = client.get(url).content.decode()
    assert f'<option value="{advisor.pk}">Inès Caf (ines@caf13.fr)</option>' in page
    assert '<option value="13">Bouches-du-Rhône (13)</option>' in page
    # The départements offered come from the geography read once per process: a code posted is checked again.
    refused = client.post(url, {"user": advisor.pk, "department": "0"})
    assert refused.status_code == 200 and "Sélectionnez un choix valide" in refused.content.decode()
    assert not campaign.correspondents.exists()
    assert client.post(url, {"user": advisor.pk, "department": "13"}).status_code == 302
    assert campaign.correspondents.get().user == advisor
    assert "Inès Caf" in client.get(url).content.decode()


def test_the_accounts_offered_as_correspondents_cost_no_query_each(client, campaign):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.urls import reverse

    from cadre.partners.models import PartnerKind
    from tests.factories import PartnerFactory

    caf = PartnerFactory(kind=PartnerKind.CAF, departments=["13"])
    client.force_login(UserFactory(is_superuser=True))
    url = reverse("observatory:campaign_correspondents", args=[campaign.uuid])
    member(UserFactory(), caf, Role.EDITOR)
    client.get(url)
    with CaptureQueriesContext(connection) as few:
        client.get(url)
    for _ in range(5):
        member(UserFactory(), caf, Role.EDITOR)
    with CaptureQueriesContext(connection) as more:
        client.get(url)
    assert len(more) == len(few)


def test_the_campaign_dashboard_counts_the_points_still_to_check(client, campaign):
    from django.urls import reverse

    from cadre.observatory.models import Anomaly, AnomalyKind, AnomalyStatus
    from tests.factories import StructureFactory

    submission = Submission.objects.create(campaign=campaign, structure=StructureFactory(), status="submitted")
    questions = Question.objects.filter(section__questionnaire=campaign.questionnaire)
    statuses = (AnomalyStatus.OPEN, AnomalyStatus.QUERIED, AnomalyStatus.CORRECTED, AnomalyStatus.JUSTIFIED)
    for question, status in zip(questions, statuses, strict=False):
        Anomaly.objects.create(
            submission=submission, question=question, kind=AnomalyKind.YEARLY_CHANGE, status=status, detail="Écart"
        )
    assert Anomaly.objects.count() == 4
    client.force_login(UserFactory(is_superuser=True))
    context = client.get(reverse("observatory:campaign", args=[campaign.uuid])).context
    assert context["unresolved_count"] == 2 and len(context["unresolved"]) == 2
