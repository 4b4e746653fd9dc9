"""The registry of structures: identity card rules, filters, exports, history, concurrency."""

import csv
import datetime
import io
import re

import openpyxl
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from cadre.accounts.models import Role
from cadre.partners.models import PartnerKind
from cadre.structures.forms import ApprovalForm, StructureForm
from cadre.structures.models import Approval, PriorityAreaStatus, Structure, add_months
from cadre.territories.models import Commune
from tests.factories import ApprovalFactory, PartnerFactory, StructureFactory, UserFactory, member

pytestmark = pytest.mark.django_db

VALID_SIRET = "73282932000074"  # a real, published SIRET (its Luhn key checks)


def structure_data(**overrides):
    data = {
        "name": "Centre social Les Buers",
        "kind": "centre_social",
        "management": "association",
        "siret": VALID_SIRET,
        "commune": "Villeurbanne (69266)",
        "postal_code": "69100",
        "priority_area_status": "in_area",
        "priority_areas": ["QN06921M"],
        "project_axes_text": "Parentalité\nJeunesse",
    }
    data.update(overrides)
    return data


@pytest.fixture
def caf69():
    caf = PartnerFactory(name="Caf du Rhône", kind=PartnerKind.CAF, departments=["69"])
    return member(UserFactory(email="conseillere@caf69.fr"), caf, Role.EDITOR)


class TestStructureForm:
    def test_valid_identity_card_is_saved_with_its_qpv(self, caf69):
        form = StructureForm(structure_data())
        assert form.is_valid(), form.errors
        structure = form.save_tracked(caf69)
        assert structure.commune_id == "69266"
        assert [a.code for a in structure.priority_areas.all()] == ["QN06921M"]
        assert structure.project_axes == ["Parentalité", "Jeunesse"]

    @pytest.mark.parametrize(
        ("field", "value", "message"),
        [
            ("siret", "73282932000075", "SIRET invalide"),
            ("siret", "1234", "SIRET invalide"),
            ("commune", "Atlantide", "Commune inconnue"),
            ("commune", "13001", "plusieurs communes"),
            ("postal_code", "69003", "n'appartient pas à Villeurbanne"),
            ("priority_areas", ["QN06999Z"], "n'est ni sur la commune choisie ni sur une commune voisine"),
            # A Marseille QPV posted by hand: not among those offered for Villeurbanne.
            ("priority_areas", ["QN01303I"], "n'est ni sur la commune choisie ni sur une commune voisine"),
            # Offered (Vaulx-en-Velin is a neighbour) but not on Villeurbanne: the model's rule speaks.
            ("priority_areas", ["QN06916M"], "n'est pas situé sur la commune"),
            ("project_axes_text", "a\nb\nc\nd\ne\nf", "Au plus 5 axes"),
        ],
    )
    def test_bad_input_is_reported_on_its_field_in_french(self, field, value, message):
        form = StructureForm(structure_data(**{field: value}))
        assert not form.is_valid()
        assert message in " ".join(form.errors[field]), form.errors
        assert not Structure.objects.exists()

    def test_qpv_required_when_status_says_so(self):
        form = StructureForm(structure_data(priority_areas=[]))
        assert not form.is_valid()
        assert "au moins un QPV" in form.errors["priority_areas"][0]

    def test_commune_by_name_ignoring_case_and_accents(self):
        form = StructureForm(structure_data(commune="villeurbanne"))
        assert form.is_valid(), form.errors
        assert form.cleaned_data["commune"].code == "69266"

    def test_five_digits_that_are_both_a_postal_and_an_insee_code_ask_to_choose(self):
        # 69120 is Vaulx-en-Velin's postal code and Longessaigne's INSEE code.
        form = StructureForm(structure_data(commune="69120"))
        assert not form.is_valid()
        assert "Vaulx-en-Velin (69256)" in form.errors["commune"][0]
        assert "Longessaigne (69120)" in form.errors["commune"][0]


def ticked(page):
    return re.findall(r'<input type="checkbox" name="priority_areas" value="(\w+)"[^>]* checked>', page)


class TestPriorityAreaChoices:
    """QPV are ticked among those of the commune and its neighbours (real QPV 2024 of the Rhône)."""

    def labels(self, form):
        return [label for _, label in form.fields["priority_areas"].choices]

    def test_the_commune_s_own_qpv_come_first_then_its_neighbours_named(self):
        labels = self.labels(StructureForm(initial={"commune": "Villeurbanne (69266)"}))
        own = ["QN06919M – Bel Air - Les Brosses", "QN06921M – Les Buers", "QN06901M – Monod - Baratin - Cacard"]
        assert labels[:3] == own
        assert "QN06920M – Saint-Jean" in labels[:5] and "QN06922M – Tonkin" in labels[:5]
        neighbours = labels[5:]
        assert "QN06916M – Grande Île (Vaulx-en-Velin)" in neighbours
        assert all(label.endswith(")") for label in neighbours)
        # Sorted by neighbour, short: no QPV of Givors (20 km away), none of the Bouches-du-Rhône.
        places = [label.rsplit("(", 1)[1] for label in neighbours]
        assert places == sorted(places)
        assert not any("Givors" in label or "QN013" in label for label in labels)
        assert len(labels) < 30

    def test_an_arrondissement_is_offered_its_city_s_qpv(self):
        labels = self.labels(StructureForm(initial={"commune": "69388"}))  # Lyon 8e
        assert "QN06931M – Moulin A Vent" in labels and "QN06933I – Mermoz" in labels

    def test_ticking_a_qpv_saves_it(self, client, caf69):
        structure = StructureFactory(priority_area_status=PriorityAreaStatus.NONE)
        client.force_login(caf69)
        page = client.get(reverse("structures:edit", args=[structure.uuid])).content.decode()
        assert 'type="checkbox" name="priority_areas" value="QN06921M"' in page
        data = structure_data(priority_areas=["QN06921M", "QN06919M"], version=structure.version)
        response = client.post(reverse("structures:edit", args=[structure.uuid]), data)
        assert response.status_code == 302
        assert sorted(structure.priority_areas.values_list("code", flat=True)) == ["QN06919M", "QN06921M"]

    def test_a_qpv_not_offered_posted_by_hand_is_refused_in_french(self, client, caf69):
        structure = StructureFactory(priority_area_status=PriorityAreaStatus.NONE)
        client.force_login(caf69)
        data = structure_data(priority_areas=["QN06902M"], version=structure.version)  # Givors
        response = client.post(reverse("structures:edit", args=[structure.uuid]), data)
        assert response.status_code == 200
        assert "Le QPV QN06902M n&#x27;est ni sur la commune choisie ni sur une commune voisine" in (
            response.content.decode()
        )
        assert not structure.priority_areas.exists()

    def test_an_unknown_commune_is_the_only_error_not_the_qpv_ticked_for_it(self):
        form = StructureForm(structure_data(commune="Atlantide", priority_areas=["QN06916M"]))
        assert not form.is_valid()
        assert "Commune inconnue" in form.errors["commune"][0]
        assert "priority_areas" not in form.errors

    def test_a_qpv_already_linked_stays_listed_and_ticked_even_when_far(self, client, caf69):
        structure = StructureFactory(priority_area_status=PriorityAreaStatus.SERVES_AREA)
        structure.priority_areas.set(["QN06902M"])  # Givors, linked before QPV were proposed
        client.force_login(caf69)
        page = client.get(reverse("structures:edit", args=[structure.uuid])).content.decode()
        assert "QN06902M – Centre (Givors)" in page
        assert ticked(page) == ["QN06902M"]
        data = structure_data(
            priority_area_status="serves_area", priority_areas=["QN06902M"], version=structure.version
        )
        assert client.post(reverse("structures:edit", args=[structure.uuid]), data).status_code == 302

    def test_the_fragment_redraws_the_list_for_another_commune_without_touching_the_address(self, client, caf69):
        structure = StructureFactory()
        structure.priority_areas.set(["QN06921M"])
        client.force_login(caf69)
        url = reverse("structures:priority_area_choices")
        response = client.get(
            url, {"structure": structure.uuid, "commune": "Vénissieux (69259)", "priority_areas": ["QN06921M"]}
        )
        assert response.status_code == 200 and response["HX-Push-Url"] == "false"
        fragment = response.content.decode()
        assert fragment.lstrip().startswith('<div id="id_priority_areas-group"')
        assert "QN06918M – Duclos - Barel" in fragment and "Tonkin" not in fragment
        # The structure's own QPV stays, ticked, with its commune named.
        assert "QN06921M – Les Buers (Villeurbanne)" in fragment
        assert ticked(fragment) == ["QN06921M"]
        # For a new structure, the list follows the commune typed.
        fragment = client.get(url, {"commune": "Villeurbanne (69266)"}).content.decode()
        assert "QN06921M – Les Buers<" in fragment and ticked(fragment) == []

    def test_a_commune_without_qpv_nearby_says_so(self, client, caf69):
        client.force_login(caf69)
        url = reverse("structures:priority_area_choices")
        fragment = client.get(url, {"commune": "Alix (69004)"}).content.decode()
        assert "Aucun QPV dans cette commune ni dans les communes voisines." in fragment
        assert 'type="checkbox"' not in fragment
        fragment = client.get(url, {"commune": ""}).content.decode()
        assert "Choisissez d’abord la commune" in fragment

    def test_the_fragment_keeps_other_structures_to_themselves(self, client):
        structure = StructureFactory()
        client.force_login(UserFactory())
        response = client.get(reverse("structures:priority_area_choices"), {"structure": structure.uuid})
        assert response.status_code == 404


class TestApprovalRules:
    @pytest.mark.parametrize(
        ("starts", "ends", "message"),
        [
            ("2024-01-01", "2028-01-01", "au plus 4 ans"),
            ("2024-06-01", "2024-01-01", "postérieure à son début"),
            ("2024-01-01", "2024-06-30", "au moins 1 an"),
        ],
    )
    def test_bad_periods_are_refused(self, starts, ends, message):
        structure = StructureFactory()
        form = ApprovalForm({"kind": "social_project", "starts": starts, "ends": ends}, structure=structure)
        assert not form.is_valid()
        assert message in " ".join(form.errors["ends"])
        assert not Approval.objects.exists()

    def test_four_years_is_accepted(self):
        structure = StructureFactory()
        form = ApprovalForm(
            {"kind": "social_project", "starts": "2024-01-01", "ends": "2027-12-31"}, structure=structure
        )
        assert form.is_valid(), form.errors

    def test_evs_approval_kind_does_not_fit_a_centre_social(self):
        structure = StructureFactory()
        form = ApprovalForm({"kind": "evs", "starts": "2024-01-01", "ends": "2025-12-31"}, structure=structure)
        assert not form.is_valid()
        assert "kind" in form.errors

    def test_overlapping_approval_of_same_kind_is_refused(self):
        approval = ApprovalFactory()
        form = ApprovalForm(
            {"kind": "social_project", "starts": "2025-01-01", "ends": "2026-12-31"}, structure=approval.structure
        )
        assert not form.is_valid()
        assert "chevauche" in form.errors["starts"][0]


class TestListFiltersAndExports:
    @pytest.fixture
    def registry(self):
        today = timezone.localdate()
        villeurbanne = StructureFactory(name="Alpha Villeurbanne")
        marseille = StructureFactory(
            name="Bêta Marseille",
            commune=Commune.objects.get(code="13203"),
            priority_area_status=PriorityAreaStatus.IN_AREA,
        )
        evs = StructureFactory(name="Gamma EVS", kind="evs", commune=Commune.objects.get(code="69259"))
        ApprovalFactory(structure=villeurbanne, starts=today - datetime.timedelta(days=700), ends=add_months(today, 2))
        ApprovalFactory(structure=marseille, starts=today - datetime.timedelta(days=30), ends=add_months(today, 40))
        return villeurbanne, marseille, evs

    def names(self, client, **params):
        response = client.get(reverse("structures:list"), params)
        assert response.status_code == 200
        return [s.name for s in response.context["page"].object_list]

    def test_filters(self, client, registry):
        admin = UserFactory(email="admin@exemple.fr", is_superuser=True)
        client.force_login(admin)
        assert self.names(client) == ["Alpha Villeurbanne", "Bêta Marseille", "Gamma EVS"]
        assert self.names(client, department="13") == ["Bêta Marseille"]
        assert self.names(client, region="84") == ["Alpha Villeurbanne", "Gamma EVS"]
        assert self.names(client, qpv="yes") == ["Bêta Marseille"]
        assert self.names(client, kind="evs") == ["Gamma EVS"]
        assert self.names(client, approval_ending="3") == ["Alpha Villeurbanne"]
        assert self.names(client, commune="Marseille (13055)") == ["Bêta Marseille"]
        assert self.names(client, q="gamma") == ["Gamma EVS"]
        assert self.names(client, sort="-name") == ["Gamma EVS", "Bêta Marseille", "Alpha Villeurbanne"]

    def test_column_headers_sort_the_list_and_keep_the_filters(self, client, registry):
        client.force_login(UserFactory(is_superuser=True))
        page = client.get(reverse("structures:list"), {"kind": "centre_social"}).content.decode()
        # Sorted by name now: its header says so, and its link turns the order round, filters kept.
        assert 'aria-sort="ascending"' in page
        link = re.search(r'href="\?([^"]*)"\s+title="Trier par nom, de Z à A"', page)
        assert link and "kind=centre_social" in link.group(1) and "sort=-name" in link.group(1)
        assert 'title="Trier par fin d’agrément, la plus proche d\'abord"' in page.replace("&#x27;", "'")
        assert self.names(client, sort="-commune")[-1] == "Bêta Marseille"  # after Villeurbanne and Vénissieux
        # The approval ending last first; none in force last whatever the direction.
        assert self.names(client, sort="-approval") == ["Bêta Marseille", "Alpha Villeurbanne", "Gamma EVS"]
        page = client.get(reverse("structures:list"), {"sort": "-approval"}).content.decode()
        assert page.count('aria-sort="descending"') == 1 and "sort=approval" in page

    def test_htmx_request_gets_only_the_results_fragment(self, client, registry):
        client.force_login(UserFactory(is_superuser=True))
        response = client.get(reverse("structures:list"), {"department": "13"}, HTTP_HX_REQUEST="true")
        body = response.content.decode()
        assert "<html" not in body and "Bêta Marseille" in body and "Alpha" not in body

    def test_csv_export_is_filtered_scoped_and_excel_friendly(self, client, registry, caf69):
        client.force_login(caf69)
        response = client.get(reverse("structures:export", args=["csv"]), {"kind": "centre_social"})
        content = b"".join(response.streaming_content).decode("utf-8")
        assert content.startswith("\ufeff")
        rows = list(csv.reader(io.StringIO(content.lstrip("\ufeff")), delimiter=";"))
        assert rows[0][:4] == ["Nom", "Type", "SIRET", "Numéro RNA"]
        # The Caf advisor of the Rhône does not get Marseille; the EVS is filtered out.
        assert [r[0] for r in rows[1:]] == ["Alpha Villeurbanne"]

    def test_xlsx_export(self, client, registry):
        client.force_login(UserFactory(is_superuser=True))
        response = client.get(reverse("structures:export", args=["xlsx"]), {"department": "69"})
        sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
        values = list(sheet.values)
        assert values[0][0] == "Nom"
        assert sorted(v[0] for v in values[1:]) == ["Alpha Villeurbanne", "Gamma EVS"]

    def test_the_export_is_made_once_until_a_structure_or_its_approvals_change(self, client, registry, monkeypatch):
        from cadre.structures import views

        villeurbanne, marseille, _ = registry
        made, make = [], views.table_bytes
        monkeypatch.setattr(views, "table_bytes", lambda *args: made.append(1) or make(*args))
        client.force_login(UserFactory(is_superuser=True))

        def rows():
            response = client.get(reverse("structures:export", args=["csv"]), {"department": "69"})
            content = b"".join(response.streaming_content).decode("utf-8").lstrip("\ufeff")
            return {r[0]: r for r in csv.reader(io.StringIO(content), delimiter=";")}

        assert rows() == rows() and len(made) == 1
        villeurbanne.name = "Alpha Villeurbanne Nord"
        villeurbanne.save()
        assert "Alpha Villeurbanne Nord" in rows() and len(made) == 2
        ends = add_months(timezone.localdate(), 30)
        ApprovalFactory(structure=marseille.__class__.objects.get(name="Gamma EVS"), ends=ends)
        assert rows()["Gamma EVS"][-4] == ends.strftime("%d/%m/%Y") and len(made) == 3

    def test_list_queries_do_not_grow_with_page_size(self, client, settings):
        client.force_login(UserFactory(is_superuser=True))
        StructureFactory.create_batch(3)
        settings.CADRE_PAGE_SIZE = 3
        with CaptureQueriesContext(connection) as small:
            client.get(reverse("structures:list"))
        StructureFactory.create_batch(40)
        settings.CADRE_PAGE_SIZE = 40
        with CaptureQueriesContext(connection) as large:
            response = client.get(reverse("structures:list"))
        assert len(response.context["page"].object_list) == 40
        assert len(large) == len(small)


class TestHistoryAndConcurrency:
    def test_edit_is_in_history_with_old_and_new_values(self, client, caf69):
        structure = StructureFactory(name="Ancien nom")
        client.force_login(caf69)
        form = StructureForm(instance=structure)
        data = {**structure_data(name="Nouveau nom", priority_area_status="none", priority_areas=[])}
        data["version"] = form.initial["version"]
        response = client.post(reverse("structures:edit", args=[structure.uuid]), data)
        assert response.status_code == 302
        page = client.get(reverse("structures:history", args=[structure.uuid])).content.decode()
        assert "Ancien nom" in page and "Nouveau nom" in page
        record = structure.history.latest()
        assert record.history_user == caf69 and record.name == "Nouveau nom"

    def test_second_save_from_a_stale_version_is_refused_and_shows_what_changed(self, client, caf69):
        structure = StructureFactory(name="Nom lu par les deux")
        other = member(
            UserFactory(email="autre@caf69.fr", first_name="Alex", last_name="Durand"), caf69.memberships.get().partner
        )
        version_read = structure.version
        first, second = client, type(client)()
        second.force_login(other)
        first.force_login(caf69)
        payload = structure_data(priority_area_status="none", priority_areas=[], version=version_read)
        assert (
            second.post(
                reverse("structures:edit", args=[structure.uuid]), {**payload, "name": "Nom d'Alex"}
            ).status_code
            == 302
        )
        response = first.post(reverse("structures:edit", args=[structure.uuid]), {**payload, "name": "Mon nom"})
        assert response.status_code == 200
        page = response.content.decode()
        assert "modifiée par quelqu&#x27;un d&#x27;autre" in page
        assert "Nom d&#x27;Alex" in page and "Alex Durand" in page
        structure.refresh_from_db()
        assert structure.name == "Nom d'Alex"
        # Saving again after seeing the changes is a deliberate overwrite and goes through.
        data = response.context["form"].data
        assert first.post(reverse("structures:edit", args=[structure.uuid]), data).status_code == 302
        structure.refresh_from_db()
        assert structure.name == "Mon nom"


class TestScope:
    def test_each_role_sees_its_perimeter(self):
        a = StructureFactory(name="A à Villeurbanne")
        b = StructureFactory(name="B à Marseille", commune=Commune.objects.get(code="13203"))
        lyon = StructureFactory(name="C à Lyon 8e", commune=Commune.objects.get(code="69388"))
        federation = PartnerFactory(kind=PartnerKind.FEDERATION, departments=["13"])
        b.federation = federation
        b.save()
        cases = {
            member(UserFactory(), a): {a},
            member(UserFactory(), PartnerFactory(kind=PartnerKind.CAF, departments=["69"])): {a, lyon},
            member(UserFactory(), PartnerFactory(kind=PartnerKind.COMMUNE, communes=["69123"]), Role.VIEWER): {lyon},
            member(UserFactory(), federation): {b},
            UserFactory(is_superuser=True): {a, b, lyon},
        }
        for user, expected in cases.items():
            assert set(Structure.objects.visible_to(user)) == expected, user

    def test_rights_read_from_the_page_query_match_each_role(self):
        from cadre.structures.permissions import can_edit_structure, can_manage_approvals, with_rights

        a = StructureFactory(name="A")
        lyon = StructureFactory(name="Lyon", commune=Commune.objects.get(code="69388"))
        federation = PartnerFactory(kind=PartnerKind.FEDERATION, departments=["69"])
        lyon.federation = federation
        lyon.save()
        caf = PartnerFactory(kind=PartnerKind.CAF, departments=["69"])
        city = PartnerFactory(kind=PartnerKind.COMMUNE, communes=["69123", "69266"])
        both = member(member(UserFactory(), caf, Role.EDITOR), city, Role.VIEWER)
        expected = {
            # user: {structure: (can edit, can manage approvals)}
            member(UserFactory(), a): {a: (True, False)},
            member(UserFactory(), a, Role.VIEWER): {a: (False, False)},
            member(UserFactory(), caf): {a: (True, True), lyon: (True, True)},
            member(UserFactory(), caf, Role.VIEWER): {a: (False, False), lyon: (False, False)},
            member(UserFactory(), federation): {lyon: (True, False)},
            member(UserFactory(), city, Role.EDITOR): {a: (False, False), lyon: (False, False)},
            both: {a: (True, True), lyon: (True, True)},
        }
        for user, rights in expected.items():
            rows = with_rights(Structure.objects.visible_to(user), user)
            seen = {s: (s.user_can_edit, s.user_can_manage_approvals) for s in rows}
            assert seen == rights, user
            for structure, (edit, approvals) in rights.items():
                fresh = Structure.objects.get(pk=structure.pk)
                assert (can_edit_structure(user, fresh), can_manage_approvals(user, fresh)) == (edit, approvals)

    def test_a_city_viewer_cannot_edit(self, client):
        structure = StructureFactory()
        city = member(UserFactory(), PartnerFactory(kind=PartnerKind.COMMUNE, communes=["69266"]), Role.VIEWER)
        client.force_login(city)
        page = " ".join(client.get(reverse("structures:detail", args=[structure.uuid])).content.decode().split())
        # Its place, named from the official geography.
        assert "Villeurbanne (69266) — Rhône, Auvergne-Rhône-Alpes — Métropole de Lyon" in page
        assert client.get(reverse("structures:edit", args=[structure.uuid])).status_code == 403

    def test_creation_outside_ones_territory_is_refused_on_the_commune(self, client, caf69):
        client.force_login(caf69)
        data = structure_data(
            commune="Marseille 3e Arrondissement (13203)",
            postal_code="13003",
            priority_area_status="none",
            priority_areas=[],
        )
        response = client.post(reverse("structures:create"), data)
        assert response.status_code == 200
        assert "hors de votre périmètre" in " ".join(response.context["form"].errors["commune"])
        assert not Structure.objects.exists()


class TestPublicDirectory:
    def test_public_fields_only_and_no_closed_structure(self, client):
        open_one = StructureFactory(name="Ouverte", siret=VALID_SIRET, phone="04 78 00 00 00")
        open_one.contacts.create(name="Direction publique", is_public=True, email="direction@exemple.fr")
        open_one.contacts.create(name="Trésorière privée", is_public=False, email="privee@exemple.fr")
        StructureFactory(name="Fermée", closed_on=datetime.date(2024, 1, 1))
        listing = client.get(reverse("directory:list")).content.decode()
        assert "Ouverte" in listing and "Fermée" not in listing
        page = client.get(reverse("directory:detail", args=[open_one.uuid])).content.decode()
        assert "Direction publique" in page and "04 78 00 00 00" in page
        assert "Trésorière privée" not in page and VALID_SIRET not in page

    def test_directory_filters_ignore_private_criteria(self, client):
        StructureFactory(name="Ouverte à Villeurbanne")
        StructureFactory(name="Ouverte à Marseille", commune=Commune.objects.get(code="13203"))
        response = client.get(reverse("directory:list"), {"department": "69", "management": "caf", "q": "ouverte"})
        assert [s.name for s in response.context["page"].object_list] == ["Ouverte à Villeurbanne"]
        assert "management" not in response.context["form"].fields


class TestPaginationAndScopeOnEdit:
    def test_page_beyond_the_end_shows_the_last_page_with_the_right_total(self, client, settings):
        settings.CADRE_PAGE_SIZE = 2
        StructureFactory.create_batch(5)
        client.force_login(UserFactory(is_superuser=True))
        page = client.get(reverse("structures:list"), {"page": "99"}).context["page"]
        assert (page.number, page.paginator.count, page.paginator.num_pages, len(page.object_list)) == (3, 5, 3, 1)
        page = client.get(reverse("structures:list"), {"page": "abc"}).context["page"]
        assert (page.number, len(page.object_list)) == (1, 2)

    def test_editing_the_commune_out_of_ones_territory_is_refused(self, client, caf69):
        structure = StructureFactory(name="Reste dans le Rhône")
        client.force_login(caf69)
        data = structure_data(
            name="Reste dans le Rhône",
            commune="Marseille 3e Arrondissement (13203)",
            postal_code="13003",
            priority_area_status="none",
            priority_areas=[],
            version=structure.version,
        )
        response = client.post(reverse("structures:edit", args=[structure.uuid]), data)
        assert "hors de votre périmètre" in " ".join(response.context["form"].errors["commune"])
        structure.refresh_from_db()
        assert structure.commune_id == "69266"
