"""Factories on real geography (the communes loaded by conftest)."""

import datetime

import factory

from cadre.accounts.models import Membership, Role, User
from cadre.partners.models import Partner, PartnerKind
from cadre.structures.models import Approval, ApprovalKind, Management, Structure, StructureKind
from cadre.territories.models import Commune, Department

VILLEURBANNE = "69266"
VENISSIEUX = "69259"
MARSEILLE_3E = "13203"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ["email"]
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"personne{n}@exemple.fr")
    first_name = "Camille"
    last_name = factory.Sequence(lambda n: f"Martin{n}")
    password = factory.django.Password("demo-cadre")


class PartnerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Partner
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Partenaire {n}")
    kind = PartnerKind.CAF

    @factory.post_generation
    def departments(self, create, codes, **kwargs):
        if create and codes:
            self.departments.set(Department.objects.filter(code__in=codes))

    @factory.post_generation
    def communes(self, create, codes, **kwargs):
        if create and codes:
            self.communes.set(Commune.objects.filter(code__in=codes))


class StructureFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Structure

    name = factory.Sequence(lambda n: f"Centre social n° {n}")
    kind = StructureKind.CENTRE_SOCIAL
    management = Management.ASSOCIATION
    commune = factory.LazyFunction(lambda: Commune.objects.get(code=VILLEURBANNE))


class ApprovalFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Approval

    structure = factory.SubFactory(StructureFactory)
    kind = ApprovalKind.SOCIAL_PROJECT
    starts = datetime.date(2024, 1, 1)
    ends = datetime.date(2027, 12, 31)


def member(user, organisation, role=Role.EDITOR):
    """Attach `user` to a partner or a structure."""
    field = "partner" if isinstance(organisation, Partner) else "structure"
    Membership.objects.create(user=user, role=role, **{field: organisation})
    user.forget_scope()
    return user
