"""The demo's financial statements: accounts that add up, sector-like orders of magnitude, and the structures
in difficulty crossing their thresholds, each for its own reason."""

import statistics
from collections import defaultdict
from decimal import Decimal

import pytest
from django.db import transaction
from django.utils import timezone

from cadre.accounts.models import Membership
from cadre.demo import cast
from cadre.demo import monitoring as demo_monitoring
from cadre.demo import seed as demo_seed
from cadre.funding.models import DocumentKind, DocumentStatus
from cadre.monitoring import ratios
from cadre.monitoring import receivers as alert_receivers
from cadre.monitoring.enums import StatementStatus
from cadre.monitoring.models import FinancialStatement
from cadre.structures.models import Structure, StructureKind

pytestmark = pytest.mark.django_db
D = Decimal


@pytest.fixture(scope="module")
def histories(demo, django_db_blocker):
    """{structure: its statements, oldest first}."""
    with django_db_blocker.unblock():
        found = defaultdict(list)
        for statement in FinancialStatement.objects.select_related("structure").order_by("structure", "year"):
            found[statement.structure].append(statement)
        return dict(found)


def latest_ratios(history):
    return ratios.ratios_of(history[-1], history)


def crosses(difficulty, history):
    return difficulty.crosses(latest_ratios(history)[difficulty.ratio])


def test_every_structure_has_three_closed_fiscal_years_that_add_up(histories):
    years = demo_monitoring.fiscal_years(timezone.localdate())
    assert len(histories) == Structure.objects.count() == 150
    # Each statement has its creation entry in the history, as if written through the ORM
    created = FinancialStatement.history.filter(history_type="+", history_user__email=cast.ADMIN)
    assert created.count() == FinancialStatement.objects.count() == 450
    entry = created.get(id=histories[Structure.objects.order_by("pk").first()][-1].pk)
    assert entry.instance.net_result == entry.instance.income - entry.instance.expenses
    for structure, history in histories.items():
        assert [s.year for s in history] == years, structure
        for statement in history:
            statement.clean_fields(exclude=["structure", "year"])
            statement.clean()
            assert statement.total_assets == statement.total_liabilities
            assert statement.ends_on < timezone.localdate()


def test_statements_link_to_the_annual_accounts_deposited(histories):
    linked = FinancialStatement.objects.exclude(accounts_document=None).select_related("accounts_document__required")
    assert linked.exists()
    for statement in linked:
        document = statement.accounts_document
        assert (document.structure_id, document.year) == (statement.structure_id, statement.year)
        assert document.required.kind == DocumentKind.ANNUAL_ACCOUNTS and document.status != DocumentStatus.REJECTED


def test_orders_of_magnitude_are_the_sectors(histories):
    by_kind = defaultdict(list)
    for structure, history in histories.items():
        by_kind[structure.kind].append(history[-1])
    centres, evs = by_kind[StructureKind.CENTRE_SOCIAL], by_kind[StructureKind.EVS]
    centre_expenses = statistics.median(s.expenses for s in centres)
    evs_expenses = statistics.median(s.expenses for s in evs)
    assert D(400000) < centre_expenses < D(800000)
    assert D(50000) < evs_expenses < D(150000)
    staff_share = statistics.median(s.staff_costs / s.expenses for s in centres)
    assert D("0.6") < staff_share < D("0.75")
    assert statistics.median(s.staff_costs / s.expenses for s in evs) < D("0.6")
    # The Caf's service funding, the communes first among funders for most
    caf_share = statistics.median((s.subsidy_caf_service + s.subsidy_caf_other) / s.income for s in centres)
    municipal_share = statistics.median(s.subsidy_municipal / s.income for s in centres)
    assert D("0.15") < caf_share < D("0.35") and D("0.2") < municipal_share < D("0.4")
    # Quartiles mean something: the structures differ
    quartiles = statistics.quantiles([s.expenses for s in centres], n=4)
    assert quartiles[2] > quartiles[0] * D("1.3")


def test_statuses_most_accepted_the_last_year_in_every_state(histories):
    last = [history[-1].status for history in histories.values()]
    earlier = {s.status for history in histories.values() for s in history[:-1]}
    assert earlier == {StatementStatus.ACCEPTED}
    counts = {status: last.count(status) for status in StatementStatus.values}
    assert counts[StatementStatus.ACCEPTED] > len(last) / 2
    assert counts[StatementStatus.SUBMITTED] and counts[StatementStatus.DRAFT]
    assert 1 <= counts[StatementStatus.RETURNED] <= 8
    for history in histories.values():
        for s in history:
            assert (s.submitted_at is None) == (s.status == StatementStatus.DRAFT)
            assert (s.reviewed_at is not None) == (s.status in {StatementStatus.ACCEPTED, StatementStatus.RETURNED})
            if s.reviewed_at:
                assert s.reviewed_by and s.reviewed_at > s.submitted_at
            assert (s.review_comment != "") == (s.status == StatementStatus.RETURNED)


def test_each_structure_in_difficulty_crosses_its_threshold(histories):
    found = demo_monitoring.structures_in_difficulty()
    assert len(found) == len(demo_monitoring.DIFFICULTIES) >= 10
    assert {d.department for d in found} == {"69", "13"}
    assert len(set(found.values())) == len(found)
    assert len({d.ratio for d in found}) >= 7  # different reasons
    for difficulty, structure in found.items():
        history = histories[structure]
        assert all(s.status == StatementStatus.ACCEPTED for s in history), difficulty.code
        assert crosses(difficulty, history), (difficulty.code, latest_ratios(history)[difficulty.ratio])
        assert history[-1].comment == difficulty.comment
    # Structure B of the cast, in Marseille: its support case shows a recovery plan under way
    structure_b = Membership.objects.get(user__email=cast.STRUCTURE_B).structure
    assert found[demo_monitoring.BY_CODE["deficits-recovery"]] == structure_b
    assert histories[structure_b][-1].net_result > histories[structure_b][-2].net_result


def test_the_rising_debts_rise_every_year(histories):
    difficulty = demo_monitoring.BY_CODE["tax-social-debts"]
    history = histories[demo_monitoring.structures_in_difficulty()[difficulty]]
    shares = [ratios.ratios_of(s, history[: i + 1])["tax_social_debts_share"] for i, s in enumerate(history)]
    amounts = [s.tax_social_debts for s in history]
    assert shares == sorted(set(shares)) and amounts == sorted(set(amounts))


def test_healthy_structures_stay_clear_of_the_usual_thresholds(histories):
    """Only the named structures trip: the demo's alerts are those it means."""
    named = set(demo_monitoring.structures_in_difficulty().values())
    for structure, history in histories.items():
        if structure in named:
            continue
        found = latest_ratios(history)
        assert found["cash_days"] >= 30, structure
        assert found["equity_months"] >= 3, structure
        assert found["consecutive_deficits"] < 2, structure
        assert found["working_capital"] > 0, structure
        assert found["first_funder_share"] <= 50, structure
        assert found["income_change"] > -15, structure
        debts = [s.tax_social_debts for s in history]
        assert not debts[0] < debts[1] < debts[2], structure


def test_seeding_again_gives_the_same_figures(histories):
    def figures():
        return sorted(
            (s.structure.uuid, s.year, s.status, s.income, s.expenses, s.cash, s.equity, s.tax_social_debts)
            for s in FinancialStatement.objects.select_related("structure")
        )

    first = figures()
    with transaction.atomic(), alert_receivers.paused():  # no recompute per deleted statement
        FinancialStatement.history.all().delete()
        FinancialStatement.objects.all().delete()

        class Again:
            seed = demo_seed.DEFAULT_SEED
            today = timezone.localdate()
            structures = list(Structure.objects.select_related("commune").order_by("pk"))
            approvals = list(demo_seed.Approval.objects.all())
            admin = None

        summary = demo_monitoring.seed(Again)
        assert summary["statements"] == 450
        assert figures() == first
        transaction.set_rollback(True)
