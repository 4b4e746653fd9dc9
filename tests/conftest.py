"""Test set-up: the real geography of the Rhône and the Bouches-du-Rhône, loaded once."""

import pytest
from django.core.management import call_command

TEST_DEPARTMENTS = ["69", "13"]


def load_reference_data():
    call_command("load_territories", "--departments", *TEST_DEPARTMENTS, verbosity=0)


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        load_reference_data()


@pytest.fixture(scope="module")
def demo(django_db_setup, django_db_blocker):
    """The demo partnership (seed_demo) for one test module, rolled back after it.

    Tests of the module still run each in their own savepoint (the `db` fixture nests).
    """
    from django.db import transaction

    with django_db_blocker.unblock(), transaction.atomic():
        call_command("seed_demo", verbosity=0)
        yield
        transaction.set_rollback(True)


def _flushes(item):
    marker = item.get_closest_marker("django_db")
    return bool(marker and marker.kwargs.get("transaction"))


def pytest_collection_modifyitems(items):
    # Tests in real transactions (browser, worker) flush the database when they end: run them last.
    items.sort(key=_flushes)
