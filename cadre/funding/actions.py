"""Funding workflows touching several records: multi-year commitments, payments.

Each is one transaction; refusals raise ValidationError with the French message before anything
is written (all or nothing).
"""

import hashlib
import re
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from simple_history.utils import bulk_create_with_history

from cadre.funding.models import (
    ZERO,
    Decision,
    Document,
    DocumentStatus,
    Envelope,
    EnvelopeKey,
    EnvelopeShare,
    EnvelopeStatus,
    FundingLine,
    ImpossibleSplit,
    Payment,
    RowStatus,
    SchemeCategory,
    SubsidyImport,
    SubsidyImportRow,
    SubsidyImportStatus,
    SubsidyMatchDecision,
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
                envelope=envelope,
            )
            try:
                line.full_clean()
            except ValidationError as error:
                raise ValidationError(f"{share.structure.name} : " + " ".join(error.messages)) from error
            line.save_tracked(user=actor)
            lines.append(line)
        envelope.status = EnvelopeStatus.COMMITTED
        envelope.committed_at = timezone.now()
        envelope.decision_reference = decision_reference
        envelope.decision_date = decision_date if decision_reference else None
        envelope.save_tracked(user=actor)
    return lines


def eligible_structures(envelope):
    """The structures an envelope is split among: open ones in the funder's territory (a federation's
    members), of the kind its scheme funds, in or near a QPV for a priority-area scheme."""
    scheme = envelope.scheme
    structures = partner_structures(envelope.partner)
    structures = (Structure.objects.none() if structures is None else structures).filter(closed_on__isnull=True)
    if scheme.structure_kind:
        structures = structures.filter(kind=scheme.structure_kind)
    if scheme.category == SchemeCategory.PRIORITY_AREA:
        structures = structures.exclude(priority_area_status=PriorityAreaStatus.NONE)
    return structures.order_by("name")


# -- SCDL « subventions » import -------------------------------------------------------------------
#
# Upload → check (inline for a small file, by the worker for a large one): every row is read,
# matched and stored once as a SubsidyImportRow → review: decisions by group, errors excluded in
# one step → confirm: every row to import is written in one transaction, or none.


def subsidy_key(structure_id, year, reference, amount):
    """The identity of one subsidy for a funder: never written twice, whatever the scheme."""
    text = f"{structure_id}|{year}|{reference.strip().lower()}|{euros(amount)}"
    return hashlib.sha256(text.encode()).hexdigest()


def _existing_subsidies(partner):
    """Keys of the funder's lines already recorded, by import or by hand (voted amounts)."""
    return {
        subsidy_key(structure_id, year, reference, voted)
        for structure_id, year, reference, voted in FundingLine.objects.filter(
            partner=partner, voted__isnull=False
        ).values_list("structure_id", "year", "decision_reference", "voted")
    }


def upload_subsidy_file(partner, scheme, user, name, content):
    """Store an SCDL file and check it: here when small, by the worker otherwise (its page shows
    the progress)."""
    from django.conf import settings

    from cadre.funding import tasks

    subsidy_import = SubsidyImport.objects.create(
        partner=partner,
        scheme=scheme,
        file_name=name[:150],
        content=content,
        sha256=hashlib.sha256(content).hexdigest(),
        uploaded_by=user,
    )
    if len(content) <= settings.CADRE_IMPORT_INLINE_MAX_BYTES:
        check_subsidy_import(subsidy_import.pk)
        subsidy_import.refresh_from_db()
    else:
        tasks.check_subsidy_import.enqueue(subsidy_import.pk)
    return subsidy_import


def partner_structures(partner):
    """The structures a partner funds by its nature: a federation's members, else those of its
    territory; None for a partner without a territory (a national funder)."""
    if partner.kind == PartnerKind.FEDERATION:
        return Structure.objects.filter(federation=partner)
    departments = set(partner.departments.values_list("code", flat=True))
    communes = set(partner.communes.values_list("code", flat=True))
    if not departments and not communes:
        return None
    return Structure.objects.filter(territory_q(departments, communes))


def _matcher(user, partner):
    """Identifiers are looked up among every structure the uploader may see; names among those of
    the funder's territory only (a homonym elsewhere in France is not proposed)."""
    from cadre.funding import scdl

    visible = Structure.objects.visible_to(user)
    registry = list(visible.values_list("pk", "name", "siret", "rna"))
    own = partner_structures(partner)
    scope = None if own is None else set(own.filter(pk__in=visible.values("pk")).values_list("pk", flat=True))
    return scdl.Matcher(registry, name_scope=scope)


def check_subsidy_import(subsidy_import_pk):
    """Read, check and match every row of a stored SCDL file, and store the rows for the review."""
    from cadre.funding import scdl

    subsidy_import = SubsidyImport.objects.select_related("partner", "uploaded_by").get(pk=subsidy_import_pk)
    if subsidy_import.status != SubsidyImportStatus.CHECKING:
        return

    def progress(share):
        SubsidyImport.objects.filter(pk=subsidy_import.pk).update(progress=share)

    try:
        parsed = scdl.parse(bytes(subsidy_import.content))
        if parsed.errors:
            SubsidyImport.objects.filter(pk=subsidy_import.pk).update(
                status=SubsidyImportStatus.REFUSED, message=" ".join(parsed.errors), checked_at=timezone.now()
            )
            return
        progress(20)
        rows = _checked_rows(subsidy_import, parsed.rows)
        progress(60)
        notes = list(parsed.notes)
        earlier = (
            SubsidyImport.objects.filter(
                partner=subsidy_import.partner, sha256=subsidy_import.sha256, status=SubsidyImportStatus.APPLIED
            )
            .select_related("applied_by")
            .first()
        )
        if earlier:
            notes.insert(
                0,
                f"Ce fichier a déjà été importé le {earlier.applied_at:%d/%m/%Y}"
                + (f" par {earlier.applied_by.display_name}" if earlier.applied_by else "")
                + " : ses subventions déjà enregistrées sont marquées « déjà importée ».",
            )
        with transaction.atomic():
            for start in range(0, len(rows), 2000):
                SubsidyImportRow.objects.bulk_create(rows[start : start + 2000])
                progress(60 + 40 * min(start + 2000, len(rows)) // len(rows))
            SubsidyImport.objects.filter(pk=subsidy_import.pk).update(
                status=SubsidyImportStatus.READY,
                schema_version=parsed.version,
                notes=notes,
                row_count=len(rows),
                checked_at=timezone.now(),
                progress=100,
            )
    except Exception:
        SubsidyImport.objects.filter(pk=subsidy_import.pk).update(
            status=SubsidyImportStatus.REFUSED,
            message="La vérification a échoué sur une erreur inattendue. Déposez le fichier à nouveau ; si l'erreur "
            "se répète, prévenez l'administrateur.",
        )
        raise


def _checked_rows(subsidy_import, parsed_rows):
    from cadre.funding import scdl

    partner = subsidy_import.partner
    matcher = _matcher(subsidy_import.uploaded_by, partner)
    remembered = dict(SubsidyMatchDecision.objects.filter(partner=partner).values_list("group_key", "structure_id"))
    existing = _existing_subsidies(partner)
    own_siren = re.sub(r"\D", "", partner.siret or "")[:9]
    seen = {}
    rows = []
    for parsed in parsed_rows:
        errors = list(parsed.errors)
        if own_siren and parsed.funder_id and parsed.funder_id[:9] != own_siren:
            errors.append(
                f"idAttribuant {parsed.funder_id} : ce n'est pas l'identifiant de {partner.name} ({partner.siret})."
            )
        row = SubsidyImportRow(
            subsidy_import=subsidy_import,
            number=parsed.number,
            name=parsed.name,
            identifier=parsed.identifier,
            rna=parsed.rna,
            signed=parsed.signed,
            year=parsed.year,
            amount=parsed.amount,
            reference=parsed.reference,
            purpose=parsed.purpose,
            warnings="\n".join(parsed.warnings),
            group_key=scdl.group_key(parsed),
        )
        rows.append(row)
        if errors:
            row.status, row.errors = RowStatus.ERROR, "\n".join(errors)
            continue
        match = matcher.match(parsed)
        row.candidates = [list(c) for c in match.candidates]
        if match.ambiguous:
            row.warnings = "\n".join(
                filter(None, [row.warnings, "Plusieurs structures portent un nom aussi proche : choisissez."])
            )
        if match.structure_id:
            row.status, row.structure_id = RowStatus.IDENTIFIER, match.structure_id
        else:
            row.status = RowStatus.NAME if match.kind == "name" else RowStatus.NONE
            if row.group_key in remembered:
                row.structure_id = remembered[row.group_key]
                row.decision = Decision.CHOSEN if row.structure_id else Decision.LEFT_OUT
                row.remembered = True
        if row.structure_id:
            key = subsidy_key(row.structure_id, row.year, row.reference, row.amount)
            if key in existing:
                row.status = RowStatus.ALREADY
            elif key in seen:
                row.status = RowStatus.ERROR
                row.errors = f"Même subvention que la ligne {seen[key]} (bénéficiaire, année, décision, montant)."
            else:
                seen[key] = row.number
    return rows


def decide_subsidy_group(subsidy_import, row, structure, *, actor, left_out=False):
    """One decision for every row of `row`'s group (same SIREN or same name): `structure`, none
    (`left_out`), or back to undecided; remembered for the funder's next files."""
    if subsidy_import.status != SubsidyImportStatus.READY:
        raise ValidationError("Cet import n'est plus à relire.")
    with transaction.atomic():
        rows = subsidy_import.rows.filter(group_key=row.group_key, status__in=[RowStatus.NAME, RowStatus.NONE])
        if structure is None and not left_out:
            SubsidyMatchDecision.objects.filter(partner=subsidy_import.partner, group_key=row.group_key).delete()
            return rows.update(decision=Decision.UNDECIDED, structure=None, remembered=False)
        SubsidyMatchDecision.objects.update_or_create(
            partner=subsidy_import.partner,
            group_key=row.group_key,
            defaults={"structure": structure, "decided_by": actor},
        )
        return rows.update(
            decision=Decision.LEFT_OUT if left_out else Decision.CHOSEN, structure=structure, remembered=False
        )


def exclude_error_rows(subsidy_import, *, exclude=True):
    if subsidy_import.status != SubsidyImportStatus.READY:
        raise ValidationError("Cet import n'est plus à relire.")
    return subsidy_import.rows.filter(status=RowStatus.ERROR).update(excluded=exclude)


def rows_to_import(subsidy_import):
    return subsidy_import.rows.filter(excluded=False, structure__isnull=False).filter(
        Q(status=RowStatus.IDENTIFIER) | Q(status__in=[RowStatus.NAME, RowStatus.NONE], decision=Decision.CHOSEN)
    )


def apply_subsidy_import(subsidy_import, *, actor):
    """Write every row to import as a voted funding line, in one transaction, or nothing.

    Refused while rows in error are not excluded; a subsidy recorded meanwhile (by another import
    or by hand) is skipped, not written twice. Returns the number of lines written."""
    with transaction.atomic():
        subsidy_import = (
            SubsidyImport.objects.select_for_update().select_related("partner", "scheme").get(pk=subsidy_import.pk)
        )
        if subsidy_import.status not in (SubsidyImportStatus.READY, SubsidyImportStatus.APPLYING):
            raise ValidationError(
                "Ce fichier a déjà été importé." if subsidy_import.applied_at else "Ce fichier n'est pas prêt."
            )
        blocking = subsidy_import.rows.filter(status=RowStatus.ERROR, excluded=False).count()
        if blocking:
            raise ValidationError(
                f"{blocking} ligne{'s' if blocking > 1 else ''} en erreur : excluez-les, ou corrigez le fichier et "
                "déposez-le de nouveau. Rien n'a été écrit."
            )
        partner, scheme = subsidy_import.partner, subsidy_import.scheme
        rows = list(rows_to_import(subsidy_import).select_related("structure").order_by("number"))
        refusals = []
        if scheme.partner_kind and partner.kind != scheme.partner_kind:
            refusals.append(
                f"« {scheme.name} » est versé par un partenaire de type {scheme.get_partner_kind_display()}."
            )
        for year in sorted({row.year for row in rows}):
            if not scheme.valid_for(year):
                numbers = [str(r.number) for r in rows if r.year == year][:10]
                refusals.append(
                    f"« {scheme.name} » ne s'applique pas en {year} ({scheme.years_label}) : "
                    f"lignes {', '.join(numbers)}"
                    + ("…" if len(numbers) == 10 else "")
                    + ". Choisissez un autre dispositif ou excluez ces années."
                )
        if scheme.structure_kind:
            for row in rows:
                if row.structure.kind != scheme.structure_kind and len(refusals) < 20:
                    refusals.append(
                        f"ligne {row.number} ({row.structure.name}) : « {scheme.name} » finance les structures de type "
                        f"{scheme.get_structure_kind_display().lower()}."
                    )
        if refusals:
            raise ValidationError(refusals)
        existing = _existing_subsidies(partner)
        lines, already = [], []
        for row in rows:
            key = subsidy_key(row.structure_id, row.year, row.reference, row.amount)
            if key in existing:
                already.append(row.pk)
                continue
            existing.add(key)
            lines.append(
                FundingLine(
                    structure_id=row.structure_id,
                    partner=partner,
                    scheme=scheme,
                    year=row.year,
                    forecast=row.amount,
                    voted=row.amount,
                    decision_reference=row.reference,
                    decision_date=row.signed,
                    import_key=key,
                )
            )
        try:
            bulk_create_with_history(lines, FundingLine, batch_size=500, default_user=actor)
        except IntegrityError:
            raise ValidationError(
                "Des subventions de ce fichier viennent d'être enregistrées par un autre import : rechargez la page."
            ) from None
        if already:
            subsidy_import.rows.filter(pk__in=already).update(status=RowStatus.ALREADY)
        subsidy_import.status = SubsidyImportStatus.APPLIED
        subsidy_import.applied_at = timezone.now()
        subsidy_import.applied_by = actor
        subsidy_import.lines_written = len(lines)
        subsidy_import.progress = 100
        subsidy_import.message = ""
        subsidy_import.save()
    return len(lines)


def start_subsidy_apply(subsidy_import, *, actor):
    """Hand a reviewed import to the worker; exactly one application runs (a second click is refused)."""
    from cadre.funding import tasks

    handed = SubsidyImport.objects.filter(pk=subsidy_import.pk, status=SubsidyImportStatus.READY).update(
        status=SubsidyImportStatus.APPLYING, progress=0, message=""
    )
    if not handed:
        raise ValidationError("Ce fichier n'est pas prêt à être importé : il l'est peut-être déjà, ou en cours.")
    tasks.apply_subsidy_import.enqueue(subsidy_import.pk, actor.pk)


def apply_subsidy_in_background(subsidy_import_pk, actor_pk):
    from cadre.accounts.models import User

    subsidy_import = SubsidyImport.objects.get(pk=subsidy_import_pk)
    if subsidy_import.status != SubsidyImportStatus.APPLYING:
        return
    try:
        apply_subsidy_import(subsidy_import, actor=User.objects.get(pk=actor_pk))
    except ValidationError as refused:
        SubsidyImport.objects.filter(pk=subsidy_import_pk).update(
            status=SubsidyImportStatus.READY, message=" ".join(refused.messages)
        )
    except Exception:
        SubsidyImport.objects.filter(pk=subsidy_import_pk, status=SubsidyImportStatus.APPLYING).update(
            status=SubsidyImportStatus.READY,
            message="L'import a échoué sur une erreur inattendue : rien n'a été écrit. Réessayez ; si l'erreur se "
            "répète, prévenez l'administrateur.",
        )
        raise
