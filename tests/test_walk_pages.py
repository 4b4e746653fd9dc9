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
