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
