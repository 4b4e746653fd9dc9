"""Layout, operator configuration, legal pages, history of children with their parent's."""

import pytest
from django.urls import reverse

from cadre.partners.models import PartnerKind
from cadre.structures.forms import ApprovalForm
from tests.factories import ApprovalFactory, PartnerFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_brand_block_only_for_a_state_service(client, settings):
    settings.CADRE_OPERATOR = {
        **settings.CADRE_OPERATOR,
        "is_state_service": False,
        "name": "Convention cadre du Rhône",
    }
    page = client.get(reverse("core:home")).content.decode()
    assert "fr-logo" not in page and "Convention cadre du Rhône" in page
    settings.CADRE_OPERATOR = {**settings.CADRE_OPERATOR, "is_state_service": True}
    assert "fr-logo" in client.get(reverse("core:home")).content.decode()


@pytest.mark.parametrize("name", ["core:accessibility", "core:personal_data", "core:legal_notice"])
def test_legal_pages_are_public_and_name_the_operator(client, settings, name):
    settings.CADRE_OPERATOR = {**settings.CADRE_OPERATOR, "contact_email": "avs@operateur.example"}
    response = client.get(reverse(name))
    assert response.status_code == 200
    assert "avs@operateur.example" in response.content.decode() or name == "core:legal_notice"


def test_pages_are_in_french(client):
    page = client.get(reverse("accounts:login")).content.decode()
    assert '<html lang="fr"' in page and "Mot de passe oublié" in page


def test_unknown_page_is_a_french_404(client):
    response = client.get("/nulle-part/")
    assert response.status_code == 404


def test_approval_change_shows_on_the_structure_history(client):
    admin = UserFactory(is_superuser=True, first_name="Dominique", last_name="Admin")
    approval = ApprovalFactory()
    form = ApprovalForm(
        {"kind": "social_project", "starts": "2024-01-01", "ends": "2026-12-31", "version": approval.version},
        instance=approval,
        structure=approval.structure,
    )
    assert form.is_valid(), form.errors
    form.save_tracked(admin)
    client.force_login(admin)
    page = client.get(reverse("structures:history", args=[approval.structure.uuid])).content.decode()
    assert "Agrément « Animation globale" in page
    assert "31/12/2027" in page and "31/12/2026" in page and "Dominique Admin" in page


def test_partner_territory_edit_is_versioned_and_recorded(client):
    admin = UserFactory(is_superuser=True)
    partner = PartnerFactory(kind=PartnerKind.COMMUNE, communes=["69266"])
    client.force_login(admin)
    data = {"name": partner.name, "kind": "commune", "commune_codes": "69266, Vénissieux", "version": partner.version}
    response = client.post(reverse("partners:edit", args=[partner.uuid]), data)
    assert response.status_code == 302
    assert sorted(partner.communes.values_list("code", flat=True)) == ["69259", "69266"]
    stale = client.post(reverse("partners:edit", args=[partner.uuid]), {**data, "name": "Autre nom"})
    assert stale.status_code == 200 and "modifiée par quelqu" in stale.content.decode()
    bad = client.post(
        reverse("partners:edit", args=[partner.uuid]),
        {**data, "commune_codes": "Atlantide", "version": partner.history.latest().version},
    )
    assert "Commune inconnue" in bad.content.decode()


def test_contact_added_edited_and_deleted_shows_in_history(client):
    admin = UserFactory(is_superuser=True)
    structure = ApprovalFactory().structure
    client.force_login(admin)
    url = reverse("structures:contact_create", args=[structure.uuid])
    response = client.post(url, {"name": "Awa Diallo", "position": "directrice", "email": "pas-une-adresse"})
    assert response.status_code == 200 and "Saisissez une adresse de courriel valide." in response.content.decode()
    client.post(url, {"name": "Awa Diallo", "position": "directrice", "email": "awa@exemple.fr"})
    contact = structure.contacts.get()
    client.post(
        reverse("structures:contact_edit", args=[structure.uuid, contact.uuid]),
        {"name": "Awa Diallo", "position": "directrice générale", "email": "awa@exemple.fr"},
    )
    client.post(reverse("structures:contact_delete", args=[structure.uuid, contact.uuid]))
    page = client.get(reverse("structures:history", args=[structure.uuid])).content.decode()
    assert "Contact « Awa Diallo »" in page
    assert "directrice générale" in page and "Suppression" in page
    assert not structure.contacts.exists()


def test_two_people_editing_one_contact_do_not_overwrite_each_other(client):
    admin = UserFactory(is_superuser=True)
    structure = ApprovalFactory().structure
    contact = structure.contacts.create(name="Léa Martin", position="directrice")
    client.force_login(admin)
    url = reverse("structures:contact_edit", args=[structure.uuid, contact.uuid])
    read = {"name": "Léa Martin", "version": contact.version}
    assert client.post(url, {**read, "position": "directrice adjointe"}).status_code == 302
    response = client.post(url, {**read, "position": "coordinatrice"})
    assert response.status_code == 200 and "directrice adjointe" in response.content.decode()
    contact.refresh_from_db()
    assert contact.position == "directrice adjointe"


def test_history_queries_do_not_grow_with_the_number_of_changes():
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from cadre.core.history import history_entries
    from cadre.territories.models import Commune, PriorityArea

    admin = UserFactory(is_superuser=True)
    structure = ApprovalFactory().structure
    communes = [Commune.objects.get(code="69266"), Commune.objects.get(code="69259")]
    areas = list(PriorityArea.objects.filter(communes__in=communes)[:2])

    def edit(times):
        for i in range(times):
            structure.name = f"Nom {i}"
            structure.commune = communes[i % 2]
            structure.save_tracked(
                user=admin,
                expected_version=structure.version,
                save_relations=lambda i=i: structure.priority_areas.set(areas[: i % 2 + 1]),
            )

    def count():
        with CaptureQueriesContext(connection) as queries:
            entries = history_entries(structure)
        return len(queries), entries

    edit(3)
    few, _ = count()
    edit(12)
    many, entries = count()
    assert many == few
    assert {c["label"] for c in entries[0]["changes"]} == {"nom", "commune", "QPV"}


def test_record_page_loads_its_history_lazily_and_the_fragment_is_capped(client):
    admin = UserFactory(is_superuser=True)
    approval = ApprovalFactory()
    structure = approval.structure
    for number in range(31):
        structure.name = f"Nom {number}"
        structure.save_tracked(expected_version=structure.version, user=admin)
    client.force_login(admin)
    history_url = reverse("structures:history", args=[structure.uuid])
    page = client.get(reverse("structures:detail", args=[structure.uuid])).content.decode()
    assert f'hx-get="{history_url}"' in page and "Nom 29" not in page
    fragment = client.get(history_url, headers={"HX-Request": "true"}).content.decode()
    assert "<html" not in fragment and "→ <ins>Nom 30</ins>" in fragment
    assert "→ <ins>Nom 0</ins>" not in fragment
    assert f'href="{history_url}">Voir tout' in fragment
    full = client.get(history_url).content.decode()
    # The page of its own has every change, back to the creation.
    assert "<html" in full and "→ <ins>Nom 0</ins>" in full and "Fiche créée" in full


def test_selects_are_written_in_python_with_their_groups_choice_and_escaping():
    from django import forms
    from dsfr.forms import DsfrBaseForm

    class Form(DsfrBaseForm):
        place = forms.ChoiceField(
            label="Lieu",
            choices=[("", "Choisir"), ("Rhône", [("69", "Lyon & <environs>"), ("69123", "Lyon")]), ("13", "Marseille")],
        )
        many = forms.MultipleChoiceField(label="Plusieurs", choices=[("a", "A"), ("b", "B"), ("c", "C")])

    html = str(Form(initial={"place": "69123", "many": ["a", "c"]}))
    assert '<select name="place" class="fr-select" required id="id_place">' in html
    assert '<option value="">Choisir</option>' in html
    assert '<optgroup label="Rhône">\n<option value="69">Lyon &amp; &lt;environs&gt;</option>' in html
    assert '<option value="69123" selected>Lyon</option>\n</optgroup>\n<option value="13">Marseille</option>' in html
    assert '<select name="many" class="fr-select" required id="id_many" multiple>' in html
    assert (
        '<option value="a" selected>A</option>\n<option value="b">B</option>\n<option value="c" selected>C</option>'
        in html
    )


def test_a_page_of_a_list_counts_its_total_only_when_the_page_does_not_tell_it(django_assert_num_queries):
    from cadre.core.pagination import paginate
    from cadre.structures.models import Structure
    from tests.factories import StructureFactory

    StructureFactory.create_batch(7)
    structures = Structure.objects.order_by("pk")
    with django_assert_num_queries(2):  # a full page: its rows, then the count
        page = paginate(structures, 1, 3)
    assert (len(page.object_list), page.paginator.count, page.paginator.num_pages) == (3, 7, 3)
    with django_assert_num_queries(1):  # the last page says the total itself
        page = paginate(structures, 3, 3)
    assert [s.pk for s in page.object_list] == [structures.last().pk] and page.paginator.count == 7
    with django_assert_num_queries(3):  # beyond the end: the count, then the last page
        page = paginate(structures, 9, 3)
    assert page.number == 3 and len(page.object_list) == 1
