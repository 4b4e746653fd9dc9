"""Pages real users pointed at: what each shows, and that no link leads to a refusal."""

import re

import pytest
from django.urls import reverse

from cadre.accounts.models import User
from cadre.demo import cast

pytestmark = pytest.mark.django_db


def login(client, email):
    client.force_login(User.objects.get(email=email))


def options(html, name):
    select = re.search(rf'<select[^>]*name="{name}"[^>]*>(.*?)</select>', html, re.S).group(1)
    return [v for v in re.findall(r'<option value="([^"]*)"', select) if v]


def test_filter_selects_list_only_the_areas_in_the_users_scope(client, demo):
    login(client, cast.CAF69)
    html = client.get(reverse("structures:list")).content.decode()
    assert options(html, "department") == ["69"]
    assert options(html, "region") == ["84"]  # Auvergne-Rhône-Alpes
    # A département outside the scope is refused at its field rather than offered.
    response = client.get(reverse("structures:list"), {"department": "13"})
    assert "13" not in options(response.content.decode(), "department")

    login(client, cast.ADMIN)
    html = client.get(reverse("structures:list")).content.decode()
    assert len(options(html, "department")) > 100
    assert len(options(html, "region")) > 20


def test_the_public_directory_offers_every_area(client, demo):
    html = client.get(reverse("directory:list")).content.decode()
    assert len(options(html, "department")) > 100


def test_the_public_directory_shows_only_contacts_marked_public(client, demo):
    from cadre.structures.models import Structure, StructureContact

    structures = Structure.objects.public().filter(contacts__isnull=False).distinct()[:40]
    hidden = shown = 0
    for structure in structures:
        html = client.get(reverse("directory:detail", args=[structure.uuid])).content.decode()
        for contact in StructureContact.objects.filter(structure=structure):
            if contact.is_public:
                assert contact.name in html
                shown += 1
            else:
                assert contact.name not in html, contact.name
                assert contact.email not in html, contact.email
                hidden += 1
    assert hidden and shown
    listing = client.get(reverse("directory:list"), {"q": StructureContact.objects.first().name}).content.decode()
    assert "Aucune structure" in listing


def test_the_api_documentation_sits_in_the_site_layout_with_a_way_back(client, demo):
    html = client.get(reverse("api-1.0.0:openapi-view")).content.decode()
    assert 'id="swagger-ui"' in html and "/static/ninja/swagger-ui-bundle.js" in html
    assert 'class="fr-header' in html and 'id="footer"' in html
    assert "Retour à l’accueil" in html and 'class="fr-breadcrumb' in html
    assert "/api/v1/openapi.json" in html
