"""The two engines of the indicators give the same digits: the SQL engine of PostgreSQL (sql.py,
one statement per year that writes only what changed) and the Python engine (compute.py, which
SQLite uses). Random structures, answers of every kind, registry facts and approvals; definitions
of every kind, operator and population filter."""

import datetime
import decimal

import pytest
from django.db import connection, transaction
from django.test import override_settings
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cadre.indicators import sql
from cadre.indicators.actions import define_indicator
from cadre.indicators.compute import SQL_REASONS, _rebuild_in_parallel, compute, rebuild
from cadre.indicators.models import Indicator, IndicatorValue, Level
from cadre.observatory.models import Answer, Campaign, Question, Submission, SubmissionStatus
from cadre.structures.models import ApprovalKind, Management, PriorityAreaStatus, Structure, StructureKind
from cadre.territories.models import Commune
from tests.factories import MARSEILLE_3E, VENISSIEUX, VILLEURBANNE, ApprovalFactory
from tests.test_indicators import snapshot

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="le moteur SQL est celui de PostgreSQL"),
]
D = decimal.Decimal

MORE_DEFINITIONS = {
    "budget_moyen_asso": {"kind": "mean", "source": "question:budget_total", "managements": ["association"]},
    "budget_somme_qpv": {"kind": "sum", "source": "question:budget_total", "priority_area": "in_area"},
    "etp_median": {"kind": "median", "source": "question:etp_total", "approval_kinds": ["family_project"]},
    "lieux_ecole": {"kind": "share", "source": "question:lieux", "operator": "any_of", "choice_codes": ["ecole"]},
    "grand_budget": {"kind": "share", "source": "question:budget_total", "operator": "gt", "threshold": "500000"},
    "petite_equipe": {"kind": "share", "source": "question:etp_total", "operator": "lte", "threshold": "3.5"},
    "projet_ecrit": {"kind": "share", "source": "question:projet", "operator": "answered"},
    "sans_permanence": {"kind": "share", "source": "question:permanences", "operator": "no"},
    "multi_sites": {"kind": "share", "source": "registry:multi_site", "operator": "yes"},
    "gestion_asso": {
        "kind": "share",
        "source": "registry:management",
        "operator": "any_of",
        "choice_codes": ["association"],
    },
    "budget_par_habitant": {
        "kind": "ratio",
        "source": "question:budget_total",
        "denominator": "registry:served_population",
        "unit": "€",
        "decimals": 2,
    },
    "part_cs": {"kind": "ratio", "source": "question:cs_seulement", "denominator": "question:etp_total", "unit": "%"},
    "hors_qpv": {"kind": "count", "priority_area": "not_in_area"},
}


@pytest.fixture
def every_kind(indicators):
    defined = dict(indicators)
    for code, fields in MORE_DEFINITIONS.items():
        base = {"title": code, "theme": "finances", "unit": "", "method": "Essai des deux moteurs."}
        defined[code] = define_indicator(code, {**base, **fields}, recompute=False)[1]
    return defined


amounts = st.decimals(min_value=0, max_value=2_000_000, places=2, allow_nan=False, allow_infinity=False)
answers_strategy = st.fixed_dictionaries(
    {},
    optional={
        "permanences": st.booleans(),
        "budget_total": amounts,
        "etp_total": st.integers(0, 40).map(lambda n: D(n) / 4),
        "qualification": st.sampled_from(["niveau_7", "niveau_6", "autre"]),
        "lieux": st.lists(st.sampled_from(["ecole", "mediatheque"]), unique=True),
        "projet": st.sampled_from(["", "Un projet", "Autre"]),
        "cs_seulement": st.integers(0, 30).map(D),
    },
)
structure_strategy = st.fixed_dictionaries(
    {
        "commune": st.sampled_from([VILLEURBANNE, VENISSIEUX, MARSEILLE_3E]),
        "kind": st.sampled_from([StructureKind.CENTRE_SOCIAL, StructureKind.EVS]),
        "management": st.sampled_from([Management.ASSOCIATION, Management.LOCAL_AUTHORITY, Management.CAF]),
        "area": st.sampled_from(list(PriorityAreaStatus.values)),
        "population": st.one_of(st.none(), st.integers(0, 60_000)),
        "multi_site": st.booleans(),
        "families": st.booleans(),
        "answers": answers_strategy,
        "status": st.sampled_from([SubmissionStatus.VALIDATED] * 3 + [SubmissionStatus.SUBMITTED]),
    }
)


def observe(campaign, questions, world):
    approval = ApprovalKind.EVS if world["kind"] == StructureKind.EVS else ApprovalKind.SOCIAL_PROJECT
    start = datetime.date(campaign.year, 1, 1)
    structure = ApprovalFactory(
        kind=approval,
        starts=start,
        structure__kind=world["kind"],
        structure__commune=Commune.objects.get(code=world["commune"]),
    ).structure
    Structure.objects.filter(pk=structure.pk).update(
        management=world["management"],
        priority_area_status=world["area"],
        served_population=world["population"],
        multi_site=world["multi_site"],
    )
    if world["families"]:
        ApprovalFactory(structure=structure, kind=ApprovalKind.FAMILY_PROJECT, starts=start)
    submission = Submission.objects.create(campaign=campaign, structure=structure, status=world["status"])
    for code, answered in world["answers"].items():
        answer = Answer(submission=submission, question=questions[code])
        answer.value = answered
        answer.save()
    return submission


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(worlds=st.lists(structure_strategy, min_size=0, max_size=9))
def test_the_sql_engine_gives_the_digits_of_the_python_engine(every_kind, campaign, worlds):
    indicators = list(Indicator.objects.current())
    questions = {q.code: q for q in Question.objects.filter(questionnaire=campaign.questionnaire)}
    with transaction.atomic():
        for world in worlds:
            observe(campaign, questions, world)
        compute(campaign.year, indicators, engine="python")
        by_python = snapshot()
        IndicatorValue.objects.all().delete()
        assert compute(campaign.year, indicators) == len(by_python)
        assert snapshot() == by_python
        # Over the Python engine's values, the SQL engine computes the same and so writes nothing.
        IndicatorValue.objects.all().delete()
        compute(campaign.year, indicators, engine="python")
        computed, written, deleted = sql.compute(campaign.year, indicators, {}, timezone.now(), SQL_REASONS)
        assert (computed, written, deleted) == (len(by_python), 0, 0)
        transaction.set_rollback(True)


def test_every_shipped_indicator_is_computed_in_sql(campaign):
    """The default definitions, on the real questionnaire: none falls back on the Python engine."""
    from django.core.management import call_command

    from cadre.observatory.actions import load_questionnaire
    from cadre.observatory.management.commands.load_questionnaire import DEFAULT
    from cadre.observatory.models import Campaign

    questionnaire = load_questionnaire(sorted(DEFAULT.glob("*.toml"))[-1])[0]
    Campaign.objects.filter(pk=campaign.pk).update(questionnaire=questionnaire)
    call_command("load_indicators", verbosity=0)
    indicators = list(Indicator.objects.current())
    assert len(indicators) >= 30
    questions = sql.questions_of([2025])
    assert set(questions) == set(Question.objects.filter(questionnaire=questionnaire).values_list("code", flat=True))
    for indicator in indicators:
        sql.statement(2025, [indicator], {}, questions, None, ("", "", ""))  # raises Unsupported otherwise


def test_a_rebuild_rewrites_only_the_values_that_changed(every_kind, campaign):
    questions = {q.code: q for q in Question.objects.filter(questionnaire=campaign.questionnaire)}
    world = {"kind": StructureKind.CENTRE_SOCIAL, "management": Management.ASSOCIATION, "area": "none"}
    world |= {"population": 1000, "multi_site": False, "families": False, "status": SubmissionStatus.VALIDATED}
    lyon = observe(campaign, questions, {**world, "commune": VILLEURBANNE, "answers": {"budget_total": D(100)}})
    marseille = observe(campaign, questions, {**world, "commune": MARSEILLE_3E, "answers": {"budget_total": D(300)}})
    rebuild()
    stamps = dict(IndicatorValue.objects.values_list("pk", "computed_at"))
    rebuild()
    assert dict(IndicatorValue.objects.values_list("pk", "computed_at")) == stamps  # nothing rewritten

    Answer.objects.filter(submission=lyon, question__code="budget_total").update(number=D(500))
    rebuild()
    moved = IndicatorValue.objects.exclude(computed_at__in=set(stamps.values()))
    places = set(moved.values_list("level", "territory"))
    assert places == {(Level.NATIONAL, ""), (Level.REGION, "84"), (Level.DEPARTMENT, "69")} | {
        (Level.EPCI, Commune.objects.get(code=VILLEURBANNE).epci_id),
        (Level.COMMUNE, VILLEURBANNE),
    }
    assert moved.filter(indicator__code="budget_median", level=Level.NATIONAL).get().value == 400
    assert IndicatorValue.objects.count() == len(stamps)

    # A questionnaire no longer validated: the places only it made observed lose their values.
    Submission.objects.filter(pk=marseille.pk).update(status=SubmissionStatus.SUBMITTED)
    rebuild()
    left = set(IndicatorValue.objects.values_list("level", "territory").distinct())
    assert (Level.COMMUNE, MARSEILLE_3E) not in left and (Level.DEPARTMENT, "13") not in left
    assert (Level.COMMUNE, VILLEURBANNE) in left
    national = IndicatorValue.objects.get(indicator__code="budget_median", level=Level.NATIONAL)
    assert (national.value, national.structure_count) == (500, 1)
    assert IndicatorValue.objects.count() == len(stamps) // 9 * 5  # 9 places before, 5 now


@pytest.mark.django_db(transaction=True)
def test_a_parallel_rebuild_writes_what_a_rebuild_year_by_year_writes(reference_data, every_kind, campaign):
    """The command's rebuild, outside any transaction: the years side by side in their own connections."""
    earlier = Campaign.objects.create(
        year=2024,
        title="Observatoire 2024",
        questionnaire=campaign.questionnaire,
        opens_on=campaign.opens_on,
        closes_on=campaign.closes_on,
    )
    questions = {q.code: q for q in Question.objects.filter(questionnaire=campaign.questionnaire)}
    base = {"management": Management.ASSOCIATION, "area": "in_area", "population": 800, "multi_site": False}
    base |= {"families": True, "status": SubmissionStatus.VALIDATED}
    for year_campaign, budgets in ((earlier, [120, 80]), (campaign, [100, 300, 50])):
        for index, budget in enumerate(budgets):
            commune = [VILLEURBANNE, MARSEILLE_3E, VENISSIEUX][index]
            kind = StructureKind.EVS if index == 2 else StructureKind.CENTRE_SOCIAL
            answers = {"budget_total": D(budget), "etp_total": D(index) + D("0.5"), "permanences": index % 2 == 0}
            observe(year_campaign, questions, {**base, "commune": commune, "kind": kind, "answers": answers})
    indicators = list(Indicator.objects.current())
    assert not connection.in_atomic_block

    counts = _rebuild_in_parallel([2024, 2025], indicators, 2)
    side_by_side = snapshot()
    assert {key[1] for key in side_by_side} == {2024, 2025} and counts[2024] and counts[2025]
    with connection.cursor() as cursor:  # the rebuild's session lock is released
        cursor.execute("SELECT pg_try_advisory_lock(hashtext('cadre.indicator_rebuild'))")
        assert cursor.fetchone()[0]
        cursor.execute("SELECT pg_advisory_unlock(hashtext('cadre.indicator_rebuild'))")
    IndicatorValue.objects.all().delete()
    with override_settings(CADRE_INDICATOR_WORKERS=1):
        assert rebuild() == counts
    assert snapshot() == side_by_side
