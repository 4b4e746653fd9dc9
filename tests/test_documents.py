"""Documents owed: checked uploads, review with a reason, the balance that waits for them, due dates."""

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings
from django.urls import reverse

from cadre.accounts.models import Role
from cadre.core.uploads import clean_name, weight
from cadre.funding import actions
from cadre.funding.models import (
    Document,
    DocumentKind,
    DocumentStatus,
    FundingLine,
    FundingScheme,
    PaymentKind,
    RequiredDocument,
    documents_owed,
)
from cadre.funding.schemes import load_default_schemes
from cadre.partners.models import PartnerKind
from tests.factories import VILLEURBANNE, PartnerFactory, StructureFactory, UserFactory, member

pytestmark = pytest.mark.django_db
PDF = b"%PDF-1.4\n1 0 obj << >> endobj\n%%EOF\n"


@pytest.fixture
def world():
    load_default_schemes()
    city = PartnerFactory(name="Ville de Villeurbanne", kind=PartnerKind.COMMUNE, communes=[VILLEURBANNE])
    structure = StructureFactory()
    scheme = FundingScheme.objects.get(code="subvention-convention-cadre")
    line = FundingLine.objects.create(
        structure=structure,
        partner=city,
        scheme=scheme,
        year=2025,
        voted=Decimal("10000"),
        decision_reference="DEL-1",
        decision_date=datetime.date(2025, 2, 1),
    )
    actions.record_payment(
        line, actor=None, kind=PaymentKind.ADVANCE, amount=Decimal("6000"), paid_on=datetime.date(2025, 3, 1)
    )
    accounts = scheme.required_documents.get(kind=DocumentKind.ANNUAL_ACCOUNTS)
    return {"city": city, "structure": structure, "line": line, "accounts": accounts}


class TestUploads:
    def deposit(self, world, name, content):
        return actions.deposit(
            world["structure"], world["accounts"], 2025, SimpleUploadedFile(name, content), actor=None
        )

    def test_allowed_types_are_checked_by_name_and_by_content(self, world):
        with pytest.raises(ValidationError, match="Type de fichier refusé"):
            self.deposit(world, "comptes.exe", b"MZ\x90\x00")
        with pytest.raises(ValidationError, match="pas un vrai fichier PDF"):
            self.deposit(world, "comptes.pdf", b"<html>pas un pdf</html>")
        with pytest.raises(ValidationError, match="vide"):
            self.deposit(world, "comptes.pdf", b"")
        with override_settings(CADRE_DOCUMENT_MAX_BYTES=1024), pytest.raises(ValidationError) as error:
            self.deposit(world, "comptes.pdf", PDF + b"0" * 2048)
        assert error.value.messages == ["Fichier trop lourd (2 Ko) : au plus 1 Ko."]
        assert weight(10 * 1024 * 1024) == "10 Mo" and weight(2_621_440) == "2,5 Mo"
        assert not Document.objects.exists()
        document = self.deposit(world, "../../etc/Comptes 2025 <signés>.pdf", PDF)
        assert document.file_name == "Comptes 2025 _signés_.pdf"
        assert bytes(document.content) == PDF and document.size == len(PDF)

    def test_names_lose_their_folders_and_odd_characters(self):
        assert clean_name("C:\\Users\\moi\\bilan;rm -rf.pdf") == "bilan_rm -rf.pdf"
        assert len(clean_name("a" * 300 + ".pdf")) == 150


class TestBalance:
    def test_the_balance_waits_for_the_accepted_documents(self, world):
        line = world["line"]
        with pytest.raises(ValidationError) as error:
            actions.record_payment(
                line, actor=None, kind=PaymentKind.BALANCE, amount=Decimal("4000"), paid_on=datetime.date(2026, 9, 1)
            )
        assert error.value.message_dict["kind"] == ["Le solde attend des pièces acceptées : Comptes annuels 2025."]
        document = actions.deposit(
            world["structure"], world["accounts"], 2025, SimpleUploadedFile("comptes.pdf", PDF), actor=None
        )
        with pytest.raises(ValidationError, match="Dites pourquoi"):
            actions.review(document, actor=None, accept=False)
        actions.review(document, actor=None, accept=False, reason="Non signés.")
        with pytest.raises(ValidationError, match="Comptes annuels 2025"):
            actions.record_payment(
                line, actor=None, kind=PaymentKind.BALANCE, amount=Decimal("4000"), paid_on=datetime.date(2026, 9, 1)
            )
        again = actions.deposit(
            world["structure"], world["accounts"], 2025, SimpleUploadedFile("comptes-signes.pdf", PDF), actor=None
        )
        actions.review(again, actor=None, accept=True)
        with pytest.raises(ValidationError, match="déjà été examinée"):
            actions.review(again, actor=None, accept=False, reason="x")
        actions.record_payment(
            line, actor=None, kind=PaymentKind.BALANCE, amount=Decimal("4000"), paid_on=datetime.date(2026, 9, 1)
        )
        assert line.paid() == Decimal("10000.00")

    def test_a_scheme_can_pay_its_balance_without_documents(self, world):
        FundingScheme.objects.filter(pk=world["line"].scheme_id).update(balance_requires_documents=False)
        line = FundingLine.objects.get(pk=world["line"].pk)
        actions.record_payment(
            line, actor=None, kind=PaymentKind.BALANCE, amount=Decimal("4000"), paid_on=datetime.date(2026, 9, 1)
        )


class TestOwed:
    def test_due_dates_and_states(self, world):
        accounts = world["accounts"]
        assert accounts.due_on(2025) == datetime.date(2026, 6, 30)
        february = RequiredDocument(scheme=accounts.scheme, kind=DocumentKind.OTHER, due_month=2, due_day=30)
        assert february.due_on(2024) == datetime.date(2024, 2, 29)
        owed = {o.required.kind: o for o in documents_owed(world["structure"], [2025], today=datetime.date(2026, 7, 1))}
        assert owed[DocumentKind.ANNUAL_ACCOUNTS].state == "overdue"
        assert owed[DocumentKind.OBSERVATORY].state == "overdue"  # due 30 April 2026
        early = documents_owed(world["structure"], [2025], today=datetime.date(2026, 1, 1))
        assert {o.state for o in early} == {"missing"}


class TestPages:
    def test_a_structure_deposits_and_its_funder_refuses_with_a_reason(self, client, world):
        structure, city = world["structure"], world["city"]
        director = member(UserFactory(), structure, Role.EDITOR)
        officer = member(UserFactory(), city, Role.EDITOR)
        client.force_login(director)
        url = reverse("funding:documents", args=[structure.uuid])
        key = f"{world['accounts'].pk}-2025"
        response = client.post(url, {"owed": key, "file": SimpleUploadedFile("comptes.txt", b"texte")})
        assert response.status_code == 200
        assert "Type de fichier refusé" in response.context["form"].errors["file"][0]
        assert not Document.objects.exists()
        assert client.post(url, {"owed": key, "file": SimpleUploadedFile("comptes.pdf", PDF)}).status_code == 302
        document = Document.objects.get()
        other = member(UserFactory(), StructureFactory(), Role.EDITOR)
        client.force_login(other)
        assert client.get(reverse("funding:document", args=[document.uuid])).status_code == 404
        client.force_login(officer)
        download = client.get(reverse("funding:document", args=[document.uuid]))
        assert download.status_code == 200 and download.content == PDF
        assert download["Content-Disposition"].startswith("attachment")
        review = reverse("funding:document_review", args=[document.uuid])
        client.post(review, {"decision": "reject", "reason": ""})
        assert Document.objects.get().status == DocumentStatus.SUBMITTED  # a refusal says why
        client.post(review, {"decision": "reject", "reason": "Il manque la signature."})
        client.force_login(director)
        page = client.get(url).content.decode()
        assert "Il manque la signature." in page
        overdue = client.get(reverse("funding:overdue")).content.decode()
        assert structure.name in overdue  # the observatory questionnaire 2025 was due by 30 April 2026


def test_the_administrator_sets_the_documents_a_scheme_requires(client, world):
    admin = UserFactory(is_superuser=True)
    client.force_login(admin)
    scheme = world["line"].scheme
    url = reverse("funding:scheme_document", args=[scheme.uuid])
    bad = client.post(url, {"kind": "other", "label": "Attestation", "due_month": "2", "due_day": "30"})
    assert bad.context["document_form"].errors["due_day"] == ["Ce jour n'existe pas dans ce mois."]
    client.post(
        url, {"kind": "other", "label": "Attestation URSSAF", "due_month": "3", "due_day": "31", "blocks_balance": "on"}
    )
    required = scheme.required_documents.get(label="Attestation URSSAF")
    assert required.due_on(2025) == datetime.date(2025, 3, 31) and required.blocks_balance
    accounts = world["accounts"]
    actions.deposit(world["structure"], accounts, 2025, SimpleUploadedFile("c.pdf", PDF), actor=None)
    client.post(url, {"supprimer": str(accounts.uuid)})
    assert RequiredDocument.objects.filter(pk=accounts.pk).exists()  # deposits rest on it
    client.post(url, {"supprimer": str(required.uuid)})
    assert not RequiredDocument.objects.filter(pk=required.pk).exists()


class TestWhatAWalkMet:
    """The upload form proposes the most urgent document; the observatory questionnaire is answered by
    the validated questionnaire in Cadre; the calendar shows what is overdue."""

    def validated_questionnaire(self, structure, year):
        from cadre.observatory.models import Campaign, Questionnaire, Submission, SubmissionStatus

        questionnaire = Questionnaire.objects.create(code="essai", version=1, title="Questionnaire d'essai")
        campaign = Campaign.objects.create(
            year=year,
            title=f"Observatoire {year}",
            questionnaire=questionnaire,
            opens_on=datetime.date(year + 1, 1, 15),
            closes_on=datetime.date(year + 1, 3, 31),
        )
        return Submission.objects.create(campaign=campaign, structure=structure, status=SubmissionStatus.VALIDATED)

    def test_the_upload_form_proposes_the_most_urgent_document_first(self, client, world):
        line = world["line"]
        FundingLine.objects.create(
            structure=line.structure, partner=line.partner, scheme=line.scheme, year=2026, voted=Decimal("10000")
        )
        director = member(UserFactory(), world["structure"], Role.EDITOR)
        client.force_login(director)
        form = client.get(reverse("funding:documents", args=[world["structure"].uuid])).context["form"]
        assert len(form.fields["owed"].choices) == 2  # the accounts of 2025 and of 2026
        labels = [label for _, label in form.fields["owed"].choices]
        dues = [datetime.datetime.strptime(label.split("échéance le ")[1][:10], "%d/%m/%Y") for label in labels]
        assert dues == sorted(dues)
        assert form.initial["owed"] == form.fields["owed"].choices[0][0]

    def test_the_observatory_questionnaire_is_not_uploaded_but_validated_in_cadre(self, client, world):
        structure = world["structure"]
        director = member(UserFactory(), structure, Role.EDITOR)
        client.force_login(director)
        url = reverse("funding:documents", args=[structure.uuid])
        form = client.get(url).context["form"]
        assert not any("observatoire" in label for _, label in form.fields["owed"].choices)
        owed = {o.required.kind: o for o in documents_owed(structure, [2025], today=datetime.date(2026, 7, 1))}
        assert owed[DocumentKind.OBSERVATORY].state == "overdue"
        self.validated_questionnaire(structure, 2025)
        owed = {o.required.kind: o for o in documents_owed(structure, [2025], today=datetime.date(2026, 7, 1))}
        assert owed[DocumentKind.OBSERVATORY].state == "validated"
        page = " ".join(client.get(url).content.decode().split())
        assert "questionnaire validé dans Cadre" in page

    def test_the_calendar_shows_overdue_documents(self, client, world):
        structure = world["structure"]
        officer = member(UserFactory(), world["city"], Role.EDITOR)
        client.force_login(officer)
        html = " ".join(client.get(reverse("funding:calendar")).content.decode().split())
        assert "En retard" in html
        late = html.split("En retard")[1]
        # The annual accounts of 2025 were due by 30 June 2026, before the months the calendar lists.
        assert f"{structure.name} : Comptes annuels 2025" in late
        assert f"{structure.name} : Comptes annuels 2025" not in html.split("En retard")[0]


def test_the_documents_owed_over_more_years_take_no_more_queries(world, django_assert_max_num_queries):
    structure, city, scheme = world["structure"], world["city"], world["line"].scheme

    def owed_kinds(years):
        with django_assert_max_num_queries(5):  # deposits, questionnaires, lines, agreements, requirements
            owed = documents_owed(structure, years)
        return {(item.year, item.required.kind) for item in owed}

    one_year = owed_kinds([2025])
    assert (2025, DocumentKind.ANNUAL_ACCOUNTS) in one_year
    for year in (2022, 2023, 2024):
        FundingLine.objects.create(structure=structure, partner=city, scheme=scheme, year=year, voted=Decimal("1"))
    four_years = owed_kinds([2022, 2023, 2024, 2025])
    assert {kind for year, kind in four_years if year == 2022} == {kind for _, kind in one_year}
    assert len(four_years) == 4 * len(one_year)


def test_a_deposit_is_reviewed_by_the_partners_asking_for_it_that_year(world, django_assert_max_num_queries):
    """The funders of the structure that year under a scheme asking for the kind, and the partners party to an
    agreement asking for it over that year; an « autre pièce » only by those asking for that very one. A page
    listing several deposits learns it in three queries."""
    from cadre.agreements.models import Agreement, AgreementKind, Signatory
    from cadre.funding.permissions import can_review, reviewable_documents

    structure, city = world["structure"], world["city"]
    caf = PartnerFactory(name="Caf du Rhône", kind=PartnerKind.CAF, departments=["69"])
    agreement = Agreement.objects.create(
        kind=AgreementKind.STRUCTURE,
        title="Convention d'objectifs",
        starts=datetime.date(2024, 1, 1),
        ends=datetime.date(2026, 12, 31),
    )
    Signatory.objects.create(agreement=agreement, partner=caf)
    Signatory.objects.create(agreement=agreement, structure=structure)
    certificate = RequiredDocument.objects.create(
        agreement=agreement, kind=DocumentKind.OTHER, label="Attestation URSSAF", due_month=3, due_day=31
    )
    RequiredDocument.objects.create(agreement=agreement, kind=DocumentKind.ANNUAL_ACCOUNTS, due_month=6, due_day=30)

    def deposit(required, year):
        return actions.deposit(structure, required, year, SimpleUploadedFile("piece.pdf", PDF), actor=None)

    accounts_2025 = deposit(world["accounts"], 2025)  # the city's scheme asks for them, the agreement too
    accounts_2024 = deposit(world["accounts"], 2024)  # the city does not fund 2024; the agreement covers it
    certificate_2025 = deposit(certificate, 2025)  # the agreement's own requirement
    certificate_2027 = deposit(certificate, 2027)  # after the agreement's end
    documents = list(Document.objects.select_related("required").defer("content"))
    officer = member(UserFactory(), city, Role.EDITOR)
    advisor = member(UserFactory(), caf, Role.EDITOR)
    reader = member(UserFactory(), caf, Role.VIEWER)
    officer.scope, advisor.scope  # noqa: B018 — the memberships are read once, and kept: read them first
    with django_assert_max_num_queries(3):
        assert reviewable_documents(officer, documents) == {accounts_2025.pk}
    with django_assert_max_num_queries(3):
        assert reviewable_documents(advisor, documents) == {accounts_2025.pk, accounts_2024.pk, certificate_2025.pk}
    assert reviewable_documents(reader, documents) == set()  # a reader does not review
    assert reviewable_documents(UserFactory(is_superuser=True), documents) == {d.pk for d in documents}
    assert can_review(advisor, certificate_2025) and not can_review(officer, certificate_2025)
    assert not can_review(advisor, certificate_2027) and can_review(officer, accounts_2025)
