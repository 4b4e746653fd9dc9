"""Writes of the spreadsheet exchanges: recording a checked file, applying it in one transaction.

Large files are checked and applied by the worker (`tasks.py`): their page follows the progress.
"""

import datetime

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone
from simple_history.utils import bulk_create_with_history, bulk_update_with_history  # children: no relation sets

from cadre.exchanges import registry, tasks
from cadre.exchanges.models import AnswerImport, ImportStatus, RegistryImport
from cadre.exchanges.observatory import CHUNK, FileRefused, check_file, pending_writes, recheck
from cadre.observatory.models import Answer, Submission, SubmissionEvent, SubmissionStatus
from cadre.partners import permissions as partner_permissions
from cadre.partners.models import Partner
from cadre.structures import permissions as structure_permissions
from cadre.structures.models import Approval, Structure, StructureContact
from cadre.territories.models import Commune

ANSWER_FIELDS = ["number", "text", "codes", "version", "updated_by", "updated_at"]


class ImportRefused(Exception):
    """An import that cannot be applied; the message (French) says why. `report` holds the new errors."""

    def __init__(self, message, report=None):
        super().__init__(message)
        self.report = report


def _counts(report):
    return {
        "structure_count": report.structures,
        "answer_count": report.answers,
        "changed_count": report.changed,
        "error_count": report.error_count,
    }


def _checked(report):
    """Fields of an import once its file is checked: its report, and what applying it writes."""
    return {
        "status": ImportStatus.READY if report.ok else ImportStatus.DRY_RUN_FAILED,
        "report": report.as_json(),
        "pending": AnswerImport.pack(pending_writes(report)) if report.ok else None,
        "checked_at": timezone.now(),
        "progress": 100,
        "message": "",
        **_counts(report),
    }


def in_chunks(ids):
    ids = sorted(ids)
    for start in range(0, len(ids), CHUNK):
        yield ids[start : start + CHUNK]


def record_import(campaign, user, name, content, report=None):
    """Store an uploaded file with its dry-run report (checked here unless `report` is given).

    FileRefused when the file cannot be read at all: nothing is stored then.
    """
    if report is None:
        report = check_file(campaign, user, name, content)
    answer_import = AnswerImport.of_file(user, name, content, campaign=campaign, **_checked(report))
    answer_import.save()
    return answer_import


def upload_import(campaign, user, name, content):
    """Store a file for the worker to check (a large file takes longer than a request may)."""
    answer_import = AnswerImport.of_file(user, name, content, campaign=campaign, status=ImportStatus.CHECKING)
    answer_import.save()
    tasks.check_import.enqueue(answer_import.pk)
    return answer_import


def dry_run_in_worker(model, pk, check, checked, related=()):
    """The dry run of a stored file, as the worker runs it: the import's page follows `progress`.
    `check(the_import, progress)` gives the report, `checked(report)` the fields it sets."""
    the_import = model.objects.select_related("uploaded_by", *related).get(pk=pk)
    if the_import.status != ImportStatus.CHECKING:
        return

    def progress(share):
        model.objects.filter(pk=pk).update(progress=share)

    try:
        report = check(the_import, progress)
    except FileRefused as refused:
        fields = {"status": ImportStatus.DRY_RUN_FAILED, "message": str(refused), "checked_at": timezone.now()}
    except Exception:
        model.objects.filter(pk=pk).update(
            status=ImportStatus.DRY_RUN_FAILED,
            message="La vérification a échoué sur une erreur inattendue. Déposez le fichier à nouveau ; si l'erreur "
            "se répète, prévenez l'administrateur.",
        )
        raise
    else:
        fields = checked(report)
    model.objects.filter(pk=pk).update(**fields)


def hand_over(the_import, actor, task):
    """Hand a checked import to the worker. ImportRefused when it is not ready or already handed
    over (a second click): exactly one application runs."""
    if the_import.uploaded_by_id != actor.pk:
        raise ImportRefused("Seule la personne qui a déposé ce fichier peut l'appliquer.")
    handed = (
        type(the_import)
        .objects.filter(pk=the_import.pk, status=ImportStatus.READY)
        .update(status=ImportStatus.APPLYING, progress=0, message="")
    )
    if not handed:
        raise ImportRefused("Ce fichier n'est pas prêt à être appliqué : il est peut-être déjà appliqué, ou en cours.")
    task.enqueue(the_import.pk, actor.pk)


def apply_in_worker(model, pk, actor_pk, apply, defer):
    """`apply(the_import, actor=…)` as the worker runs it; an unexpected failure leaves the import ready to retry."""
    from cadre.accounts.models import User

    the_import = model.objects.defer(*defer).get(pk=pk)
    if the_import.status != ImportStatus.APPLYING:
        return
    try:
        apply(the_import, actor=User.objects.get(pk=actor_pk))
    except ImportRefused:
        pass  # the import says why, on its page
    except Exception:
        model.objects.filter(pk=pk, status=ImportStatus.APPLYING).update(
            status=ImportStatus.READY,
            message="L'application a échoué sur une erreur inattendue : rien n'a été écrit. Réessayez ; si "
            "l'erreur se répète, prévenez l'administrateur.",
        )
        raise


def check_import(answer_import_pk):
    dry_run_in_worker(
        AnswerImport,
        answer_import_pk,
        lambda it, progress: check_file(
            it.campaign, it.uploaded_by, it.file_name, bytes(it.content), progress=progress
        ),
        _checked,
        related=["campaign__questionnaire"],
    )


def _upsert_answers(rows, actor, now):
    """Insert or update the answers of `writes`: INSERT … ON CONFLICT DO UPDATE (SQLite ≥ 3.24, PostgreSQL).

    Not bulk_create: it builds a model and prepares every field of every row, which made writing
    14,400 answers five times slower than reading their file. The comment (a warning's
    justification) is not updated: it is kept.
    """
    if not rows:
        return
    field, quote = Answer._meta.get_field, connection.ops.quote_name
    names = ["submission", "question", "number", "text", "codes", "version", "comment", "updated_at", "updated_by"]
    columns = [quote(field(name).column) for name in names]
    insert = f"INSERT INTO {quote(Answer._meta.db_table)} ({', '.join(columns)}) "
    update = f" ON CONFLICT ({columns[0]}, {columns[1]}) DO UPDATE SET " + ", ".join(
        f"{quote(field(name).column)} = EXCLUDED.{quote(field(name).column)}" for name in ANSWER_FIELDS
    )
    stamp = field("updated_at").get_db_prep_save(now, connection)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Answers not stored yet go in by COPY, several times faster than an upsert: the file's
            # submissions are locked (as every answer save locks its submission), so none can appear meanwhile.
            fresh = [row for row in rows if row[5] == 1]
            if fresh:
                table = quote(Answer._meta.db_table)
                with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                    for row in fresh:
                        copy.write_row((*row, "", now, actor.pk))
                rows = [row for row in rows if row[5] != 1]
            # One array a column: psycopg reads every placeholder of a query in Python, and a long
            # VALUES list took three times longer.
            select = (
                "SELECT r.s, r.q, r.n, r.t, r.c::jsonb, r.v, '', %s, %s FROM unnest(%s::bigint[], %s::bigint[], "
                "%s::numeric[], %s::text[], %s::text[], %s::integer[]) AS r(s, q, n, t, c, v)"
            )
            for start in range(0, len(rows), 5000):
                arrays = [list(column) for column in zip(*rows[start : start + 5000], strict=True)]
                cursor.execute(insert + select + update, [stamp, actor.pk, *arrays])
            return
        # SQLite takes 999 parameters a statement (Django assumes no more).
        per_statement = (connection.features.max_query_params or 999) // len(columns)
        placeholder = f"({', '.join(['%s'] * len(columns))})"
        for start in range(0, len(rows), per_statement):
            batch = rows[start : start + per_statement]
            cursor.execute(
                insert + "VALUES " + ", ".join([placeholder] * len(batch)) + update,
                [value for row in batch for value in (*row, "", stamp, actor.pk)],
            )


def _write(rows, submissions, answer_import, actor):
    now = timezone.now()
    _upsert_answers(rows, actor, now)
    touched = {row[0] for row in rows}
    started = {pk for pk in touched if submissions[pk].status == SubmissionStatus.NOT_STARTED}
    SubmissionEvent.objects.bulk_create(
        SubmissionEvent(
            submission_id=pk,
            from_status=SubmissionStatus.NOT_STARTED,
            to_status=SubmissionStatus.DRAFT,
            actor=actor,
            comment=f"Import du fichier {answer_import.file_name}",
        )
        for pk in sorted(started)
    )
    for chunk in in_chunks(started):
        Submission.objects.filter(pk__in=chunk).update(
            status=SubmissionStatus.DRAFT, version=F("version") + 1, updated_at=now
        )
    for chunk in in_chunks(touched - started):
        Submission.objects.filter(pk__in=chunk).update(updated_at=now)


def _refused_fields(report, message):
    return {
        "status": ImportStatus.DRY_RUN_FAILED,
        "report": report.as_json(),
        "pending": None,
        "checked_at": timezone.now(),
        "message": message,
        "error_count": report.error_count,
    }


def apply_import(answer_import, *, actor, today=None):
    """Write a checked import, all or nothing. Under lock, the submissions' states, the actor's
    rights and the answers changed since the dry run are checked again; the file is not read again
    (it is frozen, and so is the campaign's questionnaire). Returns the applied AnswerImport.

    ImportRefused (French) when anything fails: nothing is written, and the import keeps the new
    report (status « à corriger »).
    """
    try:
        with transaction.atomic():
            locked = (
                AnswerImport.objects.select_for_update(of=("self",))
                .select_related("campaign__questionnaire")
                .defer("content")
                .get(pk=answer_import.pk)
            )
            if locked.status == ImportStatus.APPLIED:
                moment = timezone.localtime(locked.applied_at)
                raise ImportRefused(f"Ce fichier a déjà été appliqué, le {moment:%d/%m/%Y à %H:%M}.")
            if locked.status not in (ImportStatus.READY, ImportStatus.APPLYING):
                raise ImportRefused("Ce fichier contient des erreurs : corrigez-les, puis déposez-le à nouveau.")
            if locked.uploaded_by_id != actor.pk:
                raise ImportRefused("Seule la personne qui a déposé ce fichier peut l'appliquer.")
            pending = locked.unpacked_pending()
            if pending is None:
                raise ImportRefused("Ce fichier n'a pas été vérifié : déposez-le à nouveau.")
            report = recheck(locked.campaign, actor, pending, locked.report.get("fingerprints", {}), today=today)
            report.sort()
            if not report.ok:
                raise ImportRefused(
                    "Rien n'a été importé : la situation a changé depuis la vérification du fichier (voir les "
                    "erreurs ci-dessous).",
                    report,
                )
            _write(pending["writes"], report.submissions, locked, actor)
            locked.status, locked.applied_at = ImportStatus.APPLIED, timezone.now()
            locked.pending, locked.progress, locked.message = None, 100, ""
            locked.save(update_fields=["status", "applied_at", "pending", "progress", "message"])
    except ImportRefused as refused:
        if refused.report is not None:
            AnswerImport.objects.filter(pk=answer_import.pk).update(**_refused_fields(refused.report, str(refused)))
        else:
            AnswerImport.objects.filter(pk=answer_import.pk, status=ImportStatus.APPLYING).update(
                status=ImportStatus.READY, message=str(refused)
            )
        raise
    return locked


def start_apply(answer_import, *, actor):
    hand_over(answer_import, actor, tasks.apply_import)


def apply_in_background(answer_import_pk, actor_pk):
    apply_in_worker(AnswerImport, answer_import_pk, actor_pk, apply_import, defer=["content", "pending"])


# -- the registry: structures and partners -------------------------------------------------------


def checked_fields(report):
    return {
        "status": ImportStatus.READY if report.ok else ImportStatus.DRY_RUN_FAILED,
        "report": report.as_json(),
        "pending": RegistryImport.pack(report.pending) if report.ok else None,
        "checked_at": timezone.now(),
        "progress": 100,
        "message": "",
        "row_count": report.rows,
        "created_count": report.created,
        "updated_count": report.updated,
        "error_count": report.error_count,
    }


def record_registry_import(target, user, name, content, report=None):
    """Store an uploaded registry file with its dry-run report (checked here unless `report` is given).
    FileRefused when the file cannot be read at all: nothing is stored then."""
    if report is None:
        report = registry.check_file(target, user, name, content)
    registry_import = RegistryImport.of_file(user, name, content, target=target, **checked_fields(report))
    registry_import.save()
    return registry_import


def upload_registry_import(target, user, name, content):
    """Store a large file for the worker to check; its page follows the progress."""
    registry_import = RegistryImport.of_file(user, name, content, target=target, status=ImportStatus.CHECKING)
    registry_import.save()
    tasks.check_registry_import.enqueue(registry_import.pk)
    return registry_import


def check_registry_import(registry_import_pk):
    dry_run_in_worker(
        RegistryImport,
        registry_import_pk,
        lambda it, progress: registry.check_file(
            it.target, it.uploaded_by, it.file_name, bytes(it.content), progress=progress
        ),
        checked_fields,
    )


def locked_by_pk(model, entries):
    """The stored rows of `entries` (pk, version), locked until the end of the transaction."""
    rows = {}
    for chunk in in_chunks([entry["pk"] for entry in entries]):
        rows.update({row.pk: row for row in model.objects.select_for_update().filter(pk__in=chunk)})
    return rows


def _stale(report, entries, rows, noun):
    """Errors for the records changed (or deleted) since the dry run read them."""
    for entry in entries:
        row = rows.get(entry["pk"])
        if row is None:
            report.add(
                f"{noun} a été supprimé{'e' if noun.startswith('la') else ''} depuis la vérification.",
                entry.get("row"),
                name=entry.get("name", ""),
            )
        elif row.version != entry["version"]:
            report.add(
                f"{noun} a été modifié{'e' if noun.startswith('la') else ''} depuis la vérification du fichier "
                f"(le {timezone.localtime(row.updated_at):%d/%m/%Y à %H:%M}) : déposez le fichier à nouveau pour "
                "voir les changements.",
                entry.get("row"),
                name=entry.get("name", ""),
            )


def _dates(fields):
    return {
        key: datetime.date.fromisoformat(value) if key in DATE_KEYS and isinstance(value, str) else value
        for key, value in fields.items()
    }


DATE_KEYS = {"first_approval_date", "starts", "ends", "board", "board_decision_date"}


def _attname(key):
    """A field of the import's writes as the model stores it: the related ones by id."""
    return f"{key}_id" if key in registry.FOREIGN_KEYS else key


def _serialise_registry():
    """One registry import applies at a time: two files creating the same SIRET cannot both pass."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext('cadre-registry-import'))")


def _apply_structures(pending, actor, report):
    creates, updates = pending["creates"], pending["updates"]
    structures = locked_by_pk(Structure, updates)
    _stale(report, updates, structures, "la structure")
    sirets = [entry["siret"] for entry in creates]
    taken = set()
    for chunk in in_chunks(sirets):
        taken |= set(Structure.objects.filter(siret__in=chunk).values_list("siret", flat=True))
    for entry in creates:
        if entry["siret"] in taken:
            report.add(
                f"une structure de SIRET {entry['siret']} a été créée depuis la vérification : déposez le fichier à "
                "nouveau (la ligne la mettra à jour).",
                entry["row"],
            )
    approval_entries = [u for entry in updates for u in entry["approval_updates"]]
    contact_entries = [u for entry in updates for u in entry["contact_updates"]]
    approvals = locked_by_pk(Approval, approval_entries)
    contacts = locked_by_pk(StructureContact, contact_entries)
    _stale(report, approval_entries, approvals, "un agrément")
    _stale(report, contact_entries, contacts, "un contact")
    rights = registry.Rights(actor)
    if not rights.admin and not structure_permissions.can_create_structure(actor):
        report.add("vous n'avez plus le droit de modifier le répertoire.")
    if not report.ok:
        return
    now = timezone.now()
    new = [
        Structure(siret=entry["siret"], **{_attname(k): v for k, v in _dates(entry["fields"]).items()})
        for entry in creates
    ]
    changed_fields, touched = set(), []
    for entry in updates:
        structure = structures[entry["pk"]]
        for key, value in _dates(entry["fields"]).items():
            setattr(structure, _attname(key), value)
            changed_fields.add(key)
        structure.version += 1
        structure.updated_at = now
        touched.append(structure)
    # Someone else's import may have moved a structure meanwhile: the importer's reach, checked again.
    _check_scope(report, rights, new, touched)
    if not report.ok:
        return
    new = create_in_bulk(Structure, new, actor)
    update_in_bulk(Structure, touched, changed_fields, actor)
    created_areas = {structure.pk: entry["areas"] for entry, structure in zip(creates, new, strict=True)}
    _replace_relation(Structure, "priority_areas", created_areas, created=True)
    _replace_relation(Structure, "priority_areas", {e["pk"]: e["areas"] for e in updates if e["areas"] is not None})
    _relation_history(Structure, ["priority_areas"], [*new, *touched])
    by_entry = [(entry, structure.pk) for entry, structure in zip(creates, new, strict=True)]
    by_entry += [(entry, entry["pk"]) for entry in updates]
    new_approvals = [
        Approval(
            structure_id=pk,
            kind=a["kind"],
            **_dates({"starts": a["starts"], "ends": a["ends"]}),
            board_decision_date=_dates({"board": a["board"]})["board"],
        )
        for entry, pk in by_entry
        for a in entry["approvals"]
    ]
    bulk_create_with_history(
        new_approvals, Approval, batch_size=BATCH, default_user=actor, default_change_reason=REASON
    )
    _update_children(approvals, approval_entries, Approval, actor, now)
    new_contacts = [StructureContact(structure_id=pk, **c) for entry, pk in by_entry for c in entry["contacts"]]
    bulk_create_with_history(
        new_contacts, StructureContact, batch_size=BATCH, default_user=actor, default_change_reason=REASON
    )
    _update_children(contacts, contact_entries, StructureContact, actor, now)


REASON = "Import du répertoire"
BATCH = 500


def create_in_bulk(model, objects, actor, reason=REASON):
    """INSERT the new records by batches, with their history entries; returns them with their ids
    (PostgreSQL and SQLite ≥ 3.35 return them from the INSERT)."""
    objects = model.objects.bulk_create(objects, batch_size=BATCH)
    model.history.bulk_history_create(objects, batch_size=BATCH, default_user=actor, default_change_reason=reason)
    return objects


def update_in_bulk(model, objects, fields, actor, reason=REASON):
    if objects:
        model.objects.bulk_update(objects, sorted(set(fields) | {"version", "updated_at"}), batch_size=BATCH)
        model.history.bulk_history_create(
            objects, batch_size=BATCH, update=True, default_user=actor, default_change_reason=reason
        )


def _replace_relation(model, name, sets, created=False):
    """Set the relation `name` of each record (pk → target ids) to exactly the ids given."""
    field = model._meta.get_field(name)
    through = field.remote_field.through
    source, target = f"{field.m2m_field_name()}_id", f"{field.m2m_reverse_field_name()}_id"
    if not created:
        for chunk in in_chunks(sets):
            through.objects.filter(**{f"{source}__in": chunk}).delete()
    through.objects.bulk_create(
        [through(**{source: pk, target: code}) for pk, codes in sets.items() for code in codes], batch_size=1000
    )


def _relation_history(model, names, objects):
    """Relation sets in the history entries just written, as they now stand: the history diffs them, as
    after a form save (simple-history's bulk writes leave them out)."""
    pks = [o.pk for o in objects]
    records = {}
    for chunk in in_chunks(pks):
        # The newest entry of each record: the one written by this import.
        entries = model.history.filter(id__in=chunk).order_by("id", "history_date", "history_id")
        records.update(dict(entries.values_list("id", "history_id")))
    for name in names:
        field = model._meta.get_field(name)
        through, m2m_model = field.remote_field.through, model._history_recorder.m2m_models[field]
        source, target = f"{field.m2m_field_name()}_id", f"{field.m2m_reverse_field_name()}_id"
        rows = []
        for chunk in in_chunks(pks):
            for row_id, pk, code in through.objects.filter(**{f"{source}__in": chunk}).values_list(
                "id", source, target
            ):
                rows.append(m2m_model(id=row_id, history_id=records[pk], **{source: pk, target: code}))
        m2m_model.objects.bulk_create(rows, batch_size=1000)


def _check_scope(report, rights, created, updated):
    """Every structure the import writes within the importer's reach (a commune may have been changed
    by someone else meanwhile)."""
    if rights.admin:
        return
    communes = {}
    for chunk in in_chunks({s.commune_id for s in [*created, *updated]}):
        communes.update({c.pk: c for c in Commune.objects.filter(pk__in=chunk)})
    for structure in [*created, *updated]:
        if not rights.may_edit(communes[structure.commune_id], structure.federation_id, structure.pk):
            report.add(f"la structure « {structure.name} » serait hors de votre périmètre.")


def _update_children(rows, entries, model, actor, now):
    if not entries:
        return
    fields = set()
    for entry in entries:
        row = rows[entry["pk"]]
        for key, value in _dates(entry["fields"]).items():
            setattr(row, key, value)
            fields.add(key)
        row.version += 1
        row.updated_at = now
    bulk_update_with_history(
        [rows[entry["pk"]] for entry in entries],
        model,
        sorted(fields | {"version", "updated_at"}),
        batch_size=BATCH,
        default_user=actor,
        default_change_reason=REASON,
    )


def _apply_partners(pending, actor, report):
    creates, updates = pending["creates"], pending["updates"]
    partners = locked_by_pk(Partner, updates)
    _stale(report, updates, partners, "le partenaire")
    if not partner_permissions.can_create_partner(actor):
        report.add("vous n'avez plus le droit de modifier les partenaires.")
    taken = set(Partner.objects.exclude(siret="").values_list("siret", flat=True))
    for entry in creates:
        if entry["fields"].get("siret") in taken:
            report.add(
                "un partenaire de ce SIRET a été créé depuis la vérification : déposez le fichier à nouveau.",
                entry["row"],
            )
    if not report.ok:
        return
    now = timezone.now()
    new = [Partner(**entry["fields"]) for entry in creates]
    new = create_in_bulk(Partner, new, actor)
    fields = set()
    for entry in updates:
        partner = partners[entry["pk"]]
        for key, value in entry["fields"].items():
            setattr(partner, key, value)
            fields.add(key)
        partner.version += 1
        partner.updated_at = now
    update_in_bulk(Partner, [partners[entry["pk"]] for entry in updates], fields, actor)
    pairs = [(entry, p.pk) for entry, p in zip(creates, new, strict=True)] + [(e, e["pk"]) for e in updates]
    for relation in ("departments", "communes"):
        _replace_relation(
            Partner, relation, {pk: entry[relation] for entry, pk in pairs if entry[relation] is not None}
        )
    _relation_history(Partner, ["departments", "communes"], [*new, *(partners[e["pk"]] for e in updates)])


def apply_checked(model, the_import, actor, report, write, changed_message):
    """Write a checked import of `model`, all or nothing: `write(pending, actor, report)` re-checks under lock
    what the dry run read (versions, states, rights) and writes, or adds errors to `report` and writes nothing.
    Returns the applied import; ImportRefused (French) otherwise, the import keeping the new errors."""
    try:
        with transaction.atomic():
            locked = model.objects.select_for_update().defer("content").get(pk=the_import.pk)
            if locked.status == ImportStatus.APPLIED:
                moment = timezone.localtime(locked.applied_at)
                raise ImportRefused(f"Ce fichier a déjà été appliqué, le {moment:%d/%m/%Y à %H:%M}.")
            if locked.status not in (ImportStatus.READY, ImportStatus.APPLYING):
                raise ImportRefused("Ce fichier contient des erreurs : corrigez-les, puis déposez-le à nouveau.")
            if locked.uploaded_by_id != actor.pk:
                raise ImportRefused("Seule la personne qui a déposé ce fichier peut l'appliquer.")
            pending = locked.unpacked_pending()
            if pending is None:
                raise ImportRefused("Ce fichier n'a pas été vérifié : déposez-le à nouveau.")
            with transaction.atomic():
                write(locked, pending, actor, report)
                if not report.ok:
                    raise ImportRefused(changed_message, report)
            locked.status, locked.applied_at = ImportStatus.APPLIED, timezone.now()
            locked.pending, locked.progress, locked.message = None, 100, ""
            locked.save(update_fields=["status", "applied_at", "pending", "progress", "message"])
    except ImportRefused as refused:
        if refused.report is not None:
            refused.report.sort()
            model.objects.filter(pk=the_import.pk).update(
                status=ImportStatus.DRY_RUN_FAILED,
                report={**the_import.report, "errors": refused.report.errors},
                pending=None,
                message=str(refused),
                error_count=refused.report.error_count,
            )
        else:
            model.objects.filter(pk=the_import.pk, status=ImportStatus.APPLYING).update(
                status=ImportStatus.READY, message=str(refused)
            )
        raise
    return locked


def _write_registry(locked, pending, actor, report):
    _serialise_registry()
    if locked.target == registry.PARTNERS:
        _apply_partners(pending, actor, report)
    else:
        _apply_structures(pending, actor, report)


def apply_registry_import(registry_import, *, actor):
    """Write a checked registry file, all or nothing. Under lock, the records the dry run read are
    checked unchanged (versions), the SIRETs to create still free and the actor's rights still there;
    the file is not read again. Returns the applied RegistryImport; ImportRefused (French) otherwise,
    nothing written, the import keeping the new errors (« à corriger »)."""
    return apply_checked(
        RegistryImport,
        registry_import,
        actor,
        registry.Report(target=registry_import.target),
        _write_registry,
        "Rien n'a été importé : le répertoire a changé depuis la vérification du fichier (voir les erreurs "
        "ci-dessous).",
    )


def start_registry_apply(registry_import, *, actor):
    hand_over(registry_import, actor, tasks.apply_registry_import)


def apply_registry_in_background(registry_import_pk, actor_pk):
    apply_in_worker(RegistryImport, registry_import_pk, actor_pk, apply_registry_import, defer=["content"])
