"""Observatory workflows that write several models at once, each in one transaction."""

import decimal

from django.conf import settings
from django.core import mail
from django.db import transaction
from django.utils import timezone

from cadre.accounts.models import WRITE_ROLES, Membership
from cadre.observatory import definitions
from cadre.observatory.models import (
    Question,
    Questionnaire,
    Rule,
    Section,
    Submission,
)
from cadre.structures.models import Structure, StructureKind

ALL_KINDS = [kind for kind, _ in StructureKind.choices]


class QuestionnaireInUse(ValueError):
    pass


def load_questionnaire(path):
    """Load a questionnaire file; returns (questionnaire, what happened: "created", "unchanged", "replaced").

    A version used by a campaign is frozen: changing its file is refused (make a new version).
    """
    data, digest = definitions.read(path)
    with transaction.atomic():
        existing = Questionnaire.objects.select_for_update().filter(code=data["code"], version=data["version"]).first()
        if existing is not None:
            if existing.digest == digest:
                return existing, "unchanged"
            if existing.campaigns.exists():
                raise QuestionnaireInUse(
                    f"La version {data['version']} du questionnaire « {data['code']} » sert déjà à une campagne : "
                    "elle ne peut plus changer. Donnez une nouvelle version au fichier (version = "
                    f"{data['version'] + 1})."
                )
            existing.delete()
        questionnaire = Questionnaire.objects.create(
            code=data["code"],
            version=data["version"],
            title=data["title"].strip(),
            description=data.get("description", "").strip(),
            digest=digest,
        )
        _create_parts(questionnaire, data)
    return questionnaire, "replaced" if existing is not None else "created"


def _create_parts(questionnaire, data):
    position = 0
    questions = []
    for section_position, section_data in enumerate(data["sections"], start=1):
        section_kinds = section_data.get("applies_to") or ALL_KINDS
        section = Section.objects.create(
            questionnaire=questionnaire,
            code=section_data["code"],
            position=section_position,
            title=section_data["title"].strip(),
            description=section_data.get("description", "").strip(),
            applies_to=section_kinds,
            registry=section_data.get("registry", []),
        )
        for item in section_data["questions"]:
            position += 1
            questions.append(
                Question(
                    questionnaire=questionnaire,
                    section=section,
                    code=item["code"],
                    position=position,
                    kind=item["type"],
                    label=item["label"].strip(),
                    help_text=item.get("help", "").strip(),
                    unit=item.get("unit", ""),
                    required=bool(item.get("required", False)),
                    min_value=_decimal(item.get("min")),
                    max_value=_decimal(item.get("max")),
                    choices=[{"code": c["code"], "label": c["label"].strip()} for c in item.get("choices", [])],
                    shown_if=item.get("shown_if", ""),
                    prefill=bool(item.get("prefill", False)),
                    change_threshold=_decimal(item.get("change_threshold")),
                    applies_to=item.get("applies_to") or section_kinds,
                )
            )
    Question.objects.bulk_create(questions)
    Rule.objects.bulk_create(
        Rule(
            questionnaire=questionnaire,
            code=rule["code"],
            position=number,
            level=rule["level"],
            condition=rule["check"],
            message=rule["message"].strip(),
            question_codes=rule["questions"],
        )
        for number, rule in enumerate(data.get("rules", []), start=1)
    )


def _decimal(value):
    return None if value is None else decimal.Decimal(repr(value))


class CampaignAlreadyOpen(ValueError):
    pass


def open_campaign(campaign, *, actor):
    """Open `campaign`: one submission per structure observed in its year, and an e-mail to each
    structure's contributors once the transaction is committed. Returns the submissions created."""
    with transaction.atomic():
        campaign = type(campaign).objects.select_for_update().get(pk=campaign.pk)
        if campaign.opened_at is not None:
            raise CampaignAlreadyOpen(
                f"La campagne « {campaign} » est déjà ouverte depuis le {campaign.opened_at:%d/%m/%Y}."
            )
        structures = list(Structure.objects.observed_in(campaign.year).filter(closed_on__isnull=True))
        submissions = Submission.objects.bulk_create(Submission(campaign=campaign, structure=s) for s in structures)
        campaign.opened_at = timezone.now()
        campaign.save(update_fields=["opened_at"])
        transaction.on_commit(lambda: send_opening_emails(campaign, structures))
    return submissions


def send_opening_emails(campaign, structures):
    """One e-mail per contributor of the structures, sent in one connection."""
    memberships = Membership.objects.filter(structure__in=structures, role__in=WRITE_ROLES, user__is_active=True)
    messages = [
        mail.EmailMessage(
            subject=f"Observatoire {campaign.year} : votre questionnaire est ouvert",
            body=(
                f"Bonjour,\n\nLa campagne « {campaign.title} » est ouverte : le questionnaire de "
                f"{membership.structure.name} sur l'année {campaign.year} est à remplir avant le "
                f"{campaign.closes_on:%d/%m/%Y}.\n\nVos réponses sont enregistrées au fil de la saisie ; vous pouvez "
                f"vous interrompre et reprendre plus tard.\n\n{settings.CADRE_OPERATOR['name']}"
            ),
            to=[membership.user.email],
        )
        for membership in memberships.select_related("user", "structure").order_by("structure__name", "user__email")
    ]
    if messages:
        mail.get_connection().send_messages(messages)
    return len(messages)
