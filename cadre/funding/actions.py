"""Funding workflows touching several records: multi-year commitments, payments.

Each is one transaction; refusals raise ValidationError with the French message before anything
is written (all or nothing).
"""

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from cadre.funding.models import (
    ZERO,
    Document,
    DocumentStatus,
    Envelope,
    EnvelopeKey,
    EnvelopeShare,
    EnvelopeStatus,
    FundingLine,
    ImpossibleSplit,
    Payment,
    SchemeCategory,
    euros,
    format_euros,
    split,
)
from cadre.partners.models import PartnerKind, territory_q
from cadre.structures.models import PriorityAreaStatus, Structure


def commit_multiyear(agreement, *, actor, partner, scheme, amounts, structures=None):
    """Funding lines of `partner` under `scheme` for each structure party to `agreement` (or
    `structures`) and each year of `amounts` ({year: voted or forecast amount}): the multi-year
    commitment of an agreement. Returns the lines created; refuses a year outside the agreement."""
    structures = list(structures if structures is not None else agreement.structures())
    if not structures:
        raise ValidationError("Aucune structure n'est partie à cette convention.")
    outside = sorted(year for year in amounts if year not in agreement.years())
    if outside:
        raise ValidationError(
            f"Hors de la période de la convention ({agreement.period_label}) : {', '.join(map(str, outside))}."
        )
    lines = []
    with transaction.atomic():
        for structure in structures:
            for year, amount in sorted(amounts.items()):
                line = FundingLine(
                    structure=structure,
                    partner=partner,
                    scheme=scheme,
                    year=year,
                    agreement=agreement,
                    forecast=euros(Decimal(amount)),
                )
                try:
                    line.full_clean()
                except ValidationError as error:
                    raise ValidationError(f"{structure.name}, {year} : " + " ".join(error.messages)) from error
                line.save_tracked(user=actor)
                lines.append(line)
    return lines


def record_payment(line, *, actor, kind, amount, paid_on, reference=""):
    """A payment on `line`, refused above the voted amount. The line is locked meanwhile, so two
    payments recorded at the same time cannot together exceed it."""
    with transaction.atomic():
        line = FundingLine.objects.select_for_update().select_related("scheme").get(pk=line.pk)
        payment = Payment(line=line, kind=kind, amount=amount, paid_on=paid_on, reference=reference)
        payment.full_clean()
        payment.save_tracked(user=actor)
    return payment


def deposit(structure, required, year, upload, *, actor):
    """A structure's file for a required document and a year (checked by documents.check_upload)."""
    from cadre.core.uploads import check_upload

    name, mime, content, digest = check_upload(upload)
    document = Document(
        structure=structure,
        required=required,
        year=year,
        file_name=name,
        content_type=mime,
        size=len(content),
        sha256=digest,
        content=content,
        uploaded_by=actor,
    )
    document.save()
    return document


def review(document, *, actor, accept, reason=""):
    """Accept a deposited document, or refuse it saying why."""
    reason = reason.strip()
    if not accept and not reason:
        raise ValidationError({"reason": "Dites pourquoi la pièce est refusée : la structure le lira."})
    with transaction.atomic():
        document = Document.objects.select_for_update().get(pk=document.pk)
        if document.status != DocumentStatus.SUBMITTED:
            raise ValidationError("Cette pièce a déjà été examinée.")
        document.status = DocumentStatus.ACCEPTED if accept else DocumentStatus.REJECTED
        document.rejection_reason = "" if accept else reason
        document.reviewed_by = actor
        document.reviewed_at = timezone.now()
        document.save(update_fields=["status", "rejection_reason", "reviewed_by", "reviewed_at"])
    return document


def envelope_bases(envelope, structures):
    """{structure id: basis} of the envelope's key: 1 each, the population of the zone served, or the
    FTE of the latest validated questionnaire up to the envelope's year (0 when unknown)."""
    ids = [s.pk for s in structures]
    if envelope.key == EnvelopeKey.SERVED_POPULATION:
        return {s.pk: Decimal(s.served_population or 0) for s in structures}
    if envelope.key == EnvelopeKey.FTE:
        from cadre.observatory.models import Answer, SubmissionStatus

        answers = (
            Answer.objects.filter(
                question__code="etp_total",
                number__isnull=False,
                submission__status=SubmissionStatus.VALIDATED,
                submission__structure_id__in=ids,
                submission__campaign__year__lte=envelope.year,
            )
            .order_by("submission__campaign__year")
            .values_list("submission__structure_id", "number")
        )
        latest = dict(answers)  # the latest year wins
        return {pk: Decimal(latest.get(pk) or 0) for pk in ids}
    return dict.fromkeys(ids, Decimal(1))


def simulate_envelope(envelope, structures):
    """Split the envelope among `structures` by its key, floor and cap (models.split); adjustments made
    by hand are dropped, since the split is new."""
    if not envelope.is_draft:
        raise ValidationError("Cette enveloppe est engagée : elle ne se simule plus.")
    bases = envelope_bases(envelope, structures)
    try:
        shares = split(envelope.amount, bases, envelope.floor, envelope.cap)
    except ImpossibleSplit as error:
        raise ValidationError(str(error)) from error
    with transaction.atomic():
        envelope.shares.all().delete()
        EnvelopeShare.objects.bulk_create(
            EnvelopeShare(envelope=envelope, structure_id=pk, basis=bases[pk], simulated=shares[pk]) for pk in bases
        )
    return envelope


def adjust_envelope(envelope, adjusted):
    """Set the shares adjusted by hand ({share id: amount or None to go back to the simulation})."""
    if not envelope.is_draft:
        raise ValidationError("Cette enveloppe est engagée : ses parts ne changent plus.")
    with transaction.atomic():
        for share in envelope.shares.select_for_update():
            if share.pk in adjusted:
                share.adjusted = None if adjusted[share.pk] is None else euros(adjusted[share.pk])
                share.save(update_fields=["adjusted"])


def commit_envelope(envelope, *, actor, decision_reference="", decision_date=None):
    """One funding line per share (voted when a decision is given, else forecast), in one transaction;
    refused when the shares do not add up to the envelope or a line already exists."""
    with transaction.atomic():
        envelope = Envelope.objects.select_for_update().select_related("partner", "scheme").get(pk=envelope.pk)
        if not envelope.is_draft:
            raise ValidationError("Cette enveloppe est déjà engagée.")
        shares = list(envelope.shares.select_related("structure"))
        if not shares:
            raise ValidationError("Simulez d'abord la répartition.")
        total = sum((share.final for share in shares), ZERO)
        if total != envelope.amount:
            raise ValidationError(
                f"Les parts font {format_euros(total)} pour une enveloppe de {format_euros(envelope.amount)} : "
                f"ajustez-les de {format_euros(envelope.amount - total)}."
            )
        lines = []
        for share in shares:
            if share.final == 0:
                continue
            line = FundingLine(
                structure=share.structure,
                partner=envelope.partner,
                scheme=envelope.scheme,
                year=envelope.year,
                forecast=share.final,
                voted=share.final if decision_reference else None,
                decision_reference=decision_reference,
                decision_date=decision_date if decision_reference else None,
            )
            try:
                line.full_clean()
            except ValidationError as error:
                raise ValidationError(f"{share.structure.name} : " + " ".join(error.messages)) from error
            line.save_tracked(user=actor)
            lines.append(line)
        envelope.status = EnvelopeStatus.COMMITTED
        envelope.committed_at = timezone.now()
        envelope.save_tracked(user=actor)
    return lines


def eligible_structures(envelope):
    """The structures an envelope is split among: open ones in the funder's territory (a federation's
    members), of the kind its scheme funds, in or near a QPV for a priority-area scheme."""
    partner, scheme = envelope.partner, envelope.scheme
    if partner.kind == PartnerKind.FEDERATION:
        structures = Structure.objects.filter(federation=partner)
    else:
        departments = set(partner.departments.values_list("code", flat=True))
        communes = set(partner.communes.values_list("code", flat=True))
        structures = Structure.objects.filter(territory_q(departments, communes))
    structures = structures.filter(closed_on__isnull=True)
    if scheme.structure_kind:
        structures = structures.filter(kind=scheme.structure_kind)
    if scheme.category == SchemeCategory.PRIORITY_AREA:
        structures = structures.exclude(priority_area_status=PriorityAreaStatus.NONE)
    return structures.order_by("name")


def apply_subsidy_import(subsidy_import, rows, chosen, *, actor):
    """Write the rows of a reviewed SCDL file as voted funding lines, or nothing.

    `chosen`: {row number: Structure or None} for the rows matched by name (None: left out). Rows matched
    by SIRET or SIREN go to their structure; unmatched rows are left out. Returns the lines written."""
    if subsidy_import.applied_at:
        raise ValidationError("Ce fichier a déjà été importé.")
    errors = [f"ligne {row.number} : {message}" for row in rows for message in row.errors]
    if errors:
        raise ValidationError(errors)
    lines = []
    with transaction.atomic():
        for row in rows:
            structure = row.structure if row.certain else chosen.get(row.number)
            if structure is None:
                continue
            line = FundingLine(
                structure=structure,
                partner=subsidy_import.partner,
                scheme=subsidy_import.scheme,
                year=row.year,
                forecast=row.amount,
                voted=row.amount,
                decision_reference=row.data.get("referenceDecision", "")[:100],
                decision_date=row.signed,
            )
            try:
                line.full_clean()
            except ValidationError as error:
                errors.append(f"ligne {row.number} ({structure.name}) : " + " ".join(error.messages))
                continue
            line.save_tracked(user=actor)
            lines.append(line)
        if errors:  # leaving the block by the exception undoes every line written above
            raise ValidationError(errors)
        subsidy_import.applied_at = timezone.now()
        subsidy_import.lines_written = len(lines)
        subsidy_import.save(update_fields=["applied_at", "lines_written"])
    return lines
