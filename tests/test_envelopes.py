"""Allocating an envelope: the split (property-based), the simulation, adjustments, the commitment."""

import datetime
import re
from decimal import Decimal

import pytest
from django.urls import reverse
from hypothesis import given, settings
from hypothesis import strategies as st

from cadre.accounts.models import Role
from cadre.funding import actions
from cadre.funding.models import (
    Envelope,
    EnvelopeKey,
    EnvelopeStatus,
    FundingLine,
    FundingScheme,
    ImpossibleSplit,
    split,
)
from cadre.funding.schemes import load_default_schemes
from cadre.partners.models import PartnerKind
from cadre.structures.models import PriorityAreaStatus, StructureKind
from tests.factories import PartnerFactory, StructureFactory, UserFactory, member

D = Decimal
cents = st.integers(min_value=1, max_value=10_000_000).map(lambda c: D(c) / 100)


@settings(max_examples=300, deadline=None)
@given(
    amount=cents,
    bases=st.lists(st.integers(min_value=0, max_value=200_000), min_size=1, max_size=40),
    floor_share=st.none() | st.floats(min_value=0, max_value=1),
    cap_share=st.none() | st.floats(min_value=1, max_value=5),
)
def test_a_split_adds_up_to_the_cent_within_its_bounds_and_follows_the_key(amount, bases, floor_share, cap_share):
    n = len(bases)
    floor = (
        (amount / n * D(str(floor_share))).quantize(D("0.01"), rounding="ROUND_FLOOR")
        if floor_share is not None
        else None
    )
    cap = (
        (amount / n * D(str(cap_share))).quantize(D("0.01"), rounding="ROUND_CEILING")
        if cap_share is not None
        else None
    )
    keyed = dict(enumerate(bases))
    try:
        shares = split(amount, keyed, floor, cap)
    except ImpossibleSplit:
        reachable = sum((cap if b > 0 or not any(bases) else (floor or 0)) for b in bases) if cap is not None else None
        assert (floor or 0) * n > amount or (reachable is not None and reachable < amount)
        return
    assert sum(shares.values()) == amount
    assert all(v == v.quantize(D("0.01")) for v in shares.values())
    assert all((floor is None or v >= floor) and (cap is None or v <= cap) for v in shares.values())
    for i in keyed:  # a larger basis never gets a smaller share (beyond the rounding cent)
        for j in keyed:
            if bases[i] > bases[j]:
                assert shares[i] >= shares[j] - D("0.01")


def test_impossible_bounds_are_said():
    with pytest.raises(ImpossibleSplit, match="Le plancher .* dépasse l'enveloppe"):
        split(D("1000"), {1: 1, 2: 1, 3: 1}, floor=D("400"))
    with pytest.raises(ImpossibleSplit, match="on ne peut répartir que 600,00"):
        split(D("1000"), {1: 1, 2: 1, 3: 1}, cap=D("200"))


@pytest.mark.django_db
def test_a_partner_simulates_adjusts_and_commits_its_envelope(client):
    load_default_schemes()
    state = PartnerFactory(name="Préfecture du Rhône", kind=PartnerKind.STATE, departments=["69"])
    officer = member(UserFactory(), state, Role.EDITOR)
    for i, population in enumerate([10_000, 20_000, 30_000]):
        StructureFactory(
            name=f"Centre {i}", served_population=population, priority_area_status=PriorityAreaStatus.IN_AREA
        )
    StructureFactory(name="Hors QPV", priority_area_status=PriorityAreaStatus.NONE)  # not eligible
    StructureFactory(
        name="EVS en QPV",
        kind=StructureKind.EVS,
        priority_area_status=PriorityAreaStatus.IN_AREA,
        served_population=5000,
    )
    scheme = FundingScheme.objects.get(code="subvention-qpv")
    client.force_login(officer)
    response = client.post(
        reverse("funding:envelope_create"),
        {
            "partner": state.pk,
            "scheme": scheme.pk,
            "year": "2026",
            "amount": "60 000",
            "key": EnvelopeKey.SERVED_POPULATION,
            "floor": "12 000",
            "cap": "",
        },
    )
    envelope = Envelope.objects.get()
    assert response.status_code == 302
    shares = {s.structure.name: s.simulated for s in envelope.shares.select_related("structure")}
    # 5 000 / 65 000 of it would be under the floor: the EVS gets 12 000, the rest by population.
    assert shares["EVS en QPV"] == D("12000.00")
    assert shares["Centre 0"] == D("12000.00")  # 48 000 × 10/60 = 8 000: raised to the floor too
    assert shares["Centre 1"] == D("14400.00") and shares["Centre 2"] == D("21600.00")  # 36 000 by 20 : 30
    assert sum(shares.values()) == D("60000.00") and min(shares.values()) >= D("12000")
    assert "Hors QPV" not in shares
    url = reverse("funding:envelope", args=[envelope.uuid])
    by_name = {s.structure.name: s for s in envelope.shares.select_related("structure")}
    bad = client.post(url, {"action": "adjust", f"part-{by_name['Centre 0'].pk}": "douze mille"})
    assert bad.status_code == 200
    assert "Saisissez un nombre." in bad.content.decode()
    assert not envelope.shares.filter(adjusted__isnull=False).exists()
    client.post(url, {"action": "adjust", f"part-{by_name['Centre 0'].pk}": "13 000,00"})
    response = client.post(url, {"action": "commit", "decision_reference": "", "decision_date": ""}, follow=True)
    assert "ajustez-les de" in response.content.decode()  # 1 000 € too much: refused
    assert not FundingLine.objects.exists()
    client.post(
        url,
        {
            "action": "adjust",
            f"part-{by_name['Centre 0'].pk}": "13 000",
            f"part-{by_name['Centre 2'].pk}": str(by_name["Centre 2"].simulated - 1000).replace(".", ","),
        },
    )
    client.post(url, {"action": "commit", "decision_reference": "AP-2026-42", "decision_date": "2026-03-02"})
    envelope.refresh_from_db()
    assert envelope.status == EnvelopeStatus.COMMITTED
    lines = FundingLine.objects.filter(scheme=scheme, year=2026)
    assert lines.count() == 4
    assert sum(line.voted for line in lines) == D("60000.00")
    assert lines.get(structure__name="Centre 0").voted == D("13000.00")
    # The committed envelope keeps its decision and leads to each line it created.
    assert envelope.decision_reference == "AP-2026-42" and str(envelope.decision_date) == "2026-03-02"
    assert set(envelope.lines.all()) == set(lines)
    page = client.get(url).content.decode()
    assert "AP-2026-42 du 02/03/2026" in page
    links = re.findall(r'href="(/financements/lignes/[^"]+)"', page)
    assert sorted(links) == sorted(reverse("funding:line", args=[line.uuid]) for line in lines)
    for link in links:  # and each line leads back to its envelope
        assert f'href="{url}"' in client.get(link).content.decode()
    assert all(name in page for name in ["Centre 0", "Centre 1", "Centre 2", "EVS en QPV"])
    again = client.post(url, {"action": "commit", "decision_reference": "AP-2026-42", "decision_date": "2026-03-02"})
    assert again.status_code == 403  # committed: nothing more to do here
    assert lines.count() == 4


@pytest.mark.django_db
def test_envelopes_committed_before_the_link_find_their_lines_again():
    import importlib

    from django.apps import apps

    migration = importlib.import_module("cadre.funding.migrations.0008_link_committed_envelope_lines")
    load_default_schemes()
    state = PartnerFactory(name="Préfecture du Rhône", kind=PartnerKind.STATE, departments=["69"])
    officer = member(UserFactory(), state, Role.EDITOR)
    for i in range(3):
        StructureFactory(name=f"Centre {i}", priority_area_status=PriorityAreaStatus.IN_AREA)
    scheme = FundingScheme.objects.get(code="subvention-qpv")
    envelope = Envelope.objects.create(partner=state, scheme=scheme, year=2026, amount=D("30000"))
    actions.simulate_envelope(envelope, list(actions.eligible_structures(envelope)))
    lines = actions.commit_envelope(
        envelope, actor=officer, decision_reference="AP-2026-7", decision_date=datetime.date(2026, 2, 1)
    )
    other = FundingLine.objects.create(structure=lines[0].structure, partner=state, scheme=scheme, year=2025)
    # As a database migrated from before: no link, no decision on the envelope.
    FundingLine.objects.update(envelope=None)
    Envelope.objects.update(decision_reference="", decision_date=None)

    migration.link_lines(apps, None)

    envelope.refresh_from_db()
    assert set(envelope.lines.all()) == set(lines) and len(lines) == 3
    assert envelope.decision_reference == "AP-2026-7" and envelope.decision_date == datetime.date(2026, 2, 1)
    other.refresh_from_db()
    assert other.envelope is None  # another year's line stays apart
