"""Workflows on agreements that touch several records: status steps, amendments, renewals.

Each runs in one transaction and leaves one history entry per record changed; a refusal raises
ValidationError with the French message, before anything is written.
"""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from cadre.agreements.models import (
    DEFAULT_THEMES,
    STATUS_STEPS,
    Agreement,
    AgreementStatus,
    Amendment,
    Decision,
    Event,
    FollowUp,
    FrameworkAgreement,
    Meeting,
    Registration,
    Roadmap,
    RoadmapTheme,
    Signatory,
)


def _owner_field(record):
    return "framework" if isinstance(record, FrameworkAgreement) else "agreement"


def change_status(record, status, *, actor, signed_on=None):
    """Move a framework agreement or an agreement to `status` along STATUS_STEPS. Signing needs two
    parties at least, and dates every signature not dated yet with `signed_on`."""
    with transaction.atomic():
        record = type(record).objects.select_for_update().get(pk=record.pk)
        if status not in STATUS_STEPS[record.status]:
            raise ValidationError(
                f"Une convention « {record.get_status_display().lower()} » ne peut pas passer à "
                f"« {AgreementStatus(status).label.lower()} »."
            )
        signatories = Signatory.objects.filter(**{_owner_field(record): record})
        if status == AgreementStatus.SIGNED:
            if signatories.count() < 2:
                raise ValidationError("Une convention se signe à deux parties au moins : ajoutez les signataires.")
            undated = signatories.filter(signed_on__isnull=True)
            if undated.exists() and signed_on is None:
                raise ValidationError("Indiquez la date de signature.")
            for signatory in undated:
                signatory.signed_on = signed_on
                signatory._change_reason = "signature"
                signatory.save()
        record.status = status
        record.save_tracked(user=actor)
    return record


def amend(record, *, actor, signed_on, purpose, new_end=None, joined=(), left=(), amount_change=None, description=""):
    """Record an amendment to a framework agreement or an agreement and apply what it changes: the
    period is extended to `new_end`; `joined` partners become signatories on `signed_on`; `left`
    partners leave on that day. Returns the amendment."""
    errors = {}
    field = _owner_field(record)
    current = {s.partner_id: s for s in Signatory.objects.filter(**{field: record}, partner__isnull=False)}
    end = record.effective_end if field == "framework" else record.ends
    if new_end and new_end <= end:
        errors["new_end"] = f"La nouvelle fin doit suivre la fin actuelle ({end:%d/%m/%Y})."
    already = [p.name for p in joined if p.pk in current and current[p.pk].left_on is None]
    if already:
        errors["joined"] = "Déjà signataire : " + ", ".join(already) + "."
    absent = [p.name for p in left if p.pk not in current or current[p.pk].left_on is not None]
    if absent:
        errors["left"] = "Pas signataire en ce moment : " + ", ".join(absent) + "."
    both = {p.pk for p in joined} & {p.pk for p in left}
    if both:
        errors["left"] = "Un partenaire ne peut pas entrer et sortir par le même avenant."
    if signed_on and signed_on < record.starts:
        errors["signed_on"] = f"Un avenant se signe après le début de la convention ({record.starts:%d/%m/%Y})."
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        record = type(record).objects.select_for_update().get(pk=record.pk)
        number = (
            Amendment.objects.filter(**{field: record}).order_by("-number").values_list("number", flat=True).first()
            or 0
        ) + 1
        amendment = Amendment(
            **{field: record},
            number=number,
            signed_on=signed_on,
            purpose=purpose,
            new_end=new_end,
            amount_change=amount_change,
            description=description,
        )
        amendment.full_clean()

        def relations():
            amendment.joined.set(joined)
            amendment.left.set(left)

        amendment.save_tracked(user=actor, save_relations=relations)
        for partner in joined:
            signatory = current.get(partner.pk)
            if signatory is None:
                Signatory.objects.create(**{field: record}, partner=partner, signed_on=signed_on)
            else:  # back after leaving
                signatory.left_on, signatory.signed_on = None, signed_on
                signatory.save()
        for partner in left:
            signatory = current[partner.pk]
            signatory.left_on = signed_on
            signatory.save()
        if new_end:
            if field == "framework":
                record.extended_to = new_end
            else:
                record.ends = new_end
            record.save_tracked(user=actor)
    return amendment


def renew(framework, *, actor, title, starts, ends):
    """The next edition of a framework agreement: same département, charter, values, purposes and
    current signatories (to sign again); the current edition becomes « renouvelée »."""
    with transaction.atomic():
        framework = FrameworkAgreement.objects.select_for_update().get(pk=framework.pk)
        if FrameworkAgreement.objects.filter(previous=framework).exists():
            raise ValidationError("Cette convention cadre a déjà une édition suivante.")
        if AgreementStatus.RENEWED not in STATUS_STEPS[framework.status]:
            raise ValidationError("Seule une convention en vigueur ou terminée se renouvelle.")
        edition = FrameworkAgreement(
            title=title,
            department=framework.department,
            starts=starts,
            ends=ends,
            charter=framework.charter,
            values=list(framework.values),
            purposes=list(framework.purposes),
            previous=framework,
        )
        edition.full_clean()
        edition.save_tracked(user=actor)
        for signatory in framework.signatories.filter(left_on__isnull=True):
            Signatory.objects.create(framework=edition, partner=signatory.partner, role=signatory.role)
        framework.status = AgreementStatus.RENEWED
        framework.save_tracked(user=actor)
    return edition


def start_roadmap(agreement, *, actor, title=None, themes=None):
    """An agreement's roadmap, with `themes` (Villeurbanne's five by default)."""
    if Roadmap.objects.filter(agreement=agreement).exists():
        raise ValidationError("Cette convention a déjà sa feuille de route.")
    with transaction.atomic():
        roadmap = Roadmap(agreement=agreement, title=title or f"Feuille de route : {agreement.title}")
        roadmap.save_tracked(user=actor)
        RoadmapTheme.objects.bulk_create(
            RoadmapTheme(roadmap=roadmap, position=i, name=name) for i, name in enumerate(themes or DEFAULT_THEMES)
        )
    return roadmap


def add_party(agreement, *, partner=None, structure=None, role=None, signed_on=None):
    if not isinstance(agreement, Agreement):
        raise TypeError(agreement)
    signatory = Signatory(agreement=agreement, partner=partner, structure=structure, signed_on=signed_on)
    if role:
        signatory.role = role
    signatory.full_clean()
    signatory.save()
    return signatory


def register(event, user):
    """Register `user` for `event`, within its places (the event is locked while counting them)."""
    with transaction.atomic():
        event = Event.objects.select_for_update().get(pk=event.pk)
        if Registration.objects.filter(event=event, user=user).exists():
            raise ValidationError("Vous êtes déjà inscrit.")
        if event.capacity is not None and event.registrations.count() >= event.capacity:
            raise ValidationError(f"Complet : les {event.capacity} places sont prises.")
        if event.starts_at <= timezone.now():
            raise ValidationError("Cet événement a déjà eu lieu.")
        return Registration.objects.create(event=event, user=user)


def add_decision(meeting, *, text, follow_ups=()):
    """A decision of `meeting` (numbered after the others) and the actions it calls for:
    follow_ups = [(title, owner partner or None, due date)]."""
    with transaction.atomic():
        meeting = Meeting.objects.select_for_update().get(pk=meeting.pk)
        number = (meeting.decisions.order_by("-number").values_list("number", flat=True).first() or 0) + 1
        decision = Decision.objects.create(meeting=meeting, number=number, text=text)
        for title, owner, due in follow_ups:
            FollowUp(decision=decision, title=title, owner=owner, due=due).save_tracked()
    return decision
