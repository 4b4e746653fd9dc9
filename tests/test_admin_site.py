"""The technical administration: its index lists what an administrator manages, under Cadre's name."""

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

pytestmark = pytest.mark.django_db


@pytest.fixture
def administrator(client):
    user = get_user_model().objects.create_superuser(email="tech@cadre.test", password="x" * 16)
    client.force_login(user)
    return user


def test_the_index_lists_the_models_once_under_cadres_name(client, administrator):
    response = client.get(reverse("admin:index"))
    page = response.content.decode()
    assert response.status_code == 200
    assert "Cadre — administration technique" in page
    changelist = reverse("admin:structures_structure_changelist")
    assert f'href="{changelist}"' in page
    assert 'id="nav-sidebar"' not in page  # no sidebar repeating the whole list


def test_a_model_page_keeps_its_way_back_to_the_index(client, administrator):
    page = client.get(reverse("admin:structures_structure_changelist")).content.decode()
    assert f'href="{reverse("admin:index")}"' in page
    assert 'id="nav-sidebar"' not in page
