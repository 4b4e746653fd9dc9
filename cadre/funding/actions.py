"""Funding workflows touching several records: multi-year commitments, payments.

Each is one transaction; refusals raise ValidationError with the French message before anything
is written (all or nothing).
"""

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from cadre.funding.models import Document, DocumentStatus, FundingLine, Payment, euros


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
    from cadre.funding.documents import check_upload

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
