"""Agreement and funding pages kept in the cache until a table they read changes (cadre.core.stamps): each
declares every table it is read from, costs a few queries once kept, and shows a change at once."""

import datetime

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from cadre.accounts.models import User
from cadre.agreements import actions as agreement_actions
from cadre.agreements import forms
from cadre.agreements.models import Agreement
from cadre.demo import cast
from cadre.funding import actions, queries
from cadre.funding.models import DocumentStatus, FundingLine
from cadre.partners.models import Partner
from cadre.structures.models import Structure
from cadre.territories.models import Commune
from tests.factories import VILLEURBANNE, StructureFactory
from tests.test_stamps import READERS, scoped, tables_read

pytestmark = pytest.mark.django_db
PDF = b"%PDF-1.4\n1 0 obj << >> endobj\n%%EOF\n"


@pytest.mark.parametrize("email", READERS)
def test_the_documents_page_declares_every_table_it_is_read_from(demo, email):
    """Structures with deposits awaiting review (read for who may review them), and the user's own."""
    user, today = scoped(email), datetime.date.today()
    structures = Structure.objects.visible_to(user).order_by("pk")
    awaiting = structures.filter(documents__status=DocumentStatus.SUBMITTED).distinct()[:2]
    read = set()
    for structure in [*awaiting, *structures.filter(memberships__user=user)]:
        read |= tables_read(lambda structure=structure: queries._structure_documents(structure, user, today))
    assert read and read <= queries._DOCUMENTS.tables, sorted(read - queries._DOCUMENTS.tables)


def test_the_documents_page_shows_a_deposit_to_its_funder_at_once(client, demo):
    structure = Structure.objects.get(memberships__user__email=cast.STRUCTURE_A)
    advisor = User.objects.get(email=cast.CAF69)
    client.force_login(advisor)
    url = reverse("funding:documents", args=[structure.uuid])
    client.get(url)
    with CaptureQueriesContext(connection) as kept:
        page = client.get(url)
    assert len(kept) <= 4, [q["sql"] for q in kept]  # session, user, structure, the stamps
    item = next(item for item in page.context["owed"] if item.is_open and not item.is_questionnaire)
    document = actions.deposit(structure, item.required, item.year, SimpleUploadedFile("piece.pdf", PDF), actor=None)
    html = client.get(url).content.decode()
    assert reverse("funding:document_review", args=[document.uuid]) in html  # its funder may review it
    actions.review(document, actor=advisor, accept=True)
    html = client.get(url).content.decode()
    assert reverse("funding:document", args=[document.uuid]) in html
    assert reverse("funding:document_review", args=[document.uuid]) not in html


@pytest.mark.parametrize("email", READERS)
def test_the_agreement_sheet_declares_every_table_it_is_read_from(demo, email):
    user = scoped(email)
    agreements = Agreement.objects.visible_to(user).select_related("framework", "commune", "roadmap")
    read = tables_read(lambda: agreements.first())  # the page reads the agreement, then its sheet
    with_roadmap = agreements.filter(roadmap__isnull=False)[:1]
    with_lines = agreements.filter(funding_lines__isnull=False).distinct()[:1]
    for agreement in [*with_roadmap, *with_lines]:
        read |= tables_read(lambda agreement=agreement: queries.agreement_sheet(agreement, user))
    assert read <= queries.AGREEMENT_SHEET.tables, sorted(read - queries.AGREEMENT_SHEET.tables)


def test_the_agreement_pdf_is_kept_and_follows_a_change_at_once(client, demo):
    agreement = Agreement.objects.filter(funding_lines__voted__isnull=False).distinct().first()
    client.force_login(User.objects.get(email=cast.ADMIN))
    url = reverse("funding:agreement_pdf", args=[agreement.uuid])
    first = client.get(url)
    with CaptureQueriesContext(connection) as kept:
        again = client.get(url)
    assert again.content == first.content
    assert len(kept) <= 4, [q["sql"] for q in kept]  # session, user, the stamps, the agreement
    line = FundingLine.objects.filter(agreement=agreement, voted__isnull=False).first()
    FundingLine.objects.filter(pk=line.pk).update(voted=line.voted + 1000)
    changed = client.get(url)
    assert changed.content != first.content and changed.context["total"] == first.context["total"] + 1000


@pytest.mark.parametrize("email", READERS)
def test_the_party_lists_declare_every_table_they_are_read_from(demo, email):
    user = scoped(email)
    read = set()
    for agreement in Agreement.objects.visible_to(user)[:2]:
        read |= tables_read(lambda agreement=agreement: forms._party_choices(agreement, user))
    assert read and read <= forms._PARTY_CHOICES.tables, sorted(read - forms._PARTY_CHOICES.tables)


def test_the_party_lists_show_a_new_structure_at_once_and_drop_a_new_party(client, demo):
    client.force_login(User.objects.get(email=cast.ADMIN))
    agreement = Agreement.objects.filter(kind="tripartite").first()
    url = reverse("agreements:party", args=[agreement.uuid])

    def listed():
        form = client.get(url).context["form"]
        return {label for _, label in form.fields["partner"].choices}, {
            label for _, label in form.fields["structure"].choices
        }

    partners, structures = listed()
    with CaptureQueriesContext(connection) as kept:
        assert listed() == (partners, structures)
    assert len(kept) <= 5, [q["sql"] for q in kept]  # session, user, agreement, its parties, the stamps
    new = StructureFactory(name="Centre social tout neuf", commune=Commune.objects.get(code=VILLEURBANNE))
    assert "Centre social tout neuf" in listed()[1]
    partner = sorted(partners - {"---------"})[0]
    agreement_actions.add_party(agreement, partner=Partner.objects.get(name=partner))
    agreement_actions.add_party(agreement, structure=new)
    now_partners, now_structures = listed()
    assert partner not in now_partners and "Centre social tout neuf" not in now_structures


@pytest.mark.parametrize("email", READERS)
def test_the_overdue_documents_declare_every_table_they_are_read_from(demo, email):
    user, today = scoped(email), datetime.date.today()
    read = tables_read(lambda: queries._overdue_documents(user, today))
    assert read and read <= queries._OVERDUE.tables, sorted(read - queries._OVERDUE.tables)


def test_the_overdue_documents_page_drops_a_document_deposited_at_once(client, demo):
    advisor = User.objects.get(email=cast.CAF69)
    client.force_login(advisor)
    url = reverse("funding:overdue")
    rows = client.get(url).context["rows"]
    with CaptureQueriesContext(connection) as kept:
        client.get(url)
    assert len(kept) <= 3, [q["sql"] for q in kept]  # session, user, the stamps
    structure, owed = next((s, o) for s, o in rows if not o.is_questionnaire)
    document = actions.deposit(structure, owed.required, owed.year, SimpleUploadedFile("piece.pdf", PDF), actor=None)
    actions.review(document, actor=advisor, accept=True)
    after = client.get(url).context["rows"]
    assert len(after) == len(rows) - 1
    assert (structure.pk, owed.required.share_key, owed.year) not in {
        (s.pk, o.required.share_key, o.year) for s, o in after
    }


def test_the_partner_page_declares_every_table_it_is_read_from(demo):
    partner = Partner.objects.get(short_name="Caf 69")
    read = tables_read(lambda: queries._partner_page(partner, None)) | tables_read(
        lambda: queries._partner_page(partner, 2025)
    )
    assert read and read <= queries._PARTNER.tables, sorted(read - queries._PARTNER.tables)


def test_the_partner_page_shows_a_payment_at_once(client, demo):
    from decimal import Decimal

    from cadre.funding.models import PaymentKind

    partner = Partner.objects.get(short_name="Caf 69")
    client.force_login(User.objects.get(email=cast.CAF69))
    url = reverse("funding:partner", args=[partner.uuid]) + "?annee=2025"

    def paid():
        (year,) = client.get(url).context["years"]
        return year.paid

    before = paid()
    with CaptureQueriesContext(connection) as kept:
        assert paid() == before
    assert len(kept) <= 4, [q["sql"] for q in kept]  # session, user, partner, the stamps
    line = FundingLine.objects.filter(partner=partner, year=2025, voted__gt=100, payments__isnull=True).first()
    actions.record_payment(line, actor=None, kind=PaymentKind.ADVANCE, amount=Decimal("10"), paid_on=line.decision_date)
    assert paid() == before + 10


@pytest.mark.parametrize("email", [cast.ADMIN, cast.CAF13])  # the demo's frameworks are in the Bouches-du-Rhône
def test_the_framework_page_declares_every_table_it_is_read_from(demo, email):
    from cadre.agreements import pages
    from cadre.agreements.models import FrameworkAgreement

    user = scoped(email)
    read = set()
    for framework in FrameworkAgreement.objects.visible_to(user).order_by("-previous")[:2]:
        read |= tables_read(lambda framework=framework: pages._framework_page(user, framework.uuid))
    assert read and read <= pages._FRAMEWORK.tables, sorted(read - pages._FRAMEWORK.tables)


def test_the_framework_page_shows_a_new_signatory_at_once(client, demo):
    from cadre.agreements.models import FrameworkAgreement, Signatory

    client.force_login(User.objects.get(email=cast.ADMIN))
    framework = FrameworkAgreement.objects.filter(signatories__isnull=False).first()
    url = reverse("agreements:framework", args=[framework.uuid])
    client.get(url)
    with CaptureQueriesContext(connection) as kept:
        client.get(url)
    assert len(kept) <= 3, [q["sql"] for q in kept]  # session, user, the stamps
    partner = Partner.objects.exclude(signatures__framework=framework).order_by("name").first()
    Signatory.objects.create(framework=framework, partner=partner)
    assert partner.pk in {s.partner_id for s in client.get(url).context["signatories"]}
    Partner.objects.filter(pk=partner.pk).update(name="Partenaire renommé")
    assert "Partenaire renommé" in client.get(url).content.decode()


@pytest.mark.parametrize("email", READERS)
def test_the_meeting_page_declares_every_table_it_is_read_from(demo, email):
    from cadre.agreements import pages
    from cadre.agreements.models import Committee, Meeting

    user = scoped(email)
    read = set()
    for meeting in Meeting.objects.filter(committee__in=Committee.objects.visible_to(user))[:2]:
        read |= tables_read(lambda meeting=meeting: pages._meeting_page(user, meeting.uuid))
    read |= tables_read(lambda: Meeting.objects.filter(committee__in=Committee.objects.visible_to(user)).first())
    assert read and read <= pages._MEETING.tables, sorted(read - pages._MEETING.tables)


def test_the_meeting_page_shows_a_new_decision_and_who_was_present_at_once(client, demo):
    from cadre.agreements.models import Meeting

    client.force_login(User.objects.get(email=cast.ADMIN))
    meeting = Meeting.objects.filter(committee__members__isnull=False).first()
    url = reverse("agreements:meeting", args=[meeting.uuid])
    client.get(url)
    with CaptureQueriesContext(connection) as kept:
        client.get(url)
    assert len(kept) <= 3, [q["sql"] for q in kept]  # session, user, the stamps
    agreement_actions.add_decision(meeting, text="Décision toute neuve", follow_ups=[])
    assert "Décision toute neuve" in client.get(url).content.decode()
    member = meeting.committee.members.first()
    meeting.present.remove(member)
    assert member.pk not in client.get(url).context["present"]
    meeting.present.add(member)
    assert member.pk in client.get(url).context["present"]
