"""The early warning as partners use it: the alerts list of their territory (filters, sort, exports, a few queries
whatever the rows), an alert acknowledged with a comment and its history, the e-mail to subscribers when a
structure turns to alerte, a structure's financial health with its ratios beside the département's quartiles,
and the administrators' alert rules."""

import csv
import io
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from cadre.accounts.models import User
from cadre.demo import cast
from cadre.monitoring.alert_models import (
    AlertAcknowledgement,
    AlertRule,
    AlertSubscription,
    HealthLevel,
    HealthStatus,
    current_status,
)
from cadre.monitoring.alerts import compute_statuses
from cadre.monitoring.default_rules import DEFAULT_RULES, load_default_rules
from cadre.monitoring.models import FinancialStatement
from cadre.structures.models import Structure
from tests.factories import StructureFactory
from tests.test_monitoring_alerts import accounts, plain

pytestmark = pytest.mark.django_db


@pytest.fixture
def a(demo):
    """Structure A (Villeurbanne, funded by the Caf 69) with no accounts nor status of the demo's, the rules
    shipped."""
    load_default_rules()
    structure = Structure.objects.get(memberships__user__email=cast.STRUCTURE_A)
    FinancialStatement.objects.filter(structure=structure).delete()
    HealthStatus.objects.filter(structure=structure).delete()
    return structure


def signed_in(client, email):
    client.force_login(User.objects.get(email=email))
    return client


def status(structure, year, level, *texts):
    now = timezone.now()
    found, _ = HealthStatus.objects.update_or_create(
        structure=structure,
        year=year,
        defaults={
            "level": level,
            "facts": [{"rule": "essai", "signal": "cash_days", "severity": level, "text": t} for t in texts],
            "computed_at": now,
            "level_since": now,
        },
    )
    return found


def names(response):
    return [row["structure"].name for row in response.context["rows"]]


def test_a_partner_sees_the_alerts_of_its_territory_filtered_and_sorted(client, a):
    HealthStatus.objects.all().delete()
    in_13 = StructureFactory(commune=Structure.objects.filter(commune__department_id="13").first().commune)
    status(a, 2024, HealthLevel.VIGILANCE, "exercice déficitaire : -1 000 €, seuil 0")
    status(a, 2025, HealthLevel.ALERT, "trésorerie : 18 jours de charges, seuil 30")
    status(in_13, 2025, HealthLevel.ALERT, "trésorerie : 5 jours de charges, seuil 30")
    green = Structure.objects.filter(commune__department_id="69").exclude(pk=a.pk).first()
    status(green, 2025, HealthLevel.GREEN)
    signed_in(client, cast.CAF69)
    url = reverse("monitoring:alerts")

    page = client.get(url)
    # The latest status of each structure of the Rhône, green ones left out; the Bouches-du-Rhône is not its own.
    assert names(page) == [a.name]
    assert page.context["rows"][0]["state"] == "à prendre en compte"
    html = page.content.decode()
    assert "trésorerie : 18 jours de charges, seuil 30" in html
    assert reverse("monitoring:health", args=[a.uuid]) in html
    assert names(client.get(url, {"year": 2024})) == [a.name]
    fragment = client.get(url, {"year": 2024}, headers={"HX-Request": "true"})  # htmx: the results alone
    assert names(fragment) == [a.name] and "<html" not in fragment.content.decode()
    assert client.get(url, {"year": 2024}).context["rows"][0]["status"].level == HealthLevel.VIGILANCE
    assert set(names(client.get(url, {"level": "all"}))) == {a.name, green.name}
    assert names(client.get(url, {"level": "vert"})) == [green.name]
    assert names(client.get(url, {"q": a.name[3:12].upper()})) == [a.name]
    assert names(client.get(url, {"q": "introuvable"})) == []
    assert names(client.get(url, {"kind": "evs", "level": "all"})) == [s.name for s in (a, green) if s.kind == "evs"]
    assert names(client.get(url, {"acknowledged": "yes"})) == []
    # A département out of the partner's scope is not offered: refused at its field, nothing listed.
    refused = client.get(url, {"department": "13"})
    assert "department" in refused.context["form"].errors and names(refused) == []
    # Sorted by name, the green one among the others.
    by_name = names(client.get(url, {"level": "all", "sort": "name"}))
    assert by_name == sorted(by_name, key=str.lower)
    # The Caf 13 sees its own alert only; the administrator both.
    assert names(signed_in(client, cast.CAF13).get(url)) == [in_13.name]
    assert set(names(signed_in(client, cast.ADMIN).get(url))) == {a.name, in_13.name}
    # A structure's own people have their health page, not the list.
    assert signed_in(client, cast.STRUCTURE_A).get(url).status_code == 403


def test_the_list_kept_in_cache_shows_each_change_at_once(client, a):
    """The list's order is kept between visits (ALERT_LIST): a status that changes, an acknowledgement, a
    structure renamed show on the next page seen."""
    signed_in(client, cast.CAF69)
    url = reverse("monitoring:alerts")
    status(a, 2025, HealthLevel.ALERT, "trésorerie : 18 jours de charges, seuil 30")

    def names(query):
        return [row["structure"].name for row in client.get(url, query).context["rows"]]

    assert a.name in names({}) and a.name in names({"acknowledged": "no"})
    AlertAcknowledgement.objects.create(
        structure=a, year=2025, level=HealthLevel.ALERT, comment="vu", acknowledged_by=None
    )
    assert a.name not in names({"acknowledged": "no"}) and a.name in names({"acknowledged": "yes"})
    Structure.objects.filter(pk=a.pk).update(name="Centre renommé des Brosses")
    assert "Centre renommé des Brosses" in names({"q": "renommé"})
    status(a, 2025, HealthLevel.GREEN)
    assert "Centre renommé des Brosses" not in names({})


def test_the_health_page_current_status_is_the_one_the_list_finds(a):
    """The health page picks the current status among the statuses it read (current_status); the list finds it
    in SQL (HealthStatusQuerySet.current): the same one, whatever the levels of the two years."""
    today = timezone.localdate()
    levels = [None, HealthLevel.GREEN, HealthLevel.VIGILANCE, HealthLevel.ALERT]
    for last_year in levels:
        for this_year in levels:
            HealthStatus.objects.filter(structure=a).delete()
            status(a, today.year - 2, HealthLevel.ALERT)  # too old to count
            for year, level in ((today.year - 1, last_year), (today.year, this_year)):
                if level:
                    status(a, year, level)
            statuses = list(HealthStatus.objects.filter(structure=a))
            found = HealthStatus.objects.filter(structure=a).current(today).first()
            assert current_status(statuses, today) == found, (last_year, this_year)


def test_the_list_and_its_exports_take_a_few_queries_whatever_the_rows(client, a):
    HealthStatus.objects.all().delete()
    rhone = Structure.objects.filter(commune__department_id="69").exclude(pk=a.pk)
    signed_in(client, cast.CAF69)
    url = reverse("monitoring:alerts")

    def queries(path):
        client.get(path)  # caches of the user's scope filled
        with CaptureQueriesContext(connection) as captured:
            assert client.get(path).status_code == 200
        return len(captured)

    status(a, 2025, HealthLevel.ALERT, "trésorerie : 18 jours de charges, seuil 30")
    AlertAcknowledgement.objects.create(  # an acknowledged row shows its latest acknowledgement: one more query
        structure=a, year=2025, level=HealthLevel.ALERT, comment="vu", acknowledged_by=None
    )
    few = {path: queries(path) for path in (url, reverse("monitoring:alerts_export", args=["csv"]))}
    for structure in rhone[:20]:
        status(structure, 2025, HealthLevel.VIGILANCE, "fonds propres : 2 mois de charges, seuil 3")
        AlertAcknowledgement.objects.create(
            structure=structure, year=2025, level=HealthLevel.VIGILANCE, comment="vu", acknowledged_by=None
        )
    many = {path: queries(path) for path in few}
    assert many == few, (few, many)
    assert max(many.values()) <= 12


def test_exports_keep_the_filters_and_the_scope(client, a):
    HealthStatus.objects.all().delete()
    status(a, 2025, HealthLevel.ALERT, "trésorerie : 18 jours de charges, seuil 30", "exercice déficitaire")
    other = Structure.objects.filter(commune__department_id="69").exclude(pk=a.pk).first()
    status(other, 2025, HealthLevel.VIGILANCE, "fonds propres : 2 mois de charges, seuil 3")
    in_13 = Structure.objects.filter(commune__department_id="13").first()
    status(in_13, 2025, HealthLevel.ALERT, "trésorerie : 5 jours")
    AlertAcknowledgement.objects.create(
        structure=a, year=2025, level=HealthLevel.ALERT, comment="Rendez-vous pris le 12", acknowledged_by=None
    )
    signed_in(client, cast.CAF69)

    response = client.get(reverse("monitoring:alerts_export", args=["csv"]), {"level": "alerte"})
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig")), delimiter=";"))
    assert rows[0][:7] == ["Structure", "Type", "Commune", "Département", "Exercice", "État", "Faits"]
    assert [row[0] for row in rows[1:]] == [a.name]
    assert rows[1][5:9] == [
        "alerte",
        "trésorerie : 18 jours de charges, seuil 30 ; exercice déficitaire",
        "prise en compte",
        "Rendez-vous pris le 12",
    ]

    response = client.get(reverse("monitoring:alerts_export", args=["xlsx"]))
    sheet = load_workbook(io.BytesIO(response.content)).active
    values = list(sheet.iter_rows(values_only=True))
    assert sorted(row[0] for row in values[1:]) == sorted([a.name, other.name])  # nothing of the 13


def test_an_alert_acknowledged_keeps_its_history_and_a_graver_level_is_a_new_alert(client, a):
    # One deficit: vigilance for 2025 (cash of 200 000 € is ample).
    statement = accounts(a, 2025, result=-1000, cash=200000, tax_social_debts=0)
    assert HealthStatus.objects.get(structure=a, year=2025).level == HealthLevel.VIGILANCE
    signed_in(client, cast.CAF69)
    url = reverse("monitoring:alert_acknowledge", args=[a.uuid, 2025])

    empty = client.post(url, {"comment": "   "})
    assert empty.status_code == 200 and "Écrivez un commentaire" in empty.context["form"].errors["comment"][0]
    assert not AlertAcknowledgement.objects.exists()
    assert client.post(url, {"comment": "Déficit expliqué par le départ du directeur."}).status_code == 302
    assert client.post(url, {"comment": "Budget 2026 revu en comité technique."}).status_code == 302
    history = list(AlertAcknowledgement.objects.filter(structure=a).order_by("acknowledged_at", "pk"))
    assert [ack.comment for ack in history] == [
        "Déficit expliqué par le départ du directeur.",
        "Budget 2026 revu en comité technique.",
    ]
    assert {ack.acknowledged_by.email for ack in history} == {cast.CAF69}
    assert {ack.level for ack in history} == {HealthLevel.VIGILANCE}
    rows = client.get(reverse("monitoring:alerts"), {"acknowledged": "yes", "year": 2025}).context["rows"]
    assert [row["structure"] for row in rows] == [a]
    assert rows[0]["last"].comment == "Budget 2026 revu en comité technique."
    assert "Déficit expliqué" in client.get(url).content.decode()  # the history beside the form

    # A recompute that finds the same level keeps the acknowledgement.
    compute_statuses([a])
    assert client.get(reverse("monitoring:alerts"), {"acknowledged": "yes", "year": 2025}).context["rows"]
    # The cash falls to 18 days: the same year turns to alerte, which nobody has acknowledged yet.
    statement.cash -= 174307
    statement.retained_earnings -= 174307
    statement.full_clean()
    statement.save()
    assert HealthStatus.objects.get(structure=a, year=2025).level == HealthLevel.ALERT
    rows = client.get(reverse("monitoring:alerts"), {"acknowledged": "no", "year": 2025}).context["rows"]
    assert [(row["structure"], row["state"]) for row in rows if row["structure"] == a] == [(a, "nouvelle alerte")]
    assert "nouvelle alerte" in client.get(url).content.decode()
    assert AlertAcknowledgement.objects.filter(structure=a).count() == 2  # nothing erased

    # Who only reads for its partner, and the structure itself, may not acknowledge.
    assert signed_in(client, cast.CITY_VILLEURBANNE).post(url, {"comment": "x"}).status_code == 403
    assert signed_in(client, cast.STRUCTURE_A).post(url, {"comment": "x"}).status_code == 403


def test_subscribers_are_mailed_when_a_structure_they_fund_turns_to_alert(
    client, a, mailoutbox, django_capture_on_commit_callbacks
):
    signed_in(client, cast.CAF69)
    assert client.post(reverse("monitoring:health_subscribe", args=[a.uuid])).status_code == 302
    assert AlertSubscription.objects.filter(user__email=cast.CAF69, structure=a).exists()
    # The Caf 13 follows every structure it funds: A is not one of them.
    signed_in(client, cast.CAF13)
    assert client.post(reverse("monitoring:alerts_subscribe_all")).status_code == 302
    assert client.post(reverse("monitoring:health_subscribe", args=[a.uuid])).status_code == 404

    with django_capture_on_commit_callbacks(execute=True):
        statement = accounts(a, 2025, result=1000, cash=200000, tax_social_debts=0)
    assert HealthStatus.objects.get(structure=a, year=2025).level != HealthLevel.ALERT  # the demo's signals aside
    assert mailoutbox == []
    with django_capture_on_commit_callbacks(execute=True):
        statement.cash -= 174307
        statement.retained_earnings -= 174307
        statement.full_clean()
        statement.save()
    assert HealthStatus.objects.get(structure=a, year=2025).level == HealthLevel.ALERT
    assert [message.to for message in mailoutbox] == [[cast.CAF69]]
    body = plain(mailoutbox[0].body)
    assert mailoutbox[0].subject == f"Alerte : {a.name} (2025)"
    assert "trésorerie : 19,2 jours de charges, seuil 30" in body  # 25 693 × 365 ÷ 489 000
    assert reverse("monitoring:health", args=[a.uuid]) in body
    # Staying in alerte is no news.
    with django_capture_on_commit_callbacks(execute=True):
        compute_statuses([a])
    assert len(mailoutbox) == 1
    # Unsubscribed: no more e-mail.
    signed_in(client, cast.CAF69)
    client.post(reverse("monitoring:health_subscribe", args=[a.uuid]))
    assert not AlertSubscription.objects.filter(user__email=cast.CAF69).exists()


def cash_table(html):
    """(headers, rows) of the data table under the chart of days of cash, as text."""
    section = html.split('aria-labelledby="ratio-cash_days"')[1].split("</section>")[0]
    table = section.split("<table>")[1]

    def cells(part):
        return [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", part, re.S)]

    headers = cells(table.split("</thead>")[0])
    rows = [cells(row) for row in table.split("</thead>")[1].split("</tr>") if "<t" in row]
    return headers, rows


def test_the_health_page_draws_each_ratio_beside_the_departement_quartiles(client, a):
    for year, result in ((2024, -12400), (2025, -31000)):
        accounts(a, year, result=result, cash=25693 if year == 2025 else 60000)
    peers = Structure.objects.filter(commune__department_id="69").exclude(pk=a.pk)[:4]
    for peer, cash in zip(peers, (40000, 80000, 120000, 160000), strict=False):
        FinancialStatement.objects.filter(structure=peer).delete()
        accounts(peer, 2025, result=1000, cash=cash)
    compute_statuses([a, *peers])
    signed_in(client, cast.STRUCTURE_A)  # a structure sees its own health
    url = reverse("monitoring:health", args=[a.uuid])
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200
    assert len(captured) <= 20, [q["sql"][:120] for q in captured]
    html = plain(response.content.decode())
    assert "trésorerie : 18 jours de charges, seuil 30" in html
    assert "deux exercices déficitaires : 2024 -12 400 €, 2025 -31 000 €" in html
    assert html.count("<svg") >= 12 and html.count('aria-labelledby="ratio-') == 12
    headers, rows = cash_table(html)
    assert headers == [
        "Année",
        a.name,
        "1er quartile du département",
        "Médiane du département",
        "3e quartile du département",
    ]
    assert rows[-1][:2] == ["2025", "18,0 j"]
    assert rows[-1][3] != "—"  # the median of A and its four peers
    # The charts are kept in the cache until a status or the quartiles change: new accounts show at once.
    FinancialStatement.objects.filter(structure=a, year=2025).delete()
    accounts(a, 2025, result=-31000, cash=51386)
    compute_statuses([a])
    assert cash_table(plain(client.get(url).content.decode()))[1][-1][:2] == ["2025", "36,0 j"]
    assert "disponibilités ÷ charges décaissables" in html and 'href="#methode-cash_days"' in html
    # The method (formulas, rules applied) is kept with the charts: a rule renamed or switched off shows at once.
    rule = AlertRule.objects.active().first()
    assert rule.name in html
    AlertRule.objects.filter(pk=rule.pk).update(name="Règle renommée pour essai")
    assert "Règle renommée pour essai" in plain(client.get(url).content.decode())
    AlertRule.objects.filter(pk=rule.pk).update(active=False)
    assert "Règle renommée pour essai" not in plain(client.get(url).content.decode())
    # No subscription for a structure's own people, no acknowledgement either.
    assert "M’avertir par e-mail" not in html and "Prendre en compte" not in html


def test_administrators_edit_rules_and_statuses_are_recomputed(client, a, django_capture_on_commit_callbacks):
    accounts(a, 2025, result=1000, cash=100000, tax_social_debts=0)  # about 73 days of cash: vigilance (< 90)

    def short_cash():
        return any(
            text.startswith("trésorerie courte") for text in HealthStatus.objects.get(structure=a, year=2025).fact_texts
        )

    assert short_cash()
    signed_in(client, cast.ADMIN)
    page = client.get(reverse("monitoring:rules"))
    assert len(page.context["rows"]) == AlertRule.objects.count() >= len(DEFAULT_RULES)
    assert "France Active" in page.content.decode()
    rule = AlertRule.objects.get(code="cash-under-90-days")
    url = reverse("monitoring:rule_edit", args=[rule.uuid])
    data = {
        "name": "trésorerie courte",
        "signal": "cash_days",
        "comparison": "below",
        "threshold": "-5",
        "consecutive_years": "1",
        "severity": "vigilance",
        "active": "on",
        "source": rule.source,
        "version": rule.version,
    }
    refused = client.post(url, data)
    assert "ne descend pas sous 0 jours de charges" in refused.context["form"].errors["threshold"][0]
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(url, {**data, "threshold": "60"}).status_code == 302
    rule.refresh_from_db()
    assert rule.threshold == 60
    assert not short_cash()  # recomputed under the new threshold
    # Someone else's stale form is refused, the input kept.
    stale = client.post(url, {**data, "threshold": "45"})
    assert stale.status_code == 200 and "modifiée par quelqu" in stale.content.decode()
    # Deactivated, then activated again.
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("monitoring:rule_toggle", args=[rule.uuid]))
    assert not AlertRule.objects.get(pk=rule.pk).active
    created = client.post(
        reverse("monitoring:rule_create"), {**data, "name": "dépendance", "signal": "public_share", "threshold": "95"}
    )
    assert created.status_code == 302 and AlertRule.objects.get(name="dépendance").code is None
    assert signed_in(client, cast.CAF69).get(reverse("monitoring:rules")).status_code == 403


def test_a_structure_first_accepted_accounts_in_alert_are_news_to_who_follows_every_funded_structure(
    client, a, mailoutbox, django_capture_on_commit_callbacks
):
    from decimal import Decimal

    from cadre.funding.models import FundingLine, FundingScheme
    from cadre.partners.models import Partner

    caf69 = Partner.objects.get(memberships__user__email=cast.CAF69)
    new = StructureFactory(commune=a.commune)
    FundingLine.objects.create(
        structure=new, partner=caf69, scheme=FundingScheme.objects.first(), year=2025, voted=Decimal(1000)
    )
    signed_in(client, cast.CAF69)
    client.post(reverse("monitoring:alerts_subscribe_all"))
    assert AlertSubscription.objects.filter(user__email=cast.CAF69, structure__isnull=True).exists()
    with django_capture_on_commit_callbacks(execute=True):
        accounts(new, 2025, result=-31000, cash=20000)
    assert HealthStatus.objects.get(structure=new, year=2025).level == HealthLevel.ALERT
    assert [(message.to, message.subject) for message in mailoutbox] == [([cast.CAF69], f"Alerte : {new.name} (2025)")]
