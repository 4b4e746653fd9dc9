"""Results cached under table stamps (cadre.core.stamps): any write to a table read makes a new stamp, whatever
way it is made, and the home page and the calendar never show what the data no longer says."""

import datetime
import re

import pytest
from django.db import connection, transaction
from django.template.loader import render_to_string
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from cadre.accounts.models import User
from cadre.agreements.models import Agreement
from cadre.core import work
from cadre.core.stamps import Stamped
from cadre.demo import cast
from cadre.funding import calendar, views
from cadre.funding.models import Document, DocumentStatus, RequiredDocument
from cadre.monitoring.alert_models import ALERT_LIST, HEALTH_FIGURES, HealthStatus
from cadre.monitoring.forms_alerts import AlertFilterForm
from cadre.monitoring.views_alerts import _figures_context
from cadre.observatory.models import Submission, SubmissionStatus
from cadre.structures import overview
from cadre.structures.models import Structure

pytestmark = pytest.mark.django_db

READERS = [cast.ADMIN, cast.CAF69, cast.CAF13, cast.CITY_VILLEURBANNE, cast.FEDERATION69, cast.STRUCTURE_A]
TABLE = re.compile(r'(?:FROM|JOIN)\s+"(\w+)"')


def tables_read(compute):
    with CaptureQueriesContext(connection) as queries:
        compute()
    return {table for query in queries for table in TABLE.findall(query["sql"])}


def without_token(response):
    return re.sub(r'name="csrfmiddlewaretoken" value="\w+"', "", response.content.decode())


def scoped(email):
    user = User.objects.get(email=email)
    user.scope  # noqa: B018 — the scope is cached under its own key (memberships, territories): read it first
    return user


def test_every_way_of_writing_a_table_gives_it_a_new_stamp_and_leaves_the_others(demo):
    structures, agreements = Stamped("test-structures", [Structure]), Stamped("test-agreements", [Agreement])
    structure = Structure.objects.first()
    writes = [
        lambda: structure.save(),
        lambda: Structure.objects.filter(pk=structure.pk).update(name="Centre renommé"),
        lambda: structure.priority_areas.clear(),  # a many-to-many link of a model read
        lambda: Structure.objects.bulk_update([structure], ["name"]),
    ]
    for write in writes:
        before, others = structures.stamp(), agreements.stamp()
        write()
        assert structures.stamp() != before
        assert agreements.stamp() == others
    with connection.cursor() as cursor:  # even raw SQL
        before = structures.stamp()
        cursor.execute("UPDATE structures_structure SET name = name WHERE id = %s", [structure.pk])
        assert structures.stamp() != before


def test_a_rolled_back_write_leaves_the_stamp_it_found(demo):
    structures = Stamped("test-structures", [Structure])
    before = structures.stamp()
    with transaction.atomic():
        Structure.objects.update(name="Provisoire")
        assert structures.stamp() != before  # the writing transaction sees its own change
        transaction.set_rollback(True)
    assert structures.stamp() == before


def test_the_writing_transaction_never_gets_back_what_it_cached_between_its_own_writes(demo):
    structures = Stamped("test-structures", [Structure])
    first, second = Structure.objects.order_by("pk")[:2]

    def build():
        return Structure.objects.filter(name="Centre témoin").count()

    with transaction.atomic():
        Structure.objects.filter(pk=first.pk).update(name="Centre témoin")
        assert structures.get(["key"], build) == 1
        Structure.objects.filter(pk=second.pk).update(name="Centre témoin")
        assert structures.get(["key"], build) == 2


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL keeps row versions")
def test_a_long_transaction_writes_the_stamp_row_once_not_once_per_statement(demo):
    """Updating one row at every statement of a transaction made each update slower than the last."""
    structure = Structure.objects.first()

    def stamp_row_version():
        with connection.cursor() as cursor:
            cursor.execute("SELECT ctid::text FROM core_tablestamp WHERE name = 'structures_structure'")
            return cursor.fetchone()[0]

    with transaction.atomic():
        structure.save()
        version = stamp_row_version()
        for _ in range(20):
            structure.save()
        assert stamp_row_version() == version


def test_a_cached_result_is_computed_again_once_a_table_it_reads_changes(demo):
    structures = Stamped("test-structures", [Structure])
    computed = []

    def build():
        computed.append(1)
        return Structure.objects.filter(name="Centre témoin").count()

    assert structures.get(["key"], build) == 0
    assert structures.get(["key"], build) == 0 and len(computed) == 1  # kept
    Structure.objects.filter(pk=Structure.objects.first().pk).update(name="Centre témoin")
    assert structures.get(["key"], build) == 1 and len(computed) == 2


@pytest.mark.parametrize("email", READERS)
def test_the_home_page_declares_every_table_its_work_is_read_from(demo, email):
    """A table read but not declared would leave the cached home page stale when it changes."""
    user, today = scoped(email), timezone.localdate()
    read = tables_read(lambda: (work.work_for(user, today), work.upcoming_for(user, today)))
    assert read and read <= work._HOME.tables, sorted(read - work._HOME.tables)


@pytest.mark.parametrize("email", READERS)
def test_the_calendar_declares_every_table_it_is_read_from(demo, email):
    user, today = scoped(email), datetime.date.today()
    read = tables_read(
        lambda: calendar._calendar_and_overdue(user, today, today.replace(day=1), today + datetime.timedelta(days=400))
    )
    assert read and read <= calendar._CACHE.tables, sorted(read - calendar._CACHE.tables)


@pytest.mark.parametrize("email", READERS)
def test_the_structure_page_tiles_declare_every_table_they_are_read_from(demo, email):
    """Structure A (funded in the Rhône) and the Bouches-du-Rhône structure with a support case under way."""
    user, today = scoped(email), timezone.localdate()
    read = set()
    for structure in Structure.objects.visible_to(user).filter(support_cases__isnull=False).distinct()[:2]:
        read |= tables_read(lambda structure=structure: overview._links(structure, user, today))
    for structure in Structure.objects.visible_to(user).filter(memberships__user__email=cast.STRUCTURE_A):
        read |= tables_read(lambda structure=structure: overview._links(structure, user, today))
    assert read and read <= overview._LINKS.tables, sorted(read - overview._LINKS.tables)


@pytest.mark.parametrize("email", [cast.ADMIN, cast.CAF69, cast.FEDERATION69])
def test_the_alerts_list_declares_every_table_its_order_is_read_from(demo, email):
    """Every filter of the list (views_alerts._listed_ids), each sort, the acknowledgement's too."""
    user = scoped(email)
    read = set()
    for filters in [{}, {"level": "all", "sort": "department"}, {"acknowledged": "no", "q": "centre"}, {"kind": "evs"}]:
        form = AlertFilterForm(filters, user=user)
        read |= tables_read(lambda form=form: list(form.apply(HealthStatus.objects.visible_to(user))))
    assert read and read <= ALERT_LIST.tables, sorted(read - ALERT_LIST.tables)


def test_the_health_page_charts_and_method_declare_every_table_they_are_read_from(demo):
    """The health page reads the structure (with its commune) and its statuses itself; the cached part the rest."""
    read = set()
    structures = Structure.objects.filter(health_statuses__isnull=False).select_related("commune").distinct()
    for structure in structures[:3]:
        statuses = list(HealthStatus.objects.filter(structure=structure).order_by("year"))
        context = _figures_context(structure, statuses)
        read |= tables_read(lambda context=context: render_to_string("monitoring/_health_figures.html", context))
    assert read and read <= HEALTH_FIGURES.tables, sorted(read - HEALTH_FIGURES.tables)


def test_the_home_page_costs_the_same_few_queries_once_cached_and_shows_a_change_at_once(client, demo):
    advisor = User.objects.get(email=cast.CAF69)
    client.force_login(advisor)
    url = reverse("core:home")
    first = without_token(client.get(url))
    with CaptureQueriesContext(connection) as queries:
        again = without_token(client.get(url))
    assert again == first
    assert len(queries) <= 4, [q["sql"] for q in queries]  # session, user, the stamps
    # A questionnaire of its scope is sent for review: the count moves on the next visit.
    submission = (
        Submission.objects.reviewable_by(advisor)
        .filter(campaign__opened_at__isnull=False, status=SubmissionStatus.DRAFT)
        .order_by("-campaign__year")
        .first()
    )
    before = re.search(r"(\d+) questionnaires? à examiner", first).group(1)
    submission.status = SubmissionStatus.SUBMITTED
    submission.save(update_fields=["status"])
    after = re.search(r"(\d+) questionnaires? à examiner", client.get(url).content.decode()).group(1)
    assert int(after) == int(before) + 1


def test_the_calendar_page_shows_a_late_document_deposited_at_once(client, demo):
    advisor = User.objects.get(email=cast.CAF69)
    client.force_login(advisor)
    today = datetime.date.today()
    start, end = views._calendar_period(today)
    _, late = calendar.calendar_and_overdue(advisor, today, start, end)
    owed = next(o for o in late if o.kind == "Pièce en retard")
    assert escape(owed.title) in client.get(reverse("funding:calendar")).content.decode()
    # uid: document-<structure uuid>-<required document uuid>-<year>, each uuid of five dashed parts
    parts = owed.uid.split("-")
    structure = Structure.objects.get(uuid="-".join(parts[1:6]))
    required = RequiredDocument.objects.get(uuid="-".join(parts[6:11]))
    Document.objects.create(
        structure=structure,
        required=required,
        year=int(parts[11]),
        file_name="bilan.pdf",
        content_type="application/pdf",
        size=4,
        sha256="0" * 64,
        content=b"%PDF",
        status=DocumentStatus.ACCEPTED,
    )
    assert escape(owed.title) not in client.get(reverse("funding:calendar")).content.decode()
