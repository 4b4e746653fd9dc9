"""Test set-up: the real geography of the Rhône and the Bouches-du-Rhône, loaded once."""

import collections
import datetime

import pytest
from django.core.management import call_command
from django.utils import timezone

from tests.snapshot import Snapshot

TEST_DEPARTMENTS = ["69", "13"]
LARGE_MODULE = 500  # tests: a module this large is shared by the two workers


def load_reference_data():
    call_command("load_territories", "--departments", *TEST_DEPARTMENTS, verbosity=0)


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        load_reference_data()


@pytest.fixture(autouse=True)
def second_factor_given_at_force_login(monkeypatch):
    """`client.force_login` (and `client.login`) stand for a complete sign-in, second factor included: the
    session is marked verified, as after a code. Tests of the second factor itself sign in through the pages,
    or take the mark off (tests/test_two_factor.py)."""
    from django.test.client import ClientMixin

    from cadre.accounts import two_factor

    original = ClientMixin._login

    def _login(self, user, backend=None):
        original(self, user, backend)
        session = self.session
        session[two_factor.VERIFIED_SESSION_KEY] = "test"
        session.pop(two_factor.PENDING_SESSION_KEY, None)
        session.save()

    monkeypatch.setattr(ClientMixin, "_login", _login)


def seed_demo():
    from cadre.territories.models import Commune

    if not Commune.objects.exists():  # after a test in real transactions, which empties the database
        load_reference_data()
    call_command("seed_demo", verbosity=0)


# Seeded once per test process, written back for each later module and browser test (tests/snapshot.py).
DEMO = Snapshot(seed_demo)


@pytest.fixture(scope="module")
def demo(django_db_setup, django_db_blocker):
    """The demo partnership (seed_demo) for one test module, rolled back after it.

    Tests of the module still run each in their own savepoint (the `db` fixture nests).
    """
    from django.db import transaction

    with django_db_blocker.unblock(), transaction.atomic():
        DEMO.apply()
        settle_constraints()
        yield
        transaction.set_rollback(True)


def settle_constraints():
    """Check now, once, the foreign keys of rows written in the module's transaction. Each test's teardown
    checks the deferred constraints in its savepoint; PostgreSQL would otherwise check every row of the
    demo again at each test, as a savepoint rolled back hands back the checks it ran (0.3 s a test)."""
    from django.db import connection

    connection.check_constraints()


@pytest.fixture
def reference_data(transactional_db):
    """The geography again: a test in real transactions runs after the browser tests, which empty the database."""
    from cadre.territories.models import Commune

    if not Commune.objects.exists():
        load_reference_data()


def _flushes(item):
    marker = item.get_closest_marker("django_db")
    return bool(marker and marker.kwargs.get("transaction"))


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items):
    # Tests in real transactions (browser, worker) flush the database when they end: run them last.
    items.sort(key=_flushes)
    # Under pytest-xdist (`--dist loadgroup`, see the Makefile) a module stays on one worker, so its
    # `demo` fixture is written once; the flushing tests form two groups, sent last, one per worker.
    # The role × URL matrix, a module of some 1,600 tests, is split in two to keep both workers busy.
    sizes = collections.Counter(item.module.__name__ for item in items)
    for index, item in enumerate(items):
        group = item.module.__name__
        if _flushes(item):
            group = f"flush-{index % 2}"
        elif sizes[group] > LARGE_MODULE:
            group = f"{group}-{index % 2}"
        item.add_marker(pytest.mark.xdist_group(group))


# The small questionnaire the indicator tests share (tests/test_indicators.py and the pages' tests).
INDICATORS_QUESTIONNAIRE = """
code = "indicateurs"
version = 1
title = "Questionnaire d'essai des indicateurs"

[[sections]]
code = "essai"
title = "Essai"

[[sections.questions]]
code = "permanences"
label = "Des partenaires tiennent-ils des permanences dans vos locaux ?"
type = "boolean"

[[sections.questions]]
code = "budget_total"
label = "Budget total"
type = "amount"

[[sections.questions]]
code = "etp_total"
label = "ETP"
type = "decimal"

[[sections.questions]]
code = "qualification"
label = "Qualification de la direction"
type = "choice"
choices = [
  {code = "niveau_7", label = "Niveau 7"},
  {code = "niveau_6", label = "Niveau 6"},
  {code = "autre", label = "Autre"},
]

[[sections.questions]]
code = "lieux"
label = "Lieux"
type = "multiple_choice"
choices = [{code = "ecole", label = "École"}, {code = "mediatheque", label = "Médiathèque"}]

[[sections.questions]]
code = "projet"
label = "Projet"
type = "text"

[[sections.questions]]
code = "cs_seulement"
label = "Question aux centres sociaux"
type = "integer"
applies_to = ["centre_social"]
"""


@pytest.fixture
def questionnaire(tmp_path):
    from cadre.observatory.actions import load_questionnaire

    path = tmp_path / "indicateurs.toml"
    path.write_text(INDICATORS_QUESTIONNAIRE, encoding="utf-8")
    return load_questionnaire(path)[0]


@pytest.fixture
def campaign(questionnaire):
    from cadre.observatory.models import Campaign

    today = timezone.localdate()
    return Campaign.objects.create(
        year=2025,
        title="Observatoire 2025",
        questionnaire=questionnaire,
        opens_on=today - datetime.timedelta(days=10),
        closes_on=today + datetime.timedelta(days=30),
        opened_at=timezone.now(),
    )


INDICATOR_DEFINITIONS = {
    "permanences": {
        "title": "Part des structures où un partenaire tient une permanence",
        "theme": "partnerships",
        "kind": "share",
        "unit": "%",
        "decimals": 1,
        "method": "Part des structures qui ont répondu « oui ».",
        "source": "question:permanences",
        "operator": "yes",
    },
    "budget_median": {
        "title": "Budget médian",
        "theme": "finances",
        "kind": "median",
        "unit": "€",
        "method": "Médiane et quartiles du budget total.",
        "source": "question:budget_total",
    },
    "etp_par_structure": {
        "title": "ETP par structure",
        "theme": "human_resources",
        "kind": "ratio",
        "unit": "ETP",
        "decimals": 1,
        "method": "Somme des ETP sur le nombre de structures.",
        "source": "question:etp_total",
        "denominator": "structures",
    },
    "euros_par_etp": {
        "title": "Budget par ETP",
        "theme": "finances",
        "kind": "ratio",
        "unit": "€",
        "method": "Somme des budgets sur la somme des ETP.",
        "source": "question:budget_total",
        "denominator": "question:etp_total",
    },
    "observees": {
        "title": "Structures observées",
        "theme": "key_figures",
        "kind": "count",
        "unit": "structures",
        "method": "x",
    },
    "direction_qualifiee": {
        "title": "Direction de niveau 6 ou 7",
        "theme": "human_resources",
        "kind": "share",
        "unit": "%",
        "method": "Part des qualifications de niveau 6 ou 7.",
        "source": "question:qualification",
        "operator": "any_of",
        "choice_codes": ["niveau_6", "niveau_7"],
        "structure_kinds": ["centre_social"],
    },
}


@pytest.fixture
def indicators(campaign):
    from cadre.indicators.actions import define_indicator

    return {code: define_indicator(code, fields)[1] for code, fields in INDICATOR_DEFINITIONS.items()}


@pytest.fixture(autouse=True)
def empty_cache():
    """Each test starts with an empty cache: an earlier test's rolled-back data may have left the same table
    stamps (cadre.core.stamps) and the same primary keys behind."""
    from django.core.cache import cache

    cache.clear()
