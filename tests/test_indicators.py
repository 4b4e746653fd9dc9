"""Indicators: definitions checked at save time (French, by field), versions kept, values by
territory and year (shares, medians and quartiles, ratios of sums), « non calculable » with its
reason, refresh after a validation, and the incremental refresh equal to a rebuild on random data."""

import datetime
import decimal
import statistics

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cadre.indicators.actions import define_indicator
from cadre.indicators.compute import rebuild, refresh_structure
from cadre.indicators.models import Indicator, IndicatorValue, Level
from cadre.observatory.actions import reopen_submission, validate_submission
from cadre.observatory.models import Answer, Question, Submission, SubmissionStatus
from cadre.structures.models import ApprovalKind, Management, StructureKind
from cadre.territories.models import Commune
from tests.conftest import INDICATOR_DEFINITIONS as DEFINITIONS
from tests.factories import MARSEILLE_3E, VENISSIEUX, VILLEURBANNE, ApprovalFactory, UserFactory

pytestmark = pytest.mark.django_db
D = decimal.Decimal


def observe(campaign, commune, answers, *, kind=StructureKind.CENTRE_SOCIAL, status=SubmissionStatus.VALIDATED):
    """A structure of `commune` with a submission in `status` holding `answers` ({code: value})."""
    approval = ApprovalKind.EVS if kind == StructureKind.EVS else ApprovalKind.SOCIAL_PROJECT
    structure = ApprovalFactory(
        kind=approval,
        starts=datetime.date(campaign.year, 1, 1),
        structure__kind=kind,
        structure__commune=Commune.objects.get(code=commune),
    ).structure
    submission = Submission.objects.create(campaign=campaign, structure=structure, status=status)
    questions = {q.code: q for q in Question.objects.filter(questionnaire=campaign.questionnaire)}
    for code, value in answers.items():
        answer = Answer(submission=submission, question=questions[code])
        answer.value = value
        answer.save()
    return submission


def value(code, level=Level.DEPARTMENT, territory="69", year=2025):
    current = Indicator.objects.current().get(code=code)
    return IndicatorValue.objects.get(indicator=current, year=year, level=level, territory=territory)


class TestDefinitions:
    def refused(self, **fields):
        with pytest.raises(ValidationError) as error:
            define_indicator("essai", {"title": "Essai", "theme": "finances", "method": "m", **fields})
        return error.value.message_dict

    def test_a_definition_reading_the_wrong_kind_of_answer_is_refused_at_the_field(self, campaign):
        assert self.refused(kind="median", source="question:permanences") == {
            "source": [
                "Une médiane et quartiles d'une réponse chiffrée se calcule sur une réponse chiffrée : cette donnée "
                "est de type « oui / non »."
            ]
        }
        assert self.refused(kind="share", source="question:budget_total", operator="yes") == {
            "operator": ["« oui » ou « non » ne s'applique qu'à une question oui / non."]
        }
        assert self.refused(kind="share", source="question:budget_total", operator="gt") == {
            "threshold": ["Indiquez le seuil."]
        }
        assert self.refused(kind="share", source="question:qualification", operator="any_of", choice_codes=["x"]) == {
            "choice_codes": ["Choix inconnus de cette question : x."]
        }
        assert self.refused(kind="sum", source="question:inconnue") == {
            "source": ["Aucun questionnaire n'a de question « inconnue »."]
        }

    def test_a_ratio_needs_a_numeric_denominator_other_than_its_numerator(self, campaign):
        assert "denominator" in self.refused(kind="ratio", source="question:budget_total")
        assert self.refused(kind="ratio", source="question:budget_total", denominator="question:projet") == {
            "denominator": ["Le dénominateur d'un rapport doit être une réponse chiffrée."]
        }
        assert self.refused(kind="ratio", source="question:budget_total", denominator="question:budget_total") == {
            "denominator": ["Le numérateur et le dénominateur sont la même donnée : le rapport vaut 1."]
        }

    def test_an_empty_population_is_refused(self, campaign):
        assert self.refused(kind="count", structure_kinds=["evs"], approval_kinds=["social_project"]) == {
            "approval_kinds": [
                "Aucune structure de ces types n'a ces agréments : la population de l'indicateur serait vide."
            ]
        }
        assert self.refused(kind="sum", source="question:cs_seulement", structure_kinds=["evs"]) == {
            "structure_kinds": [
                "Cette question n'est posée à aucun de ces types de structure : la population serait vide."
            ]
        }

    def test_editing_keeps_the_old_version_and_its_values(self, campaign, indicators):
        observe(campaign, VILLEURBANNE, {"permanences": True})
        rebuild()
        old = Indicator.objects.current().get(code="permanences")
        status, new = define_indicator("permanences", {**DEFINITIONS["permanences"], "operator": "no"})
        assert (status, new.version) == ("new_version", 2)
        old.refresh_from_db()
        assert old.replaced_at is not None and not old.is_current
        assert IndicatorValue.objects.get(indicator=old, level=Level.NATIONAL).value == 100
        # The new version's values were computed in the background (here, at once).
        assert value("permanences", Level.NATIONAL, "").value == 0
        assert define_indicator("permanences", {**DEFINITIONS["permanences"], "operator": "no"})[0] == "unchanged"


class TestValues:
    @pytest.fixture
    def observed(self, campaign, indicators):
        observe(campaign, VILLEURBANNE, {"permanences": True, "budget_total": D(100000), "etp_total": D(2)})
        observe(campaign, VILLEURBANNE, {"permanences": False, "budget_total": D(300000), "etp_total": D(8)})
        observe(campaign, VENISSIEUX, {"permanences": True, "budget_total": D(200000), "qualification": "niveau_7"})
        observe(campaign, MARSEILLE_3E, {"budget_total": D(900000), "etp_total": D(0), "qualification": "autre"})
        observe(campaign, VENISSIEUX, {"permanences": True}, status=SubmissionStatus.SUBMITTED)  # not validated
        observe(campaign, VENISSIEUX, {"qualification": "niveau_6"}, kind=StructureKind.EVS)
        rebuild()

    def test_a_share_counts_those_who_answered(self, observed):
        rhone = value("permanences")
        assert (rhone.numerator, rhone.denominator, rhone.structure_count) == (2, 3, 3)
        assert rhone.value.quantize(D("0.01")) == D("66.67")
        assert value("permanences", Level.COMMUNE, VILLEURBANNE).value == 50
        # Marseille's structure did not answer: the Bouches-du-Rhône has no value, and says why.
        marseille = value("permanences", territory="13")
        assert marseille.value is None and marseille.reason == "aucune structure n'a donné la réponse lue"
        assert value("permanences", Level.NATIONAL, "").structure_count == 3

    def test_a_filtered_share_reads_only_its_population(self, observed):
        # The EVS's answer « niveau_6 » is out of a centres-sociaux indicator.
        assert value("direction_qualifiee").value == 100 and value("direction_qualifiee").structure_count == 1
        assert value("direction_qualifiee", Level.NATIONAL, "").value == 50

    def test_median_and_quartiles(self, observed):
        france = value("budget_median", Level.NATIONAL, "")
        budgets = [100000, 200000, 300000, 900000]
        assert france.value == statistics.median(budgets) == 250000
        assert (france.first_quartile, france.third_quartile) == (175000, 450000)
        assert value("budget_median", Level.COMMUNE, VENISSIEUX).value == 200000

    def test_a_ratio_is_a_ratio_of_sums_never_a_mean_of_ratios(self, observed):
        # 100,000 € / 2 ETP and 300,000 € / 8 ETP: (50,000 + 37,500) / 2 = 43,750 would be the mean of ratios.
        villeurbanne = value("euros_par_etp", Level.COMMUNE, VILLEURBANNE)
        assert villeurbanne.value == 40000 and (villeurbanne.numerator, villeurbanne.denominator) == (400000, 10)
        assert value("etp_par_structure", Level.COMMUNE, VILLEURBANNE).value == 5

    def test_a_division_by_zero_is_not_computable_with_its_reason(self, observed):
        marseille = value("euros_par_etp", territory="13")
        assert marseille.value is None
        assert marseille.reason == "division par zéro : la somme des dénominateurs est nulle"

    def test_values_exist_at_every_level(self, observed):
        counts = {
            (v.level, v.territory): v.value
            for v in IndicatorValue.objects.filter(indicator__code="observees", indicator__replaced_at=None)
        }
        villeurbanne = Commune.objects.get(code=VILLEURBANNE)
        assert counts[(Level.NATIONAL, "")] == 5
        assert counts[(Level.REGION, "84")] == 4 and counts[(Level.REGION, "93")] == 1
        assert counts[(Level.DEPARTMENT, "69")] == 4
        assert counts[(Level.EPCI, villeurbanne.epci_id)] == 4  # Métropole de Lyon
        assert counts[(Level.COMMUNE, VILLEURBANNE)] == 2

    def test_a_question_missing_from_that_years_questionnaire_is_flagged(self, campaign, indicators, tmp_path):
        observe(campaign, VILLEURBANNE, {"budget_total": D(1)})
        Question.objects.filter(questionnaire=campaign.questionnaire, code="etp_total").update(code="etp_ancien")
        rebuild()
        assert value("etp_par_structure").reason == "le questionnaire 2025 n'a pas la question « etp_total »"
        assert value("budget_median").value == 1


def test_validating_and_reopening_refresh_the_structures_territories(campaign, indicators):
    admin = UserFactory(is_superuser=True)
    first = observe(campaign, VILLEURBANNE, {"permanences": True})
    rebuild()
    second = observe(campaign, VENISSIEUX, {"permanences": False}, status=SubmissionStatus.RESUBMITTED)
    validate_submission(second, actor=admin)
    assert value("permanences").value == 50 and value("observees", Level.COMMUNE, VENISSIEUX).value == 1
    reopen_submission(first, actor=admin, reason="Budget à corriger")
    assert value("permanences").value == 0 and value("permanences").structure_count == 1
    assert not IndicatorValue.objects.filter(level=Level.COMMUNE, territory=VILLEURBANNE).exists()


def snapshot():
    return sorted(
        IndicatorValue.objects.values_list(
            "indicator__code",
            "year",
            "level",
            "territory",
            "value",
            "numerator",
            "denominator",
            "first_quartile",
            "third_quartile",
            "structure_count",
            "reason",
        )
    )


COMMUNES = [VILLEURBANNE, VENISSIEUX, MARSEILLE_3E]
answers_strategy = st.fixed_dictionaries(
    {},
    optional={
        "permanences": st.booleans(),
        "budget_total": st.integers(0, 2_000_000).map(D),
        "etp_total": st.integers(0, 40).map(lambda n: D(n) / 2),
        "qualification": st.sampled_from(["niveau_7", "niveau_6", "autre"]),
    },
)
structure_strategy = st.tuples(
    st.sampled_from(COMMUNES),
    st.sampled_from([StructureKind.CENTRE_SOCIAL, StructureKind.EVS]),
    st.sampled_from([Management.ASSOCIATION, Management.LOCAL_AUTHORITY]),
    answers_strategy,
    st.booleans(),
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    structures=st.lists(structure_strategy, min_size=1, max_size=7),
    steps=st.lists(st.integers(0, 6), max_size=10),
)
def test_the_incremental_refresh_equals_a_rebuild(indicators, campaign, structures, steps):
    with transaction.atomic():
        submissions = []
        for commune, kind, management, answers, validated in structures:
            status = SubmissionStatus.VALIDATED if validated else SubmissionStatus.SUBMITTED
            submission = observe(campaign, commune, answers, kind=kind, status=status)
            submission.structure.__class__.objects.filter(pk=submission.structure_id).update(management=management)
            submissions.append(submission)
        rebuild()
        for step in steps:
            submission = submissions[step % len(submissions)]
            validated = Submission.objects.get(pk=submission.pk).status == SubmissionStatus.VALIDATED
            new = SubmissionStatus.RETURNED if validated else SubmissionStatus.VALIDATED
            Submission.objects.filter(pk=submission.pk).update(status=new)
            refresh_structure(submission.structure_id, campaign.year)
        incremental = snapshot()
        rebuild()
        assert incremental == snapshot()
        transaction.set_rollback(True)
