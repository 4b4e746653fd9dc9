"""Writes of the spreadsheet exchanges: recording a checked file, applying it in one transaction."""

import hashlib
import json

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from cadre.exchanges.models import AnswerImport, ImportStatus
from cadre.exchanges.observatory import CHUNK, FileRefused, check_file
from cadre.observatory.models import (
    NUMERIC_KINDS,
    Answer,
    QuestionKind,
    Submission,
    SubmissionEvent,
    SubmissionStatus,
)

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


def record_import(campaign, user, name, content, report=None):
    """Store an uploaded file with its dry-run report (checked here unless `report` is given).

    FileRefused when the file cannot be read at all: nothing is stored then.
    """
    if report is None:
        report = check_file(campaign, user, name, content)
    return AnswerImport.objects.create(
        campaign=campaign,
        file_name=name[:255],
        content=content,
        sha256=hashlib.sha256(content).hexdigest(),
        uploaded_by=user,
        status=ImportStatus.READY if report.ok else ImportStatus.DRY_RUN_FAILED,
        report=report.as_json(),
        checked_at=timezone.now(),
        **_counts(report),
    )


def _chunks(ids):
    ids = sorted(ids)
    for start in range(0, len(ids), CHUNK):
        yield ids[start : start + CHUNK]


def _check_unchanged(report, fingerprints):
    """Answers changed since the dry run (typed in the form, another import) would be overwritten unseen."""
    for submission_id, fingerprint in report.fingerprints.items():
        if fingerprints.get(submission_id) != fingerprint:
            submission = report.submissions[int(submission_id)]
            report.add(
                f"les réponses de {submission.structure.name} ont changé depuis la vérification du fichier : "
                "déposez-le à nouveau pour voir ce qu'il modifierait maintenant.",
                row=report.rows[int(submission_id)],
                structure=submission.structure.name,
            )


def _answer_rows(writes):
    """(submission id, question id, number, text, codes as JSON, version) of each answer to write."""
    number_field = Answer._meta.get_field("number")
    for write in writes:
        kind, value = write.question.kind, write.value
        number, text, codes = None, "", None
        if value is None:
            pass
        elif kind in NUMERIC_KINDS:
            number = number_field.get_db_prep_save(value, connection)
        elif kind == QuestionKind.BOOLEAN:
            number = number_field.get_db_prep_save(1 if value else 0, connection)
        elif kind == QuestionKind.MULTIPLE_CHOICE:
            codes = json.dumps(list(value))
        else:
            text = value
        yield write.submission_id, write.question.pk, number, text, codes, write.version + 1


def _upsert_answers(writes, actor, now):
    """Insert or update the answers of `writes`: INSERT … ON CONFLICT DO UPDATE (SQLite ≥ 3.24, PostgreSQL).

    Not bulk_create: it builds a model and prepares every field of every row, which made writing
    14,400 answers five times slower than reading their file. The comment (a warning's
    justification) is not updated: it is kept.
    """
    rows = list(_answer_rows(writes))
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


def _write(report, answer_import, actor):
    now = timezone.now()
    _upsert_answers(report.writes, actor, now)
    touched = {w.submission_id for w in report.writes}
    started = {pk for pk in touched if report.submissions[pk].status == SubmissionStatus.NOT_STARTED}
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


def apply_import(answer_import, *, actor, today=None):
    """Write a checked import, all or nothing: the stored file is checked again under lock first
    (states, rights, answers changed since the dry run). Returns the applied AnswerImport.

    ImportRefused (French) when anything fails: nothing is written, and the import keeps the new
    report (status « à corriger »).
    """
    try:
        with transaction.atomic():
            locked = (
                AnswerImport.objects.select_for_update()
                .select_related("campaign__questionnaire")
                .get(pk=answer_import.pk)
            )
            if locked.status == ImportStatus.APPLIED:
                moment = timezone.localtime(locked.applied_at)
                raise ImportRefused(f"Ce fichier a déjà été appliqué, le {moment:%d/%m/%Y à %H:%M}.")
            if locked.status != ImportStatus.READY:
                raise ImportRefused("Ce fichier contient des erreurs : corrigez-les, puis déposez-le à nouveau.")
            if locked.uploaded_by_id != actor.pk:
                raise ImportRefused("Seule la personne qui a déposé ce fichier peut l'appliquer.")
            try:
                report = check_file(
                    locked.campaign, actor, locked.file_name, bytes(locked.content), today=today, lock=True
                )
            except FileRefused as refused:
                raise ImportRefused(str(refused)) from None
            _check_unchanged(report, locked.report.get("fingerprints", {}))
            report.sort()
            if not report.ok:
                raise ImportRefused(
                    "Rien n'a été importé : la situation a changé depuis la vérification du fichier (voir les "
                    "erreurs ci-dessous).",
                    report,
                )
            _write(report, locked, actor)
            locked.status, locked.applied_at = ImportStatus.APPLIED, timezone.now()
            locked.report = report.as_json()
            for field, value in _counts(report).items():
                setattr(locked, field, value)
            locked.save(update_fields=["status", "applied_at", "report", *_counts(report)])
    except ImportRefused as refused:
        if refused.report is not None:
            AnswerImport.objects.filter(pk=answer_import.pk).update(
                status=ImportStatus.DRY_RUN_FAILED,
                report=refused.report.as_json(),
                checked_at=timezone.now(),
                **_counts(refused.report),
            )
        raise
    return locked
