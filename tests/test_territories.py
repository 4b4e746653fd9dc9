"""Official geography loaded from the shipped reference data."""

import pytest
from django.core.management import call_command
from django.urls import reverse

from cadre.territories.models import Commune, Department, Epci, PriorityArea, Region

pytestmark = pytest.mark.django_db


def test_reference_data_of_the_test_departments():
    assert Region.objects.count() == 26
    assert Department.objects.count() == 109
    assert Epci.objects.count() == 1266
    villeurbanne = Commune.objects.get(code="69266")
    assert villeurbanne.name == "Villeurbanne"
    assert villeurbanne.epci.name == "Métropole de Lyon"
    assert villeurbanne.population > 150_000
    assert "69100" in villeurbanne.postal_code_list
    assert Commune.objects.get(code="13203").parent_id == "13055"
    assert Department.objects.get(code="13").region.name == "Provence-Alpes-Côte d'Azur"


def test_a_qpv_can_span_several_communes():
    multi = [area for area in PriorityArea.objects.prefetch_related("communes") if area.communes.count() > 1]
    assert multi, "au moins un QPV du Rhône ou des Bouches-du-Rhône couvre plusieurs communes"
    assert PriorityArea.objects.get(code="QN06921M").name == "Les Buers"


def test_loading_twice_changes_nothing():
    before = (Commune.objects.count(), PriorityArea.communes.through.objects.count())
    call_command("load_territories", "--departments", "69", "13", verbosity=0)
    assert (Commune.objects.count(), PriorityArea.communes.through.objects.count()) == before


def test_commune_suggestions_by_name_postal_code_and_code(client):
    def labels(text):
        return client.get(reverse("territories:commune_suggestions"), {"commune": text}).content.decode()

    assert "Villeurbanne (69266)" in labels("villeurb")
    assert "Villeurbanne (69266)" in labels("69100")
    assert "Vénissieux (69259)" in labels("venissieux")
    assert "Vénissieux (69259)" in labels("VÉNISS")  # the name as written, in capitals
    assert "Saint-Priest (69290)" in labels("saint pr")
    assert "Marseille 3e Arrondissement (13203)" in labels("13203")


def test_commune_suggestions_never_push_their_url_into_history(client, admin_user):
    response = client.get(reverse("territories:commune_suggestions"), {"commune": "villeurb"}, HTTP_HX_REQUEST="true")
    assert response["HX-Push-Url"] == "false"
    # The structures filter form pushes its URL: the commune field inside it must opt out.
    client.force_login(admin_user)
    html = client.get(reverse("structures:list")).content.decode()
    field = html[html.index('name="commune"') - 600 : html.index('name="commune"') + 600]
    assert 'hx-push-url="false"' in field
