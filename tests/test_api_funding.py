"""REST API v1, funding writes: a line created and changed as the web form does, payments through
record_payment; amounts as text with their cents, French messages at the field at fault, nothing
saved on error, versions and conflicts as for the other writes."""

import datetime
import json
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db.models import F

from cadre.accounts.models import Role, User
from cadre.agreements.models import Agreement, AgreementKind, Signatory
from cadre.funding import actions
from cadre.funding.models import FundingLine, FundingScheme, Payment, PaymentKind, format_euros
from cadre.funding.schemes import load_default_schemes
from cadre.partners.models import PartnerKind
from cadre.territories.models import Commune
from tests.factories import MARSEILLE_3E, VILLEURBANNE, PartnerFactory, StructureFactory, UserFactory, member
from tests.test_api import Api, url

pytestmark = pytest.mark.django_db

D = Decimal
V1, V2 = {"If-Match": '"1"'}, {"If-Match": '"2"'}


@pytest.fixture
def schemes():
    load_default_schemes()
    return {s.code: s for s in FundingScheme.objects.all()}


@pytest.fixture
def caf():
    return PartnerFactory(name="Caf du Rhône", kind=PartnerKind.CAF, departments=["69"])


@pytest.fixture
def caf69(caf):
    return member(UserFactory(email="conseillere@caf69.fr"), caf, Role.EDITOR)


@pytest.fixture
def city():
    return PartnerFactory(name="Ville de Villeurbanne", kind=PartnerKind.COMMUNE, communes=[VILLEURBANNE])


@pytest.fixture
def structure():
    return StructureFactory(name="Centre social Les Buers")


@pytest.fixture
def line(schemes, caf, structure):
    """A voted project subsidy of the Caf (no document owed for its balance)."""
    return FundingLine.objects.create(
        structure=structure,
        partner=caf,
        scheme=schemes["subvention-projet"],
        year=2025,
        forecast=D("10000.00"),
        voted=D("10000.00"),
        decision_reference="CA-2025-12",
        decision_date=datetime.date(2025, 2, 10),
    )


def line_payload(structure, funder, **overrides):
    data = {
        "structure": str(structure.uuid),
        "partner": str(funder.uuid),
        "scheme": "subvention-projet",
        "year": 2025,
        "forecast": "12000.00",
        "voted": "12500.50",
        "decision_reference": "CA-2025-12",
        "decision_date": "2025-02-10",
    }
    data.update(overrides)
    return data


def payment(**overrides):
    return {"kind": "advance", "amount": "4000.00", "paid_on": "2025-03-01", "reference": "MDT-1", **overrides}


def errors_of(response, status=422):
    assert response.status_code == status, response.content
    body = response.json()
    assert "rien n'a été enregistré" in body["detail"]
    return body["errors"]


class TestCreateLine:
    def test_a_valid_line_is_created_with_its_history(self, schemes, caf, caf69, structure):
        response = Api(caf69).post(url("funding_lines"), line_payload(structure, caf))
        assert response.status_code == 201, response.content
        body = response.json()
        line = FundingLine.objects.get(uuid=body["id"])
        assert response["Location"] == url("funding_line", line.uuid)
        assert response["ETag"] == '"1"' and body["version"] == 1
        assert (line.structure, line.partner, line.scheme.code, line.year) == (
            structure,
            caf,
            "subvention-projet",
            2025,
        )
        assert (line.forecast, line.voted, line.decision_date) == (
            D("12000"),
            D("12500.50"),
            datetime.date(2025, 2, 10),
        )
        assert body["forecast"] == "12000.00" and body["voted"] == "12500.50" and body["paid"] == "0.00"
        assert body["eligible_expenses"] is None and body["payments"] == []
        record = line.history.get()
        assert record.history_user == caf69 and record.history_type == "+"

    def test_the_scheme_may_be_given_by_its_id_and_an_agreement_the_structure_is_party_to(
        self, schemes, caf, caf69, structure
    ):
        agreement = Agreement.objects.create(
            kind=AgreementKind.STRUCTURE,
            title="Convention d'objectifs des Buers",
            starts=datetime.date(2024, 1, 1),
            ends=datetime.date(2027, 12, 31),
        )
        Signatory.objects.create(agreement=agreement, structure=structure)
        Signatory.objects.create(agreement=agreement, partner=caf)
        scheme = schemes["subvention-convention-cadre"]
        payload = line_payload(structure, caf, scheme=str(scheme.uuid), agreement=str(agreement.uuid))
        response = Api(caf69).post(url("funding_lines"), payload)
        assert response.status_code == 201, response.content
        assert response.json()["scheme"] == "subvention-convention-cadre"
        assert response.json()["agreement"] == str(agreement.uuid)
        other = StructureFactory(name="Autre centre")
        response = Api(caf69).post(url("funding_lines"), {**payload, "structure": str(other.uuid)})
        assert "n'est pas partie à la convention" in errors_of(response)["agreement"][0]

    def test_a_partner_the_user_does_not_belong_to_is_403(self, schemes, city, caf69, structure):
        response = Api(caf69).post(url("funding_lines"), line_payload(structure, city))
        assert response.status_code == 403, response.content
        assert "Ville de Villeurbanne" in response.json()["detail"]
        assert not FundingLine.objects.exists()

    def test_a_structure_out_of_scope_is_404(self, schemes, caf, caf69):
        marseille = StructureFactory(commune=Commune.objects.get(code=MARSEILLE_3E))
        response = Api(caf69).post(url("funding_lines"), line_payload(marseille, caf))
        assert response.status_code == 404
        assert response.json()["detail"] == "Aucune structure avec cet identifiant dans votre périmètre."
        assert not FundingLine.objects.exists()

    @pytest.mark.parametrize(
        ("field", "value", "message"),
        [
            ("voted", "-5", "supérieure ou égale à 0"),
            ("voted", 12500.5, 'Montant attendu en texte, avec ses centimes : "12500.50" et non 12500.5'),
            ("forecast", 12000, 'Montant attendu en texte, avec ses centimes : "12000.00" et non 12000'),
            ("voted", "12,5", "Montant mal écrit : « 12,5 »"),
            ("voted", "1 000", "Montant mal écrit"),
            ("voted", "12.345", "pas plus de 2 chiffres après la virgule"),
            ("forecast", "1e5", "Montant mal écrit"),
            ("forecast", "", "Montant vide"),
            ("eligible_expenses", "1234567890123", "pas plus de 12 chiffres au total"),
            ("eligible_expenses", True, 'Montant attendu en texte avec ses centimes, par exemple "1234.50"'),
        ],
    )
    def test_a_bad_amount_names_its_field_and_saves_nothing(
        self, schemes, caf, caf69, structure, field, value, message
    ):
        response = Api(caf69).post(url("funding_lines"), line_payload(structure, caf, **{field: value}))
        errors = errors_of(response)
        assert list(errors) == [field] and len(errors[field]) == 1, errors
        assert message in errors[field][0], errors
        assert not FundingLine.objects.exists()

    @pytest.mark.parametrize(
        ("overrides", "field", "message"),
        [
            ({"voted": None}, "voted", "Une décision porte sur un montant : saisissez le montant voté."),
            ({"scheme": "ps-animation-globale"}, "partner", "est versé par un partenaire de type Caf"),
            ({"scheme": "inconnu"}, "scheme", "Dispositif inconnu : « inconnu »"),
            ({"year": 1999}, "year", "supérieure ou égale à 2000"),
            ({"year": "an prochain"}, "year", "Nombre entier attendu"),
            ({"decision_date": "10/02/2025"}, "decision_date", "AAAA-MM-JJ"),
            ({"decision_reference": "x" * 101}, "decision_reference", "100 caractères"),
            ({"partner": "5b0c3f5e-0000-4000-8000-000000000000"}, "partner", "Aucun partenaire"),
            ({"montant": "1"}, "montant", "Champ inconnu"),
            ({"version": 1}, "version", "Champ inconnu"),
        ],
    )
    def test_the_rules_of_the_web_form_apply(self, schemes, city, structure, overrides, field, message):
        officer = member(UserFactory(), city, Role.EDITOR)
        response = Api(officer).post(url("funding_lines"), line_payload(structure, city, **overrides))
        errors = errors_of(response)
        assert message in " ".join(errors[field]), errors
        assert not FundingLine.objects.exists()

    def test_the_same_line_twice_is_refused(self, caf, caf69, structure, line):
        response = Api(caf69).post(url("funding_lines"), line_payload(structure, caf))
        assert "déjà une ligne de ce dispositif" in errors_of(response)["__all__"][0]
        assert FundingLine.objects.count() == 1

    def test_the_same_line_created_meanwhile_is_a_422_not_a_500(self, monkeypatch, caf, caf69, structure, line):
        # Both requests passed the model's check before either saved: the database's constraint decides.
        original, calls = FundingLine.validate_constraints, []

        def late_check(instance, exclude=None):
            calls.append(instance)
            if len(calls) > 1:
                original(instance, exclude=exclude)

        monkeypatch.setattr(FundingLine, "validate_constraints", late_check)
        response = Api(caf69).post(url("funding_lines"), line_payload(structure, caf))
        assert "déjà une ligne de ce dispositif" in errors_of(response)["__all__"][0]
        assert FundingLine.objects.count() == 1 and line.history.count() == 1

    def test_missing_fields_are_listed(self, caf69):
        errors = errors_of(Api(caf69).post(url("funding_lines"), {"voted": "10.00"}))
        assert {"structure", "partner", "scheme", "year"} <= set(errors)


class TestUpdateLine:
    def test_patch_with_if_match_changes_the_given_fields(self, caf69, line):
        api = Api(caf69)
        read = api.get(url("funding_line", line.uuid))
        assert read["ETag"] == '"1"' and read.json()["version"] == 1
        response = api.patch(
            url("funding_line", line.uuid), {"voted": "11000.50", "decision_reference": "CA-2025-13"}, **V1
        )
        assert response.status_code == 200, response.content
        assert response["ETag"] == '"2"' and response.json()["voted"] == "11000.50"
        line.refresh_from_db()
        assert (line.voted, line.forecast, line.decision_reference, line.version) == (
            D("11000.50"),
            D("10000"),
            "CA-2025-13",
            2,
        )
        record = line.history.first()
        assert record.history_type == "~" and record.history_user == caf69

    def test_the_version_may_come_in_the_body_and_null_empties(self, caf69, line):
        response = Api(caf69).patch(url("funding_line", line.uuid), {"version": 1, "forecast": None})
        assert response.status_code == 200, response.content
        assert response.json()["forecast"] is None

    def test_missing_version_is_a_428(self, caf69, line):
        response = Api(caf69).patch(url("funding_line", line.uuid), {"voted": "9000.00"})
        assert response.status_code == 428
        assert "If-Match" in response.json()["detail"]
        line.refresh_from_db()
        assert (line.voted, line.version) == (D("10000"), 1)

    def test_stale_version_is_a_409_listing_what_changed(self, caf, caf69, line):
        colleague = member(UserFactory(first_name="Dominique", last_name="Durand"), caf, Role.EDITOR)
        assert Api(colleague).patch(url("funding_line", line.uuid), {"voted": "9500.00"}, **V1).status_code == 200
        response = Api(caf69).patch(url("funding_line", line.uuid), {"voted": "8000.00"}, **V1)
        assert response.status_code == 409, response.content
        body = response.json()
        assert body["current_version"] == 2 and response["ETag"] == '"2"'
        [change] = body["changes"]
        assert change["field"] == "montant voté (€)" and change["by"] == "Dominique Durand"
        line.refresh_from_db()
        assert line.voted == D("9500.00")

    def test_bad_input_saves_nothing(self, caf69, line):
        response = Api(caf69).patch(
            url("funding_line", line.uuid), {"voted": 9000.5, "forecast": "-1", "year": 2026}, **V1
        )
        assert errors_of(response)["year"] == ["Champ inconnu ou en lecture seule."]  # types first
        response = Api(caf69).patch(url("funding_line", line.uuid), {"voted": 9000.5, "forecast": "-1"}, **V1)
        errors = errors_of(response)
        assert set(errors) == {"voted", "forecast"}
        assert "Montant attendu en texte" in errors["voted"][0]
        line.refresh_from_db()
        assert (line.voted, line.forecast, line.version, line.history.count()) == (D("10000"), D("10000"), 1, 1)

    def test_the_vote_cannot_drop_below_what_is_paid(self, caf69, line):
        actions.record_payment(
            line, actor=None, kind=PaymentKind.ADVANCE, amount=D("6000"), paid_on=datetime.date(2025, 3, 1)
        )
        response = Api(caf69).patch(url("funding_line", line.uuid), {"voted": "5000.00"}, **V1)
        assert "Déjà 6\u202f000,00\u00a0€ versés" in errors_of(response)["voted"][0]
        line.refresh_from_db()
        assert line.voted == D("10000")

    def test_another_funder_s_line_is_404(self, line):
        caf13 = PartnerFactory(kind=PartnerKind.CAF, departments=["13"])
        advisor = member(UserFactory(), caf13, Role.EDITOR)
        response = Api(advisor).patch(url("funding_line", line.uuid), {"voted": "1.00"}, **V1)
        assert response.status_code == 404


class TestPayments:
    def test_a_payment_is_recorded_and_the_paid_total_follows(self, caf69, line):
        api = Api(caf69)
        response = api.post(url("funding_line_payments", line.uuid), payment(amount="4000.5"))
        assert response.status_code == 201, response.content
        body = response.json()
        assert body["payment"]["amount"] == "4000.50" and body["payment"]["kind"] == "advance"
        assert (body["line"], body["voted"], body["paid"], body["left_to_pay"]) == (
            str(line.uuid),
            "10000.00",
            "4000.50",
            "5999.50",
        )
        assert response["ETag"] == '"1"'  # a payment does not change the line's version
        stored = Payment.objects.get(uuid=body["payment"]["id"])
        assert (stored.amount, stored.reference, stored.history.get().history_user) == (D("4000.50"), "MDT-1", caf69)
        response = api.post(url("funding_line_payments", line.uuid), payment(kind="balance", amount="5999.50"))
        assert response.status_code == 201, response.content
        assert response.json()["paid"] == "10000.00" and response.json()["left_to_pay"] == "0.00"
        detail = api.get(url("funding_line", line.uuid)).json()
        assert detail["paid"] == "10000.00"
        assert [p["amount"] for p in detail["payments"]] == ["4000.50", "5999.50"]

    def test_a_payment_above_the_vote_is_refused_in_french(self, caf69, line):
        actions.record_payment(
            line, actor=None, kind=PaymentKind.ADVANCE, amount=D("6000"), paid_on=datetime.date(2025, 3, 1)
        )
        response = Api(caf69).post(
            url("funding_line_payments", line.uuid), payment(kind="instalment", amount="4000.01")
        )
        assert errors_of(response)["amount"] == [
            f"Ce versement dépasse le montant voté ({format_euros(D('10000'))}) : "
            f"il reste {format_euros(D('4000'))} à verser."
        ]
        assert line.payments.count() == 1

    def test_the_balance_waits_for_the_documents(self, schemes, caf, caf69, structure):
        line = FundingLine.objects.create(
            structure=structure,
            partner=caf,
            scheme=schemes["ps-animation-globale"],
            year=2025,
            eligible_expenses=D("70000"),
            voted=D("29680.00"),
            decision_reference="CAF-2025-4",
            decision_date=datetime.date(2025, 1, 20),
        )
        api = Api(caf69)
        response = api.post(url("funding_line_payments", line.uuid), payment(kind="balance", amount="29680.00"))
        message = errors_of(response)["kind"][0]
        assert message.startswith("Le solde attend des pièces acceptées :") and "2025" in message
        assert not line.payments.exists()
        director = member(UserFactory(), structure, Role.EDITOR)
        for required in line.scheme.required_documents.filter(blocks_balance=True):
            document = actions.deposit(
                structure, required, 2025, SimpleUploadedFile("piece.pdf", b"%PDF-1.4 test"), actor=director
            )
            actions.review(document, actor=caf69, accept=True)
        response = api.post(url("funding_line_payments", line.uuid), payment(kind="balance", amount="29680.00"))
        assert response.status_code == 201, response.content
        assert response.json()["paid"] == "29680.00"

    @pytest.mark.parametrize(
        ("overrides", "field", "message"),
        [
            ({"amount": 4000.5}, "amount", 'Montant attendu en texte, avec ses centimes : "4000.50" et non 4000.5'),
            ({"amount": "4000,50"}, "amount", "Montant mal écrit"),
            ({"amount": "40.505"}, "amount", "pas plus de 2 chiffres après la virgule"),
            ({"amount": "-10.00"}, "amount", "supérieure ou égale à 0.01"),
            ({"amount": None}, "amount", "Indiquez le montant"),
            ({"kind": "avance"}, "kind", "Valeur non autorisée"),
            ({"paid_on": "2025-02-01"}, "paid_on", "Un versement suit la décision du 10/02/2025."),
            ({"paid_on": None}, "paid_on", "Date attendue"),
            ({"reference": "x" * 101}, "reference", "100 caractères"),
        ],
    )
    def test_bad_payment_input_names_its_field_and_saves_nothing(self, caf69, line, overrides, field, message):
        response = Api(caf69).post(url("funding_line_payments", line.uuid), payment(**overrides))
        errors = errors_of(response)
        assert message in " ".join(errors[field]), errors
        assert not Payment.objects.exists()

    def test_a_line_without_a_vote_takes_no_payment(self, schemes, caf, caf69, structure):
        line = FundingLine.objects.create(
            structure=structure, partner=caf, scheme=schemes["subvention-projet"], year=2026, forecast=D("3000")
        )
        response = Api(caf69).post(url("funding_line_payments", line.uuid), payment())
        assert errors_of(response)["__all__"] == [
            "Aucun montant n'est voté pour cette ligne : un versement suit une décision."
        ]
        assert not Payment.objects.exists()

    def test_if_match_refuses_a_payment_on_a_line_changed_meanwhile(self, caf69, line):
        api = Api(caf69)
        assert api.patch(url("funding_line", line.uuid), {"voted": "5000.00"}, **V1).status_code == 200
        response = api.post(url("funding_line_payments", line.uuid), payment(amount="1000.00"), **V1)
        assert response.status_code == 409, response.content
        assert response.json()["current_version"] == 2 and response["ETag"] == '"2"'
        assert not Payment.objects.exists()
        response = api.post(url("funding_line_payments", line.uuid), payment(amount="1000.00"), **V2)
        assert response.status_code == 201, response.content
        assert api.post(url("funding_line_payments", line.uuid), payment(), **{"If-Match": "hier"}).status_code == 400

    def test_a_float_sent_as_raw_json_is_refused(self, caf69, line):
        body = '{"kind": "advance", "amount": 0.1, "paid_on": "2025-03-01"}'
        response = Api(caf69).post(url("funding_line_payments", line.uuid), body)
        assert "et non 0.1" in errors_of(response)["amount"][0]
        assert not Payment.objects.exists()


class TestWhoMayWrite:
    @pytest.fixture
    def viewer(self, caf):
        return member(UserFactory(), caf, Role.VIEWER)

    @pytest.fixture
    def director(self, structure):
        return member(UserFactory(), structure, Role.EDITOR)

    @pytest.mark.parametrize("who", ["viewer", "director"])
    def test_readers_of_the_line_cannot_write(self, request, schemes, caf, structure, line, who):
        user = request.getfixturevalue(who)
        api = Api(user)
        assert api.get(url("funding_line", line.uuid)).status_code == 200  # they do see it
        response = api.post(url("funding_lines"), line_payload(structure, caf, year=2026))
        assert response.status_code == 403 and "réservé à ses contributeurs" in response.json()["detail"]
        response = api.patch(url("funding_line", line.uuid), {"voted": "1.00"}, **V1)
        assert response.status_code == 403 and "pas la modifier" in response.json()["detail"]
        response = api.post(url("funding_line_payments", line.uuid), payment())
        assert response.status_code == 403 and "pas y enregistrer de versement" in response.json()["detail"]
        assert FundingLine.objects.count() == 1 and not Payment.objects.exists()
        line.refresh_from_db()
        assert line.version == 1

    def test_anonymous_is_401(self, line):
        assert Api().post(url("funding_line_payments", line.uuid), payment()).status_code == 401
        assert Api().patch(url("funding_line", line.uuid), {"voted": "1.00"}).status_code == 401

    def test_an_administrator_writes_for_any_funder(self, schemes, city, structure):
        admin = UserFactory(is_superuser=True)
        response = Api(admin).post(url("funding_lines"), line_payload(structure, city))
        assert response.status_code == 201, response.content
        assert FundingLine.objects.get().history.get().history_user == admin

    def test_the_session_user_is_in_the_history_too(self, caf69, line):
        response = Api(caf69, session=True).patch(url("funding_line", line.uuid), {"voted": "9000.00"}, **V1)
        assert response.status_code == 200, response.content
        assert line.history.first().history_user == caf69

    def test_the_openapi_document_shows_amounts_as_text(self):
        document = json.loads(Api().get(url("openapi-json")).content)
        payment_in = document["components"]["schemas"]["PaymentIn"]["properties"]["amount"]
        assert payment_in["type"] == "string" and payment_in["examples"] == ["1234.50"]
        assert "post" in document["paths"]["/api/v1/funding-lines/{line_id}/payments"]
        assert {"get", "post"} <= set(document["paths"]["/api/v1/funding-lines"])


# On the demo (last: its module-wide data would be seen by the tests above): each role of the demo cast
# records a payment on a Caf du Rhône line of structure A, with a valid body.

DEMO_ROLES = {
    "structure_a": ("STRUCTURE_A", 403),
    "structure_b": ("STRUCTURE_B", 404),
    "caf69": ("CAF69", 201),
    "caf13": ("CAF13", 404),
    "city": ("CITY_VILLEURBANNE", 404),
    "federation69": ("FEDERATION69", 404),
    "admin": ("ADMIN", 201),
}


@pytest.mark.parametrize("role", sorted(DEMO_ROLES))
def test_a_payment_as_each_role_of_the_demo(demo, role):
    from cadre.demo import cast
    from cadre.funding.queries import with_paid
    from cadre.structures.models import Structure

    attribute, expected = DEMO_ROLES[role]
    a = Structure.objects.get(memberships__user__email=cast.STRUCTURE_A)
    line = (
        with_paid(FundingLine.objects.filter(structure=a, partner__memberships__user__email=cast.CAF69))
        .filter(voted__isnull=False, paid_total__lt=F("voted"))
        .exclude(payments__kind=PaymentKind.BALANCE)
        .order_by("-year")
        .first()
    )
    paid_on = line.decision_date or datetime.date(line.year, 1, 1)
    before = line.payments.count()
    api = Api(User.objects.get(email=getattr(cast, attribute)))
    response = api.post(
        url("funding_line_payments", line.uuid), payment(kind="instalment", amount="0.01", paid_on=paid_on.isoformat())
    )
    assert response.status_code == expected, response.content
    assert line.payments.count() == before + (expected == 201)
