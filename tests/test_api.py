"""REST API v1: authentication, scope, the page's filters, validation in French, versions and conflicts."""

import io
import json
import uuid

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from cadre.accounts.models import ApiToken, Role
from cadre.partners.models import Partner, PartnerKind
from cadre.structures.models import PriorityAreaStatus, Structure
from cadre.territories.models import Commune, PriorityArea
from tests.factories import (
    MARSEILLE_3E,
    VENISSIEUX,
    ApprovalFactory,
    PartnerFactory,
    StructureFactory,
    UserFactory,
    member,
)

pytestmark = pytest.mark.django_db

VALID_SIRET = "73282932000074"
BAD_SIRET = "73282932000075"
VILLEURBANNE_QPV = "QN06921M"
MARSEILLE_QPV = "QN01303I"


def url(name, *args):
    return reverse(f"api-1.0.0:{name}", args=args)


class Api:
    """A test client speaking JSON, signed in by a bearer token, a session, or not at all."""

    def __init__(self, user=None, *, token=None, session=False):
        self.client = Client()
        self.headers = {}
        if token:
            self.headers["Authorization"] = f"Bearer {token}"
        elif user is not None and session:
            self.client.force_login(user)
        elif user is not None:
            self.headers["Authorization"] = f"Bearer {ApiToken.issue(user, 'tests')[1]}"

    def get(self, path, params=None, **headers):
        return self.client.get(path, params or {}, headers={**self.headers, **headers})

    def send(self, method, path, payload, **headers):
        body = payload if isinstance(payload, (str, bytes)) else json.dumps(payload)
        return getattr(self.client, method)(
            path, body, content_type="application/json", headers={**self.headers, **headers}
        )

    def post(self, path, payload, **headers):
        return self.send("post", path, payload, **headers)

    def patch(self, path, payload, **headers):
        return self.send("patch", path, payload, **headers)


def ids(response):
    assert response.status_code == 200, response.content
    return {r["id"] for r in response.json()["results"]}


@pytest.fixture
def caf69():
    caf = PartnerFactory(name="Caf du Rhône", kind=PartnerKind.CAF, departments=["69"])
    return member(UserFactory(email="conseillere@caf69.fr"), caf, Role.EDITOR)


@pytest.fixture
def caf13():
    caf = PartnerFactory(name="Caf des Bouches-du-Rhône", kind=PartnerKind.CAF, departments=["13"])
    return member(UserFactory(email="conseiller@caf13.fr"), caf, Role.EDITOR)


@pytest.fixture
def admin():
    return UserFactory(email="admin@exemple.fr", is_superuser=True)


@pytest.fixture
def registry():
    """Two structures in the Rhône, one (in a QPV) in Marseille."""
    return {
        "villeurbanne": StructureFactory(name="Alpha Villeurbanne"),
        "venissieux": StructureFactory(name="Gamma EVS", kind="evs", commune=Commune.objects.get(code=VENISSIEUX)),
        "marseille": StructureFactory(
            name="Bêta Marseille",
            commune=Commune.objects.get(code=MARSEILLE_3E),
            priority_area_status=PriorityAreaStatus.IN_AREA,
        ),
    }


def structure_payload(**overrides):
    data = {
        "name": "Centre social Les Buers",
        "kind": "centre_social",
        "management": "association",
        "siret": VALID_SIRET,
        "commune": "69266",
        "postal_code": "69100",
        "priority_area_status": "in_area",
        "priority_areas": [VILLEURBANNE_QPV],
        "project_axes": ["Parentalité", "Jeunesse"],
    }
    data.update(overrides)
    return data


class TestAuthentication:
    def test_territories_are_public(self):
        anonymous = Api()
        assert anonymous.get(url("regions")).json()["count"] >= 1
        departments = anonymous.get(url("departments"), {"region": "84"}).json()["results"]
        assert "69" in {d["code"] for d in departments} and "13" not in {d["code"] for d in departments}
        communes = anonymous.get(url("communes"), {"q": "villeurb"}).json()["results"]
        assert [c["code"] for c in communes] == ["69266"]
        # 69100 is Villeurbanne's postal code and Irigny's INSEE code.
        by_number = anonymous.get(url("communes"), {"q": "69100"}).json()["results"]
        assert {c["name"] for c in by_number} == {"Villeurbanne", "Irigny"}
        commune = anonymous.get(url("commune", "69266")).json()
        assert commune["postal_codes"] == ["69100"] and commune["department"] == "69"
        areas = anonymous.get(url("priority_areas"), {"commune": "69266"}).json()["results"]
        assert VILLEURBANNE_QPV in {a["code"] for a in areas}
        assert all("69266" in a["communes"] for a in areas)
        assert anonymous.get(url("priority_area", VILLEURBANNE_QPV)).json()["department"] == "69"
        epcis = anonymous.get(url("epcis"), {"department": "69"}).json()["results"]
        assert any(e["kind"] == "MET69" for e in epcis)
        assert anonymous.get(url("department", "13")).json()["region"] == "93"

    def test_territory_errors_are_json_in_french(self):
        anonymous = Api()
        response = anonymous.get(url("commune", "99999"))
        assert response.status_code == 404 and "Aucune commune" in response.json()["detail"]
        response = anonymous.get(url("communes"), {"department": "99"})
        assert response.status_code == 400
        assert "Département inconnu" in response.json()["errors"]["department"][0]

    @pytest.mark.parametrize(
        ("method", "name", "args"),
        [
            ("get", "structures", []),
            ("get", "structure", [uuid.uuid4()]),
            ("post", "structures", []),
            ("patch", "structure", [uuid.uuid4()]),
            ("get", "partners", []),
            ("get", "partner", [uuid.uuid4()]),
        ],
    )
    def test_private_data_answers_401_json_not_a_login_redirect(self, method, name, args):
        client = Client()
        if method == "get":
            response = client.get(url(name, *args))
        else:
            response = getattr(client, method)(url(name, *args), "{}", content_type="application/json")
        assert response.status_code == 401
        assert response["Content-Type"].startswith("application/json")
        assert response["WWW-Authenticate"].startswith("Bearer")
        assert "Authentification requise" in response.json()["detail"]

    def test_openapi_document_and_docs_are_public_and_offline(self):
        client = Client()
        schema = client.get(url("openapi-json"))
        assert schema.status_code == 200
        paths = schema.json()["paths"]
        assert "/api/v1/structures/{structure_id}" in paths and "/api/v1/priority-areas" in paths
        docs = client.get(url("openapi-view"))
        assert docs.status_code == 200
        page = docs.content.decode()
        assert "/static/ninja/swagger-ui-bundle.js" in page and "cdn" not in page.lower()

    def test_bearer_token_then_revoked(self, caf69, registry):
        token, secret = ApiToken.issue(caf69, "script")
        assert Api(token=secret).get(url("structures")).status_code == 200
        token.refresh_from_db()
        assert token.last_used_at is not None
        token.revoke()
        assert Api(token=secret).get(url("structures")).status_code == 401
        assert Api(token="cadre_nimportequoi").get(url("structures")).status_code == 401

    def test_token_of_a_deactivated_user_fails(self, caf69):
        _, secret = ApiToken.issue(caf69, "script")
        caf69.is_active = False
        caf69.save()
        assert Api(token=secret).get(url("structures")).status_code == 401

    def test_browser_session_works(self, caf69, registry):
        assert Api(caf69, session=True).get(url("structures")).status_code == 200

    def test_session_writes_need_the_csrf_token(self, caf69, registry):
        client = Client(enforce_csrf_checks=True)
        client.force_login(caf69)
        structure = registry["villeurbanne"]
        response = client.patch(
            url("structure", structure.uuid), json.dumps({"name": "X"}), content_type="application/json"
        )
        assert response.status_code == 403 and "CSRF" in response.json()["detail"]

    def test_api_token_command_prints_a_working_token(self, caf69):
        out = io.StringIO()
        call_command("api_token", caf69.email, stdout=out)
        secret = out.getvalue().strip()
        assert secret.startswith(ApiToken.PREFIX)
        assert Api(token=secret).get(url("structures")).status_code == 200


class TestScope:
    def test_caf_advisor_of_the_rhone_sees_the_rhone_only(self, caf69, registry):
        expected = {str(registry["villeurbanne"].uuid), str(registry["venissieux"].uuid)}
        assert ids(Api(caf69).get(url("structures"))) == expected

    def test_structure_editor_sees_their_own_only(self, registry):
        editor = member(UserFactory(), registry["villeurbanne"], Role.EDITOR)
        assert ids(Api(editor).get(url("structures"))) == {str(registry["villeurbanne"].uuid)}

    def test_administrator_sees_everything(self, admin, registry):
        assert len(ids(Api(admin).get(url("structures")))) == 3

    def test_out_of_scope_detail_is_404_not_403(self, caf13, registry):
        response = Api(caf13).get(url("structure", registry["villeurbanne"].uuid))
        assert response.status_code == 404
        assert "Aucune structure" in response.json()["detail"]
        assert Api(caf13).get(url("structure", registry["marseille"].uuid)).status_code == 200

    def test_patch_of_invisible_is_404_and_of_read_only_is_403(self, caf13, registry):
        city = PartnerFactory(kind=PartnerKind.COMMUNE, communes=["69266"])
        reader = member(UserFactory(), city, Role.EDITOR)
        structure = registry["villeurbanne"]
        response = Api(reader).patch(url("structure", structure.uuid), {"name": "X"}, **{"If-Match": '"1"'})
        assert response.status_code == 403 and "pas la modifier" in response.json()["detail"]
        response = Api(caf13).patch(url("structure", structure.uuid), {"name": "X"}, **{"If-Match": '"1"'})
        assert response.status_code == 404
        structure.refresh_from_db()
        assert structure.name == "Alpha Villeurbanne"

    def test_malformed_uuid_is_a_400_naming_the_parameter(self, caf69):
        response = Api(caf69).get(url("structure", "pas-un-uuid"))
        assert response.status_code == 400
        assert response.json()["errors"]["structure_id"] == ["Identifiant (UUID) mal formé."]


class TestListFiltersAndPaging:
    @pytest.mark.parametrize(
        "params",
        [
            {"department": "13", "qpv": "yes"},
            {"department": "69"},
            {"region": "84", "kind": "evs"},
            {"qpv": "no", "sort": "-name"},
            {"q": "alpha"},
            {"commune": "Marseille (13055)"},
        ],
    )
    def test_filters_are_those_of_the_web_page(self, client, admin, registry, params):
        client.force_login(admin)
        page = client.get(reverse("structures:list"), params)
        expected = [s.name for s in page.context["page"].object_list]
        response = Api(admin).get(url("structures"), params)
        assert [r["name"] for r in response.json()["results"]] == expected

    def test_department_13_with_qpv(self, admin, registry):
        response = Api(admin).get(url("structures"), {"department": "13", "qpv": "yes"}).json()
        assert response["count"] == 1
        result = response["results"][0]
        assert result["id"] == str(registry["marseille"].uuid)
        assert result["commune"] == MARSEILLE_3E and result["department"] == "13"

    def test_invalid_filter_is_a_400_with_the_form_errors(self, admin, registry):
        response = Api(admin).get(url("structures"), {"department": "99", "qpv": "peut-être"})
        assert response.status_code == 400
        errors = response.json()["errors"]
        assert set(errors) == {"department", "qpv"}
        assert "choix valide" in errors["department"][0]

    def test_pages(self, admin, settings):
        settings.CADRE_PAGE_SIZE = 2
        settings.CADRE_API_MAX_PAGE_SIZE = 3
        StructureFactory.create_batch(5)
        api = Api(admin)
        first = api.get(url("structures")).json()
        assert (first["count"], first["page"], first["page_size"], len(first["results"])) == (5, 1, 2, 2)
        capped = api.get(url("structures"), {"page_size": 500}).json()
        assert capped["page_size"] == 3 and len(capped["results"]) == 3
        last = api.get(url("structures"), {"page": 3}).json()
        assert len(last["results"]) == 1
        seen = [r["id"] for page in (1, 2, 3) for r in api.get(url("structures"), {"page": page}).json()["results"]]
        assert len(set(seen)) == 5

    @pytest.mark.parametrize(
        ("params", "field", "message"),
        [
            ({"page": 0}, "page", "supérieure ou égale à 1"),
            ({"page": "deux"}, "page", "Nombre entier attendu"),
            ({"page_size": "x"}, "page_size", "Nombre entier attendu"),
        ],
    )
    def test_bad_paging_is_a_400_naming_the_parameter(self, admin, params, field, message):
        response = Api(admin).get(url("structures"), params)
        assert response.status_code == 400
        assert message in response.json()["errors"][field][0]

    def test_list_queries_do_not_grow_with_the_number_of_rows(self, admin, settings):
        settings.CADRE_API_MAX_PAGE_SIZE = 200
        federation = PartnerFactory(kind=PartnerKind.FEDERATION)
        areas = list(PriorityArea.objects.filter(communes="69266")[:2])

        def add(count):
            for structure in StructureFactory.create_batch(
                count, federation=federation, priority_area_status=PriorityAreaStatus.IN_AREA
            ):
                structure.priority_areas.set(areas)
                ApprovalFactory(structure=structure)

        api = Api(admin, session=True)
        add(5)
        with CaptureQueriesContext(connection) as small:  # a full page, as below: both count the total
            assert len(api.get(url("structures"), {"page_size": 4}).json()["results"]) == 4
        add(45)
        with CaptureQueriesContext(connection) as large:
            assert len(api.get(url("structures"), {"page_size": 50}).json()["results"]) == 50
        assert len(large) == len(small)

    def test_detail_has_version_etag_and_approvals(self, caf69):
        approval = ApprovalFactory()
        response = Api(caf69).get(url("structure", approval.structure.uuid))
        assert response["ETag"] == '"1"'
        body = response.json()
        assert body["version"] == 1 and body["commune"] == "69266"
        assert body["approvals"] == [
            {
                "id": str(approval.uuid),
                "kind": "social_project",
                "starts": "2024-01-01",
                "ends": "2027-12-31",
                "board_decision_date": None,
                "notes": "",
                "version": 1,
            }
        ]
        assert "pk" not in body and body["id"] == str(approval.structure.uuid)


class TestCreateStructure:
    def test_valid_structure_is_created_with_its_history(self, caf69):
        response = Api(caf69).post(url("structures"), structure_payload())
        assert response.status_code == 201, response.content
        body = response.json()
        structure = Structure.objects.get(uuid=body["id"])
        assert response["Location"] == url("structure", structure.uuid)
        assert response["ETag"] == '"1"'
        assert body["priority_areas"] == [VILLEURBANNE_QPV]
        assert body["project_axes"] == ["Parentalité", "Jeunesse"]
        assert body["commune"] == "69266" and body["department"] == "69"
        record = structure.history.get()
        assert record.history_user == caf69 and record.history_type == "+"
        assert body["rna"] == ""
        assert list(record.priority_areas.values_list("priorityarea_id", flat=True)) == [VILLEURBANNE_QPV]

    def test_the_rna_number_is_stored_normalised_and_unique(self, caf69):
        response = Api(caf69).post(url("structures"), structure_payload(rna=" w 691 012 345 "))
        assert response.status_code == 201, response.content
        assert response.json()["rna"] == "W691012345"
        other = structure_payload(name="Autre centre", siret="", rna="W691012345")
        response = Api(caf69).post(url("structures"), other)
        assert response.status_code == 422
        assert response.json()["errors"] == {
            "rna": ["Ce numéro RNA est déjà celui d'une autre structure du répertoire."]
        }

    @pytest.mark.parametrize(
        ("overrides", "field", "message"),
        [
            ({"siret": BAD_SIRET}, "siret", "SIRET invalide"),
            ({"siret": "1234"}, "siret", "SIRET invalide"),
            ({"rna": "W12345"}, "rna", "Numéro RNA invalide : il faut un W suivi de 9 chiffres"),
            ({"commune": "99999"}, "commune", "Commune inconnue"),
            ({"postal_code": "69003"}, "postal_code", "n'appartient pas à Villeurbanne"),
            ({"priority_areas": ["QN06999Z"]}, "priority_areas", "Code QPV inconnu"),
            ({"priority_areas": ["pas-un-code"]}, "priority_areas", "Code QPV mal formé"),
            ({"priority_areas": [MARSEILLE_QPV]}, "priority_areas", "n'est pas situé sur la commune"),
            ({"priority_areas": []}, "priority_areas", "au moins un QPV"),
            ({"project_axes": ["a", "b", "c", "d", "e", "f"]}, "project_axes", "Au plus 5 axes"),
            ({"federation": str(uuid.uuid4())}, "federation", "Aucune fédération"),
            ({"name": ""}, "name", "ne peut pas être vide"),
            ({"kind": "maison"}, "kind", "Valeur non autorisée"),
            ({"served_population": "beaucoup"}, "served_population", "Nombre entier attendu"),
            ({"first_approval_date": "31/12/2020"}, "first_approval_date", "AAAA-MM-JJ"),
            ({"priority_areas": "QN06921M"}, "priority_areas", "Liste attendue"),
            ({"project_axes": ["ok", 3]}, "project_axes", "Élément n° 2 : texte attendu"),
            ({"multi_site": "peut-être"}, "multi_site", "Booléen attendu"),
            ({"nom": "faute de frappe"}, "nom", "Champ inconnu"),
            ({"version": 3}, "version", "Champ inconnu"),
        ],
    )
    def test_bad_input_names_its_field_in_french_and_saves_nothing(self, caf69, overrides, field, message):
        response = Api(caf69).post(url("structures"), structure_payload(**overrides))
        assert response.status_code == 422, response.content
        body = response.json()
        assert "rien n'a été enregistré" in body["detail"]
        assert message in " ".join(body["errors"][field]), body
        assert not Structure.objects.exists()

    def test_missing_required_fields_are_listed(self, caf69):
        response = Api(caf69).post(url("structures"), {"name": "Sans rien"})
        assert response.status_code == 422
        errors = response.json()["errors"]
        assert {"kind", "management", "commune"} <= set(errors)
        assert errors["commune"] == ["Ce champ est obligatoire."]

    @pytest.mark.parametrize(
        ("body", "status", "field", "message"),
        [
            ('{"name": "Centre", ', 400, "body", None),
            ("", 422, "body", "corps de la requête est vide"),
            ("[1, 2]", 422, "body", "Objet JSON attendu"),
        ],
    )
    def test_malformed_payload(self, caf69, body, status, field, message):
        response = Api(caf69).post(url("structures"), body)
        assert response.status_code == status, response.content
        answer = response.json()
        assert field in answer["errors"]
        if message:
            assert message in answer["errors"][field][0]
        else:
            assert "n'est pas un JSON valide (ligne 1, colonne 20)" in answer["detail"]
            assert answer["errors"]["body"][0].startswith("JSON mal formé")
        assert not Structure.objects.exists()

    def test_structure_staff_cannot_create(self, registry):
        editor = member(UserFactory(), registry["villeurbanne"], Role.EDITOR)
        response = Api(editor).post(url("structures"), structure_payload())
        assert response.status_code == 403 and "réservé" in response.json()["detail"]

    def test_creation_outside_ones_territory_is_refused_and_rolled_back(self, caf69):
        payload = structure_payload(commune=MARSEILLE_3E, postal_code="13003", priority_areas=[MARSEILLE_QPV], siret="")
        response = Api(caf69).post(url("structures"), payload)
        assert response.status_code == 403, response.content
        assert "hors de votre périmètre" in response.json()["detail"]
        assert not Structure.objects.exists()
        assert not Structure.history.exists()

    def test_federation_creates_its_member(self):
        federation = PartnerFactory(kind=PartnerKind.FEDERATION, name="FCS du Rhône")
        staff = member(UserFactory(), federation, Role.EDITOR)
        api = Api(staff)
        assert api.post(url("structures"), structure_payload()).status_code == 403
        response = api.post(url("structures"), structure_payload(federation=str(federation.uuid)))
        assert response.status_code == 201, response.content
        assert response.json()["federation"] == str(federation.uuid)


class TestUpdateStructure:
    def test_patch_with_if_match_changes_only_the_given_fields(self, caf69):
        structure = StructureFactory(name="Ancien nom", phone="04 00 00 00 00")
        api = Api(caf69)
        etag = api.get(url("structure", structure.uuid))["ETag"]
        response = api.patch(url("structure", structure.uuid), {"name": "Nouveau nom"}, **{"If-Match": etag})
        assert response.status_code == 200, response.content
        assert response["ETag"] == '"2"' and response.json()["version"] == 2
        structure.refresh_from_db()
        assert (structure.name, structure.phone, structure.version) == ("Nouveau nom", "04 00 00 00 00", 2)
        record = structure.history.first()
        assert record.history_type == "~" and record.history_user == caf69

    def test_version_may_come_in_the_body(self, caf69):
        structure = StructureFactory()
        response = Api(caf69).patch(url("structure", structure.uuid), {"version": 1, "itinerant": True})
        assert response.status_code == 200 and response.json()["itinerant"] is True

    def test_relations_and_null(self, caf69):
        structure = StructureFactory(served_population=1000)
        response = Api(caf69).patch(
            url("structure", structure.uuid),
            {"priority_area_status": "in_area", "priority_areas": [VILLEURBANNE_QPV], "served_population": None},
            **{"If-Match": '"1"'},
        )
        assert response.status_code == 200, response.content
        assert response.json()["priority_areas"] == [VILLEURBANNE_QPV]
        structure.refresh_from_db()
        assert structure.served_population is None
        record = structure.history.first()
        assert list(record.priority_areas.values_list("priorityarea_id", flat=True)) == [VILLEURBANNE_QPV]

    def test_missing_version_is_a_428(self, caf69):
        structure = StructureFactory()
        response = Api(caf69).patch(url("structure", structure.uuid), {"name": "X"})
        assert response.status_code == 428
        assert "If-Match" in response.json()["detail"]
        structure.refresh_from_db()
        assert structure.name != "X"

    def test_malformed_if_match_is_a_400(self, caf69):
        structure = StructureFactory()
        response = Api(caf69).patch(url("structure", structure.uuid), {"name": "X"}, **{"If-Match": "hier"})
        assert response.status_code == 400 and "If-Match" in response.json()["errors"]

    def test_stale_version_is_a_409_listing_what_changed(self, caf69):
        structure = StructureFactory(name="Les Buers", phone="04 00 00 00 00")
        colleague = member(UserFactory(first_name="Dominique", last_name="Durand"), caf69.memberships.get().partner)
        mine, theirs = Api(caf69), Api(colleague)
        etag = mine.get(url("structure", structure.uuid))["ETag"]
        assert (
            theirs.patch(url("structure", structure.uuid), {"name": "Buers"}, **{"If-Match": etag}).status_code == 200
        )
        response = mine.patch(url("structure", structure.uuid), {"phone": "04 11 11 11 11"}, **{"If-Match": etag})
        assert response.status_code == 409
        body = response.json()
        assert body["current_version"] == 2 and response["ETag"] == '"2"'
        assert "modifiée par quelqu'un d'autre" in body["detail"]
        [change] = body["changes"]
        assert (change["field"], change["your_version"], change["current"]) == ("nom", "Les Buers", "Buers")
        assert change["by"] == "Dominique Durand" and change["at"]
        structure.refresh_from_db()
        assert (structure.name, structure.phone) == ("Buers", "04 00 00 00 00")

    def test_invalid_patch_saves_nothing(self, caf69):
        structure = StructureFactory(name="Les Buers")
        response = Api(caf69).patch(
            url("structure", structure.uuid),
            {"name": "Autre", "siret": BAD_SIRET, "commune": "00000"},
            **{"If-Match": '"1"'},
        )
        assert response.status_code == 422
        assert set(response.json()["errors"]) == {"siret", "commune"}
        structure.refresh_from_db()
        assert (structure.name, structure.version, structure.history.count()) == ("Les Buers", 1, 1)

    def test_moving_a_structure_out_of_ones_scope_is_refused(self, caf69):
        structure = StructureFactory()
        response = Api(caf69).patch(url("structure", structure.uuid), {"commune": MARSEILLE_3E}, **{"If-Match": '"1"'})
        assert response.status_code == 403 and "hors de votre périmètre" in response.json()["detail"]
        structure.refresh_from_db()
        assert (structure.commune_id, structure.version, structure.history.count()) == ("69266", 1, 1)

    def test_history_user_is_the_session_user_too(self, caf69):
        structure = StructureFactory()
        response = Api(caf69, session=True).patch(
            url("structure", structure.uuid), {"email": "accueil@buers.fr"}, **{"If-Match": '"1"'}
        )
        assert response.status_code == 200, response.content
        assert structure.history.first().history_user == caf69


class TestPartners:
    def test_list_detail_and_filters(self, caf69):
        caf13 = PartnerFactory(name="Caf 13", departments=["13"])
        city = PartnerFactory(name="Ville de Villeurbanne", kind=PartnerKind.COMMUNE, communes=["69266"])
        api = Api(caf69)
        assert {r["name"] for r in api.get(url("partners")).json()["results"]} == {
            "Caf du Rhône",
            "Caf 13",
            "Ville de Villeurbanne",
        }
        assert [r["name"] for r in api.get(url("partners"), {"department": "13"}).json()["results"]] == ["Caf 13"]
        response = api.get(url("partner", city.uuid))
        assert response["ETag"] == '"1"'
        assert response.json()["communes"] == ["69266"] and response.json()["departments"] == []
        assert api.get(url("partner", caf13.uuid)).json()["departments"] == ["13"]
        assert api.get(url("partner", uuid.uuid4())).status_code == 404

    def test_only_administrators_create(self, caf69, admin):
        payload = {"name": "Métropole de Lyon", "kind": "metropolis", "departments": ["69"], "communes": ["13203"]}
        assert Api(caf69).post(url("partners"), payload).status_code == 403
        response = Api(admin).post(url("partners"), payload)
        assert response.status_code == 201, response.content
        partner = Partner.objects.get(uuid=response.json()["id"])
        assert [d.code for d in partner.departments.all()] == ["69"]
        assert partner.history.get().history_user == admin

    @pytest.mark.parametrize(
        ("overrides", "field", "message"),
        [
            ({"departments": ["69", "99"]}, "departments", "Code de département inconnu : 99"),
            ({"communes": ["99999"]}, "communes", "Code INSEE de commune inconnu : 99999"),
            ({"siret": BAD_SIRET}, "siret", "SIRET invalide"),
            ({"kind": "banque"}, "kind", "Valeur non autorisée"),
        ],
    )
    def test_bad_partner_input(self, admin, overrides, field, message):
        payload = {"name": "Nouveau", "kind": "caf", **overrides}
        response = Api(admin).post(url("partners"), payload)
        assert response.status_code == 422
        assert message in response.json()["errors"][field][0]
        assert not Partner.objects.filter(name="Nouveau").exists()

    def test_managers_patch_their_partner_editors_do_not(self, caf69):
        partner = caf69.memberships.get().partner
        manager = member(UserFactory(), partner, Role.MANAGER)
        response = Api(caf69).patch(url("partner", partner.uuid), {"phone": "04"}, **{"If-Match": '"1"'})
        assert response.status_code == 403
        response = Api(manager).patch(
            url("partner", partner.uuid), {"communes": ["13203"], "short_name": "Caf 69"}, **{"If-Match": '"1"'}
        )
        assert response.status_code == 200, response.content
        assert response.json()["communes"] == ["13203"] and response.json()["departments"] == ["69"]
        assert partner.history.first().history_user == manager
        assert Api(manager).patch(url("partner", partner.uuid), {"phone": "04"}).status_code == 428
        stale = Api(manager).patch(url("partner", partner.uuid), {"phone": "04"}, **{"If-Match": '"1"'})
        assert stale.status_code == 409
        assert {c["field"] for c in stale.json()["changes"]} >= {"sigle", "communes couvertes"}


def test_api_root_points_to_the_documentation():
    response = Client().get("/api/v1/")
    assert response.status_code == 200
    assert response.json()["documentation"] == url("openapi-view")


def test_openapi_document_is_built_once_per_process():
    from cadre.api.api import api

    first = Client().get(url("openapi-json")).json()
    assert api.get_openapi_schema(path_prefix="/api/v1/") is api.get_openapi_schema(path_prefix="/api/v1/")
    assert Client().get(url("openapi-json")).json() == first


def test_length_errors_agree_with_their_number():
    from cadre.api.errors import french_message

    def message(kind, **ctx):
        return french_message({"type": kind, "ctx": ctx, "msg": ""})

    assert message("string_too_short", min_length=1) == "Au moins 1 caractère."
    assert message("string_too_short", min_length=3) == "Au moins 3 caractères."
    assert message("string_too_long", max_length=100) == "Au plus 100 caractères."
    assert message("too_short", min_length=1) == "Au moins 1 élément."
    assert message("too_long", max_length=12) == "Au plus 12 éléments."
    assert message("greater_than_equal", ge=0) == "La valeur doit être supérieure ou égale à 0."
