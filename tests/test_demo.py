"""The demo partnership (seed_demo): accounts, real geography, valid data, determinism, idempotence."""

import datetime
import hashlib
import random
from io import StringIO

import pytest
from django.contrib.auth import authenticate
from django.core.management import CommandError, call_command
from django.test import RequestFactory, override_settings
from django.urls import reverse
from django.utils import timezone
from stdnum.fr import siret as stdnum_siret

from cadre.accounts.models import Membership, Role, User
from cadre.demo import cast
from cadre.demo import seed as demo_seed
from cadre.demo.vocabulary import of
from cadre.partners.models import Partner, PartnerKind
from cadre.structures.models import (
    Approval,
    ApprovalKind,
    PriorityAreaStatus,
    Structure,
    StructureContact,
    StructureKind,
)

pytestmark = pytest.mark.django_db

CAST_ROLES = {
    cast.CAF69: ("Caf du Rhône", Role.EDITOR),
    cast.CAF13: ("Caf des Bouches-du-Rhône", Role.EDITOR),
    cast.CITY_VILLEURBANNE: ("Ville de Villeurbanne", Role.VIEWER),
    cast.FEDERATION69: ("Fédération des centres sociaux du Rhône et de la Métropole de Lyon", Role.EDITOR),
    cast.FEDERATION13: ("Union des centres sociaux des Bouches-du-Rhône", Role.EDITOR),
    cast.PREFECTURE13: ("Préfecture des Bouches-du-Rhône", Role.VIEWER),
    cast.METROPOLIS69: ("Métropole de Lyon", Role.VIEWER),
}


def digest():
    rows = sorted(f"{s.name}|{s.commune_id}|{s.siret}" for s in Structure.objects.all())
    return hashlib.sha256("\n".join(rows).encode()).hexdigest()


def wipe():
    # Without history: deleting 150 structures would otherwise write 150 « deleted » entries and more.
    with override_settings(SIMPLE_HISTORY_ENABLED=False):
        Structure.objects.all().delete()
        Partner.objects.all().delete()
        User.objects.all().delete()


def login_request():
    return RequestFactory().post(reverse("accounts:login"))


def test_cast_accounts_log_in_with_the_demo_password(demo):
    emails = [cast.ADMIN, *CAST_ROLES, cast.STRUCTURE_A, cast.STRUCTURE_B, cast.structure_editor(150)]
    for email in emails:
        user = authenticate(request=login_request(), username=email, password=cast.PASSWORD)
        assert user is not None and user.email == email, email
        assert user.first_name and user.last_name
    assert authenticate(request=login_request(), username=cast.CAF69, password="autre") is None
    admin = User.objects.get(email=cast.ADMIN)
    assert admin.is_superuser and admin.is_staff and admin.is_administrator


def test_login_page_accepts_a_demo_account(client, demo):
    response = client.post(reverse("accounts:login"), {"username": cast.CAF69, "password": cast.PASSWORD})
    assert response.status_code == 302
    assert client.get(reverse("accounts:profile")).status_code == 200


def test_partner_accounts_have_their_role(demo):
    for email, (partner_name, role) in CAST_ROLES.items():
        membership = Membership.objects.select_related("partner").get(user__email=email)
        assert (membership.partner.name, membership.role) == (partner_name, role), email


def test_about_150_structures_on_real_communes_of_69_and_13(demo):
    structures = list(Structure.objects.select_related("commune"))
    assert len(structures) == 150
    assert sum(s.kind == StructureKind.CENTRE_SOCIAL for s in structures) == 90
    for structure in structures:
        commune = structure.commune
        assert commune.department_id in {"69", "13"}, structure
        assert commune.code not in {"69123", "13055"}, "placer dans un arrondissement, pas dans la ville entière"
        assert structure.postal_code in commune.postal_code_list, structure
    villeurbanne = [s for s in structures if s.commune_id == "69266" and s.kind == StructureKind.CENTRE_SOCIAL]
    assert len(villeurbanne) == 6
    # Weighted by population: Marseille and Lyon arrondissements, and small communes for EVS.
    assert sum(s.commune.parent_id == "13055" for s in structures) >= 15
    assert sum(s.commune.parent_id == "69123" for s in structures) >= 5
    assert any(s.kind == StructureKind.EVS and s.commune.population < 5000 for s in structures)


def test_priority_areas_match_the_commune(demo):
    statuses = set()
    for structure in Structure.objects.select_related("commune").prefetch_related("priority_areas__communes"):
        areas = list(structure.priority_areas.all())
        assert structure.check_priority_areas(areas) is None, structure
        statuses.add(structure.priority_area_status)
        if structure.priority_area_status == PriorityAreaStatus.IN_AREA:
            for area in areas:
                listed = {c.code for c in area.communes.all()}
                assert listed & {structure.commune_id, structure.commune.parent_id}, (structure, area)
    assert statuses == set(PriorityAreaStatus.values)


def test_every_siret_is_valid_and_unique(demo):
    sirets = [s.siret for s in Structure.objects.all()] + [p.siret for p in Partner.objects.exclude(siret="")]
    assert all(stdnum_siret.is_valid(siret) for siret in sirets)
    assert len(set(sirets)) == len(sirets)


def test_records_pass_model_validation(demo):
    for structure in Structure.objects.select_related("commune"):
        structure.full_clean()
        assert 2 <= len(structure.project_axes) <= 5
        assert 1 <= structure.contacts.count() <= 3
    for approval in Approval.objects.select_related("structure"):
        approval.full_clean()  # duration 1 to 4 years, kind fits the structure, no overlap
    for contact in StructureContact.objects.all():
        contact.full_clean()
        assert contact.email.endswith("@exemple.fr")


def test_approvals_are_current_and_some_end_soon(demo):
    today = timezone.localdate()
    assert not Structure.objects.with_current_approval_end(today).filter(approval_ends__isnull=True).exists()
    assert Structure.objects.approval_ending_within(12, today).count() >= 10
    assert Structure.objects.approval_ending_within(3, today).exists()
    renewed = Approval.objects.filter(starts__gt=today, kind__in=[ApprovalKind.SOCIAL_PROJECT, ApprovalKind.EVS])
    assert renewed.exists()
    centres = Structure.objects.filter(kind=StructureKind.CENTRE_SOCIAL)
    with_family = centres.filter(approvals__kind=ApprovalKind.FAMILY_PROJECT).distinct().count()
    assert 0.4 * 90 <= with_family <= 0.8 * 90
    assert not Approval.objects.filter(structure__kind=StructureKind.EVS).exclude(kind=ApprovalKind.EVS).exists()
    assert Approval.objects.filter(ends__lt=today).exists()


def test_structures_a_and_b_are_centres_in_different_departements(demo):
    a = Structure.objects.get(memberships__user__email=cast.STRUCTURE_A)
    b = Structure.objects.get(memberships__user__email=cast.STRUCTURE_B)
    assert a.kind == b.kind == StructureKind.CENTRE_SOCIAL
    assert a.commune_id == "69266"
    assert b.commune.parent_id == "13055"
    assert a.federation.email and a.federation.kind == PartnerKind.FEDERATION
    assert a.federation == Partner.objects.get(memberships__user__email=cast.FEDERATION69)
    assert a.approvals.exists() and a.contacts.exists()


def test_each_structure_has_exactly_one_editor_from_the_cast(demo):
    memberships = list(
        Membership.objects.filter(user__email__startswith="structure-").select_related("user", "structure")
    )
    assert len(memberships) == 150
    assert {m.user.email for m in memberships} == {cast.structure_editor(n) for n in range(1, 151)}
    assert all(m.role == Role.EDITOR and m.structure_id and not m.partner_id for m in memberships)
    assert len({m.structure_id for m in memberships}) == 150
    per_user = Membership.objects.filter(user__email__startswith="structure-").values("user").distinct().count()
    assert per_user == 150


def test_history_records_the_creation_with_the_priority_areas(demo):
    admin = User.objects.get(email=cast.ADMIN)
    structure = Structure.objects.filter(priority_area_status=PriorityAreaStatus.IN_AREA).first()
    record = structure.history.get()
    assert record.history_type == "+" and record.history_user == admin
    assert set(record.priority_areas.values_list("priorityarea_id", flat=True)) == set(
        structure.priority_areas.values_list("code", flat=True)
    )
    assert Approval.history.filter(structure_id=structure.pk).count() == structure.approvals.count()
    caf = Partner.objects.get(short_name="Caf 69")
    assert list(caf.history.get().departments.values_list("department_id", flat=True)) == ["69"]


def test_seed_is_deterministic_whatever_the_day(demo):
    first = digest()
    wipe()
    summary = demo_seed.seed(today=datetime.date(2025, 3, 14))
    assert summary["structures"] == 150
    assert digest() == first
    wipe()
    demo_seed.seed(seed=7)
    assert digest() != first


def test_second_run_is_refused_and_if_empty_does_nothing(demo):
    with pytest.raises(CommandError, match="existent déjà"):
        call_command("seed_demo", verbosity=0)
    out = StringIO()
    call_command("seed_demo", "--if-empty", stdout=out)
    assert "existent déjà" in out.getvalue()
    assert Structure.objects.count() == 150


def test_national_scale_needs_the_whole_geography(demo):
    wipe()
    with pytest.raises(CommandError, match="load_territories"):
        call_command("seed_demo", "--scale", "national", verbosity=0)
    assert not Structure.objects.exists()


def test_national_builder_on_the_loaded_departements(demo, monkeypatch):
    # The real run needs all of France (see benchmarks/); here, the same code on 69 and 13, scaled down.
    wipe()
    monkeypatch.setattr(demo_seed, "FULL_GEOGRAPHY_MIN_COMMUNES", 0)
    monkeypatch.setattr(demo_seed, "NATIONAL_CENTRES", 40)
    monkeypatch.setattr(demo_seed, "NATIONAL_EVS", 20)
    monkeypatch.setattr(demo_seed, "NATIONAL_STRUCTURE_EDITORS", 10)
    summary = demo_seed.seed(scale="national")
    assert summary["structures"] == 60
    assert set(Partner.objects.values_list("name", flat=True)) == {
        "Caf du Rhône",
        "Caf des Bouches-du-Rhône",
        "Fédération des centres sociaux du Rhône",
        "Fédération des centres sociaux des Bouches-du-Rhône",
    }
    for structure in Structure.objects.prefetch_related("priority_areas__communes"):
        assert structure.check_priority_areas(structure.priority_areas.all()) is None
        assert structure.approvals.exists()
    assert Membership.objects.filter(user__email__startswith="contributeur-").count() == 10
    assert not User.objects.filter(email=cast.STRUCTURE_A).exists()
    assert authenticate(request=login_request(), username=cast.CAF69, password=cast.PASSWORD)


def test_demo_accounts_lists_the_cast(demo):
    out = StringIO()
    call_command("demo_accounts", stdout=out)
    text = out.getvalue()
    assert cast.PASSWORD in text
    for email in [cast.ADMIN, *CAST_ROLES]:
        assert email in text
    assert "structure-001 … structure-150@cadre.demo" in text
    assert Structure.objects.get(memberships__user__email=cast.STRUCTURE_A).name in text


def test_demo_accounts_without_demo_says_so():
    wipe()
    out = StringIO()
    call_command("demo_accounts", stdout=out)
    assert "Pas de comptes de démonstration" in out.getvalue()
    assert cast.PASSWORD not in out.getvalue()


def test_helpers():
    used = set()
    sirets = [demo_seed.make_siret(random.Random(1), "78", used) for _ in range(50)]
    assert all(stdnum_siret.is_valid(s) for s in sirets) and len(set(sirets)) == 50
    counts = demo_seed.largest_remainder({"a": 10, "b": 30, "c": 0}, 20)
    assert sum(counts.values()) == 20 and counts["c"] == 1 and counts["b"] > counts["a"]
    assert [of("Arles"), of("La Ciotat"), of("Les Pennes-Mirabeau"), of("le Moulin", proper=False)] == [
        "d'Arles",
        "de La Ciotat",
        "des Pennes-Mirabeau",
        "du Moulin",
    ]
