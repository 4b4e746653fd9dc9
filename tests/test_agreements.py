"""Agreements: periods, status steps, amendments that change signatories and period, editions, roadmap."""

import datetime

import pytest
from django.core.exceptions import ValidationError

from cadre.accounts.models import Role
from cadre.agreements import actions
from cadre.agreements.models import (
    Agreement,
    AgreementKind,
    AgreementStatus,
    FrameworkAgreement,
    ItemStatus,
    RoadmapItem,
    Signatory,
    SignatoryRole,
)
from cadre.agreements.permissions import can_manage_framework
from cadre.partners.models import PartnerKind
from cadre.territories.models import Commune, Department
from tests.factories import MARSEILLE_3E, VILLEURBANNE, PartnerFactory, StructureFactory, UserFactory, member

pytestmark = pytest.mark.django_db
day = datetime.date


@pytest.fixture
def partners():
    return {
        "state": PartnerFactory(name="Préfecture des Bouches-du-Rhône", kind=PartnerKind.STATE, departments=["13"]),
        "caf": PartnerFactory(name="Caf des Bouches-du-Rhône", kind=PartnerKind.CAF, departments=["13"]),
        "city": PartnerFactory(name="Ville de Marseille", kind=PartnerKind.COMMUNE, communes=["13055"]),
        "msa": PartnerFactory(name="MSA Provence-Azur", kind=PartnerKind.MSA, departments=["13"]),
        "federation": PartnerFactory(name="UCS 13", kind=PartnerKind.FEDERATION, departments=["13"]),
    }


@pytest.fixture
def framework(partners):
    framework = FrameworkAgreement.objects.create(
        title="Convention cadre des centres sociaux des Bouches-du-Rhône 2024-2027",
        department=Department.objects.get(code="13"),
        starts=day(2024, 1, 1),
        ends=day(2027, 12, 31),
        values=["Dignité humaine", "Solidarité", "Démocratie"],
    )
    Signatory.objects.create(framework=framework, partner=partners["state"], role=SignatoryRole.CO_CHAIR)
    Signatory.objects.create(framework=framework, partner=partners["caf"], role=SignatoryRole.CO_CHAIR)
    Signatory.objects.create(framework=framework, partner=partners["city"])
    return framework


class TestPeriods:
    def test_an_agreement_ending_before_it_starts_is_refused(self):
        agreement = Agreement(kind=AgreementKind.STRUCTURE, title="COF", starts=day(2025, 1, 1), ends=day(2024, 12, 31))
        with pytest.raises(ValidationError) as error:
            agreement.full_clean()
        assert error.value.message_dict["ends"] == ["La convention doit se terminer après son début (le 01/01/2025)."]

    def test_an_agreement_stays_within_its_framework(self, framework):
        agreement = Agreement(
            framework=framework,
            kind=AgreementKind.STRUCTURE,
            title="COF",
            starts=day(2024, 1, 1),
            ends=day(2028, 6, 30),
        )
        with pytest.raises(ValidationError) as error:
            agreement.full_clean()
        assert "du 01/01/2024 au 31/12/2027" in error.value.message_dict["ends"][0]

    def test_a_tripartite_agreement_names_its_city(self):
        agreement = Agreement(kind=AgreementKind.TRIPARTITE, title="T", starts=day(2024, 1, 1), ends=day(2027, 12, 31))
        with pytest.raises(ValidationError) as error:
            agreement.full_clean()
        assert "commune" in error.value.message_dict


class TestStatus:
    def test_signing_dates_the_signatures_and_follows_the_steps(self, framework):
        with pytest.raises(ValidationError, match="ne peut pas passer à « en vigueur »"):
            actions.change_status(framework, AgreementStatus.IN_FORCE, actor=None)
        with pytest.raises(ValidationError, match="date de signature"):
            actions.change_status(framework, AgreementStatus.SIGNED, actor=None)
        actions.change_status(framework, AgreementStatus.SIGNED, actor=None, signed_on=day(2024, 3, 14))
        framework.refresh_from_db()
        assert framework.status == AgreementStatus.SIGNED
        assert set(framework.signatories.values_list("signed_on", flat=True)) == {day(2024, 3, 14)}

    def test_one_party_cannot_sign_alone(self, partners):
        agreement = Agreement.objects.create(
            kind=AgreementKind.STRUCTURE, title="COF", starts=day(2024, 1, 1), ends=day(2025, 12, 31)
        )
        actions.add_party(agreement, partner=partners["caf"])
        with pytest.raises(ValidationError, match="deux parties"):
            actions.change_status(agreement, AgreementStatus.SIGNED, actor=None, signed_on=day(2024, 1, 2))


class TestAmendments:
    def test_an_amendment_extends_the_period_and_changes_the_signatories(self, framework, partners):
        amendment = actions.amend(
            framework,
            actor=None,
            signed_on=day(2025, 6, 1),
            purpose="Entrée de la MSA, sortie de la Ville, prolongation d'un an",
            new_end=day(2028, 12, 31),
            joined=[partners["msa"]],
            left=[partners["city"]],
        )
        framework.refresh_from_db()
        assert amendment.number == 1
        assert framework.extended_to == day(2028, 12, 31)
        assert framework.effective_end == day(2028, 12, 31)
        current = set(framework.signatories.filter(left_on__isnull=True).values_list("partner__name", flat=True))
        assert current == {"Préfecture des Bouches-du-Rhône", "Caf des Bouches-du-Rhône", "MSA Provence-Azur"}
        assert framework.signatories.get(partner=partners["city"]).left_on == day(2025, 6, 1)
        second = actions.amend(
            framework, actor=None, signed_on=day(2026, 1, 10), purpose="Retour de la Ville", joined=[partners["city"]]
        )
        assert second.number == 2
        assert framework.signatories.get(partner=partners["city"]).left_on is None

    def test_an_amendment_that_contradicts_the_agreement_is_refused_whole(self, framework, partners):
        with pytest.raises(ValidationError) as error:
            actions.amend(
                framework,
                actor=None,
                signed_on=day(2025, 6, 1),
                purpose="Incohérent",
                new_end=day(2027, 6, 30),
                joined=[partners["caf"]],
                left=[partners["msa"]],
            )
        errors = error.value.message_dict
        assert errors["new_end"] == ["La nouvelle fin doit suivre la fin actuelle (31/12/2027)."]
        assert errors["joined"] == ["Déjà signataire : Caf des Bouches-du-Rhône."]
        assert errors["left"] == ["Pas signataire en ce moment : MSA Provence-Azur."]
        assert not framework.amendments.exists()
        assert framework.signatories.count() == 3


class TestEditions:
    def test_a_renewal_keeps_who_joined_and_who_left(self, framework, partners):
        actions.change_status(framework, AgreementStatus.SIGNED, actor=None, signed_on=day(2024, 2, 1))
        actions.change_status(framework, AgreementStatus.IN_FORCE, actor=None)
        edition = actions.renew(
            framework, actor=None, title="Convention cadre 2028-2031", starts=day(2028, 1, 1), ends=day(2031, 12, 31)
        )
        Signatory.objects.filter(framework=edition, partner=partners["city"]).delete()
        Signatory.objects.create(framework=edition, partner=partners["federation"])
        joined, left = edition.signatory_changes()
        assert [p.name for p in joined] == ["UCS 13"]
        assert [p.name for p in left] == ["Ville de Marseille"]
        framework.refresh_from_db()
        assert framework.status == AgreementStatus.RENEWED
        assert [e.pk for e in edition.editions()] == [framework.pk, edition.pk]
        assert edition.values == ["Dignité humaine", "Solidarité", "Démocratie"]
        with pytest.raises(ValidationError, match="déjà une édition suivante"):
            actions.renew(framework, actor=None, title="Encore", starts=day(2028, 1, 1), ends=day(2031, 12, 31))


class TestRoadmap:
    def test_the_default_themes_and_the_late_items(self, partners):
        agreement = Agreement.objects.create(
            kind=AgreementKind.TRIPARTITE,
            title="Tripartite",
            commune=Commune.objects.get(code=VILLEURBANNE),
            starts=day(2024, 1, 1),
            ends=day(2027, 12, 31),
        )
        roadmap = actions.start_roadmap(agreement, actor=None)
        themes = list(roadmap.themes.all())
        assert [t.name for t in themes] == [
            "Territoire",
            "Valorisation, évaluation et communication",
            "Notion de projet",
            "Vie associative",
            "Modèle économique",
        ]
        late = RoadmapItem.objects.create(theme=themes[0], title="Diagnostic partagé", due=day(2024, 6, 30))
        RoadmapItem.objects.create(theme=themes[0], title="Fait", due=day(2024, 6, 30), status=ItemStatus.DONE)
        RoadmapItem.objects.create(theme=themes[1], title="À venir", due=day(2026, 6, 30))
        assert list(RoadmapItem.objects.late(today=day(2025, 1, 1))) == [late]
        assert late.is_late(today=day(2025, 1, 1))


class TestAccess:
    def test_who_sees_and_who_manages_a_framework(self, framework, partners):
        chair = member(UserFactory(), partners["caf"], Role.EDITOR)
        signatory = member(UserFactory(), partners["city"], Role.EDITOR)
        elsewhere = member(UserFactory(), PartnerFactory(kind=PartnerKind.CAF, departments=["69"]), Role.EDITOR)
        director = member(UserFactory(), StructureFactory(commune=Commune.objects.get(code=MARSEILLE_3E)))
        for user in (chair, signatory, director):
            assert framework in FrameworkAgreement.objects.visible_to(user)
        assert framework not in FrameworkAgreement.objects.visible_to(elsewhere)
        assert can_manage_framework(chair, framework)
        assert not can_manage_framework(signatory, framework)

    def test_an_agreement_is_seen_by_its_parties_and_those_who_see_its_structures(self, partners):
        structure = StructureFactory(commune=Commune.objects.get(code=MARSEILLE_3E))
        agreement = Agreement.objects.create(
            kind=AgreementKind.STRUCTURE, title="COF", starts=day(2024, 1, 1), ends=day(2025, 12, 31)
        )
        actions.add_party(agreement, partner=partners["city"])
        actions.add_party(agreement, structure=structure)
        caf_advisor = member(UserFactory(), partners["caf"], Role.VIEWER)  # the structure is in its territory
        director = member(UserFactory(), structure)
        other_director = member(UserFactory(), StructureFactory())
        for user in (caf_advisor, director):
            assert agreement in Agreement.objects.visible_to(user)
        assert agreement not in Agreement.objects.visible_to(other_director)


class TestAgreementPage:
    def test_structures_are_linked_when_the_visitor_sees_them_at_a_fixed_number_of_queries(self, client, partners):
        from django.db import connection
        from django.test.utils import CaptureQueriesContext
        from django.urls import reverse

        agreement = Agreement.objects.create(
            kind=AgreementKind.STRUCTURE, title="COF", starts=day(2024, 1, 1), ends=day(2025, 12, 31)
        )
        actions.add_party(agreement, partner=partners["caf"])
        seen = StructureFactory(name="Centre social du Panier", commune=Commune.objects.get(code=MARSEILLE_3E))
        unseen = StructureFactory(name="Centre social de Villeurbanne", commune=Commune.objects.get(code=VILLEURBANNE))
        actions.add_party(agreement, structure=seen)
        actions.add_party(agreement, structure=unseen)
        client.force_login(member(UserFactory(), partners["caf"], Role.VIEWER))
        url = reverse("agreements:detail", args=[agreement.uuid])
        client.get(url)
        with CaptureQueriesContext(connection) as few:
            page = client.get(url).content.decode()
        assert f'<a href="{reverse("structures:detail", args=[seen.uuid])}">Centre social du Panier</a>' in page
        assert "Centre social de Villeurbanne" in page
        assert reverse("structures:detail", args=[unseen.uuid]) not in page
        for _ in range(3):
            actions.add_party(agreement, structure=StructureFactory(commune=Commune.objects.get(code=MARSEILLE_3E)))
        with CaptureQueriesContext(connection) as more:
            client.get(url)
        assert len(more) == len(few)
