"""The case with one note, document and action in each circle, and structure A's difficulty report, that the tests
of support cases share (the role × URL matrix, the confidentiality, the API)."""

import datetime

from cadre.accounts.models import Membership, Role, User
from cadre.agreements.models import Committee, CommitteeKind
from cadre.core.uploads import check_upload
from cadre.demo import cast
from cadre.monitoring import actions
from cadre.monitoring.case_models import Circle, DifficultyReport, SupportCase
from cadre.partners.models import Partner
from cadre.structures.models import Structure

CASE_TITLE = "Dossier d'essai des cercles"
MEMBER_EMAIL = "ville.marseille.essai@cadre.demo"
TEXTS = {
    Circle.BODY: "Note réservée à la cellule : le président démissionne",
    Circle.PARTNERS: "Note entre partenaires : le découvert atteint 80 000 €",
    Circle.STRUCTURE: "Note partagée : rendez-vous le 12 avec la direction",
}
PDF = b"%PDF-1.4\n% essai\n"


class Upload:
    """A small uploaded PDF, as check_upload reads it."""

    def __init__(self, name, content=PDF):
        self.name, self.content, self.size = name, content, len(content)

    def read(self):
        return self.content


def circles_case():
    """Structure B's case with a note, a document and an action in each circle (made once per database)."""
    found = SupportCase.objects.filter(title=CASE_TITLE).first()
    if found is not None:
        return found
    b = Structure.objects.get(memberships__user__email=cast.STRUCTURE_B)
    cell = Committee.objects.get(kind=CommitteeKind.SUPPORT, framework__department_id="13")
    marseille = Partner.objects.get(name="Ville de Marseille")
    member, _ = User.objects.get_or_create(email=MEMBER_EMAIL, defaults={"first_name": "Inès", "last_name": "Ville"})
    Membership.objects.get_or_create(user=member, partner=marseille, defaults={"role": Role.EDITOR})
    caf13 = User.objects.get(email=cast.CAF13)
    case = actions.open_case(b, committee=cell, actor=caf13, title=CASE_TITLE, members=[marseille.pk])
    for circle, text in TEXTS.items():
        actions.add_note(case, actor=caf13, text=text, circle=circle)
        actions.add_document(
            case,
            actor=caf13,
            checked=check_upload(Upload(f"piece-{circle}.pdf")),
            title=f"Pièce {circle}",
            circle=circle,
        )
        actions.add_action(
            case,
            actor=caf13,
            title=f"Action {circle}",
            due=datetime.date.today() + datetime.timedelta(days=10),
            circle=circle,
            owner=marseille,
        )
    return case


def a_report():
    found = DifficultyReport.objects.filter(description__startswith="Signalement d'essai").first()
    if found is not None:
        return found
    a = Structure.objects.get(memberships__user__email=cast.STRUCTURE_A)
    return actions.report_difficulty(
        a,
        actor=User.objects.get(email=cast.STRUCTURE_A),
        category="staff",
        description="Signalement d'essai : la directrice part à la fin du mois, sans remplaçant.",
        urgency="high",
        files=[check_upload(Upload("courrier.pdf"))],
    )
