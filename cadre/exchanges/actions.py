"""Writes of the spreadsheet exchanges: recording a checked file, applying it in one transaction.

Large files are checked and applied by the worker (`tasks.py`): their page follows the progress.
"""

import hashlib

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from cadre.exchanges import tasks
from cadre.exchanges.models import AnswerImport, ImportStatus
from cadre.exchanges.observatory import CHUNK, FileRefused, check_file, pending_writes, recheck
from cadre.observatory.models import Answer, Submission, SubmissionEvent, SubmissionStatus

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


def _chunks(ids):
    ids = sorted(ids)
    for start in range(0, len(ids), CHUNK):
        yield ids[start : start + CHUNK]


def _new_import(campaign, user, name, content, **fields):
    return AnswerImport(
        campaign=campaign,
        file_name=name[:255],
        content=content,
        sha256=hashlib.sha256(content).hexdigest(),
        uploaded_by=user,
        **fields,
    )


def record_import(campaign, user, name, content, report=None):
    """Store an uploaded file with its dry-run report (checked here unless `report` is given).

    FileRefused when the file cannot be read at all: nothing is stored then.
    """
    if report is None:
        report = check_file(campaign, user, name, content)
    answer_import = _new_import(campaign, user, name, content, **_checked(report))
    answer_import.save()
    return answer_import


def upload_import(campaign, user, name, content):
    """Store a file for the worker to check (a large file takes longer than a request may)."""
    answer_import = _new_import(campaign, user, name, content, status=ImportStatus.CHECKING)
    answer_import.save()
    tasks.check_import.enqueue(answer_import.pk)
    return answer_import


def check_import(answer_import_pk):
    """The dry run of a stored file, as the worker runs it: the import's page follows `progress`."""
    answer_import = AnswerImport.objects.select_related("campaign__questionnaire", "uploaded_by").get(
        pk=answer_import_pk
    )
    if answer_import.status != ImportStatus.CHECKING:
        return

    def progress(share):
        AnswerImport.objects.filter(pk=answer_import.pk).update(progress=share)

    try:
        report = check_file(
            answer_import.campaign,
            answer_import.uploaded_by,
            answer_import.file_name,
            bytes(answer_import.content),
            progress=progress,
        )
    except FileRefused as refused:
        fields = {"status": ImportStatus.DRY_RUN_FAILED, "message": str(refused), "checked_at": timezone.now()}
    except Exception:
        AnswerImport.objects.filter(pk=answer_import.pk).update(
            status=ImportStatus.DRY_RUN_FAILED,
            message="La vérification a échoué sur une erreur inattendue. Déposez le fichier à nouveau ; si l'erreur "
            "se répète, prévenez l'administrateur.",
        )
        raise
    else:
        fields = _checked(report)
    AnswerImport.objects.filter(pk=answer_import.pk).update(**fields)


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
    for chunk in _chunks(started):
        Submission.objects.filter(pk__in=chunk).update(
            status=SubmissionStatus.DRAFT, version=F("version") + 1, updated_at=now
        )
    for chunk in _chunks(touched - started):
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
    """Hand a checked import to the worker. ImportRefused when it is not ready or already handed
    over (a second click): exactly one application runs."""
    if answer_import.uploaded_by_id != actor.pk:
        raise ImportRefused("Seule la personne qui a déposé ce fichier peut l'appliquer.")
    handed = AnswerImport.objects.filter(pk=answer_import.pk, status=ImportStatus.READY).update(
        status=ImportStatus.APPLYING, progress=0, message=""
    )
    if not handed:
        raise ImportRefused("Ce fichier n'est pas prêt à être appliqué : il est peut-être déjà appliqué, ou en cours.")
    tasks.apply_import.enqueue(answer_import.pk, actor.pk)


def apply_in_background(answer_import_pk, actor_pk):
    """`apply_import` as the worker runs it; an unexpected failure leaves the import ready to retry."""
    from cadre.accounts.models import User

    answer_import = AnswerImport.objects.defer("content", "pending").get(pk=answer_import_pk)
    if answer_import.status != ImportStatus.APPLYING:
        return
    try:
        apply_import(answer_import, actor=User.objects.get(pk=actor_pk))
    except ImportRefused:
        pass  # the import says why, on its page
    except Exception:
        AnswerImport.objects.filter(pk=answer_import_pk, status=ImportStatus.APPLYING).update(
            status=ImportStatus.READY,
            message="L'application a échoué sur une erreur inattendue : rien n'a été écrit. Réessayez ; si "
            "l'erreur se répète, prévenez l'administrateur.",
        )
        raise
