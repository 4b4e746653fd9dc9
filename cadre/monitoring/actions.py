"""The life of a statement: entered, sent, then accepted or returned with the reason."""

from django.db import transaction
from django.utils import timezone

from cadre.accounts.models import WRITE_ROLES
from cadre.exchanges import registry
from cadre.exchanges.actions import (
    apply_checked,
    apply_in_worker,
    checked_fields,
    create_in_bulk,
    dry_run_in_worker,
    hand_over,
    in_chunks,
    locked_by_pk,
    update_in_bulk,
)
from cadre.exchanges.models import ImportStatus
from cadre.monitoring import alert_tasks, statement_file
from cadre.monitoring import receivers as alert_receivers
from cadre.monitoring.enums import StatementStatus
from cadre.monitoring.models import EDITABLE_STATUSES, FinancialStatement, StatementImport


class StatementStateError(Exception):
    """The statement is no longer in the state the action needs (someone acted meanwhile)."""


def _move(statement, allowed, user, **changes):
    """Change the statement's state if it still is in one of `allowed`, with its version, in one history entry."""
    with transaction.atomic():
        locked = FinancialStatement.objects.select_for_update().get(pk=statement.pk)
        if locked.status not in allowed:
            raise StatementStateError(f"Ces comptes sont désormais « {locked.get_status_display()} ».")
        for name, value in changes.items():
            setattr(locked, name, value)
        locked.save_tracked(expected_version=locked.version, user=user)
    return locked


def submit(statement, user):
    """Send the accounts to the partners, once they add up (the form has already checked them)."""
    statement.clean()
    return _move(
        statement,
        {StatementStatus.DRAFT, StatementStatus.RETURNED},
        user,
        status=StatementStatus.SUBMITTED,
        submitted_at=timezone.now(),
        submitted_by=user,
    )


def accept(statement, user):
    return _move(
        statement,
        {StatementStatus.SUBMITTED},
        user,
        status=StatementStatus.ACCEPTED,
        reviewed_at=timezone.now(),
        reviewed_by=user,
        review_comment="",
    )


def return_to_structure(statement, user, comment):
    return _move(
        statement,
        {StatementStatus.SUBMITTED},
        user,
        status=StatementStatus.RETURNED,
        reviewed_at=timezone.now(),
        reviewed_by=user,
        review_comment=comment,
    )


# -- annual accounts -----------------------------------------------------------------------------


def record_statement_import(user, name, content, report=None):
    """Store an uploaded file of annual accounts with its dry-run report (checked here unless `report` is
    given). FileRefused when the file cannot be read at all: nothing is stored then."""
    if report is None:
        report = statement_file.check_file(user, name, content)
    statement_import = StatementImport.of_file(user, name, content, **checked_fields(report))
    statement_import.save()
    return statement_import


def upload_statement_import(user, name, content):
    """Store a large file for the worker to check; its page follows the progress."""
    statement_import = StatementImport.of_file(user, name, content, status=ImportStatus.CHECKING)
    statement_import.save()
    alert_tasks.check_statement_import.enqueue(statement_import.pk)
    return statement_import


def check_statement_import(statement_import_pk):
    dry_run_in_worker(
        StatementImport,
        statement_import_pk,
        lambda it, progress: statement_file.check_file(
            it.uploaded_by, it.file_name, bytes(it.content), progress=progress
        ),
        checked_fields,
    )


def _write_statements(locked, pending, actor, report):
    """The statements of a checked file, as the dry run left them: the stored ones unchanged since (versions),
    still open to changes (draft or returned), the new ones not entered meanwhile, the importer still entitled."""
    creates, updates = pending["creates"], pending["updates"]
    stored = locked_by_pk(FinancialStatement, updates)
    for entry in updates:
        statement = stored.get(entry["pk"])
        if statement is None:
            report.add("ces comptes ont été supprimés depuis la vérification.", entry["row"], name=entry["name"])
        elif statement.version != entry["version"]:
            report.add(
                f"les comptes {statement.year} ont été modifiés depuis la vérification du fichier (le "
                f"{timezone.localtime(statement.updated_at):%d/%m/%Y à %H:%M}) : déposez le fichier à nouveau pour "
                "voir les changements.",
                entry["row"],
                name=entry["name"],
            )
        elif statement.status not in EDITABLE_STATUSES:
            report.add(
                f"les comptes {statement.year} sont désormais « {statement.get_status_display()} » : ils ne changent "
                "plus.",
                entry["row"],
                name=entry["name"],
            )
    years = {(entry["structure"], int(entry["fields"]["ends_on"][:4])): entry for entry in creates}
    for chunk in in_chunks({structure_id for structure_id, _ in years}):
        for key in FinancialStatement.objects.filter(structure_id__in=chunk).values_list("structure_id", "year"):
            if key in years:
                report.add(
                    f"des comptes {key[1]} de cette structure ont été saisis depuis la vérification : déposez le "
                    "fichier à nouveau (la ligne les mettra à jour).",
                    years[key]["row"],
                    name=years[key]["name"],
                )
    structure_ids = {entry["structure"] for entry in creates} | {s.structure_id for s in stored.values()}
    writable = None if actor.is_administrator else actor.structure_ids(WRITE_ROLES)
    if writable is not None and not structure_ids <= writable:
        report.add("vous n'avez plus le droit de saisir les comptes de toutes les structures du fichier.")
    if not report.ok:
        return
    now = timezone.now()
    new = []
    for entry in creates:
        values = statement_file.values_of(entry["fields"])
        new.append(FinancialStatement(structure_id=entry["structure"], year=values["ends_on"].year, **values))
    fields, touched = set(), []
    for entry in updates:
        statement = stored[entry["pk"]]
        for name, value in statement_file.values_of(entry["fields"]).items():
            setattr(statement, name, value)
            fields.add(name)
        statement.year = statement.ends_on.year
        statement.version += 1
        statement.updated_at = now
        touched.append(statement)
    with alert_receivers.paused():  # one recompute for the whole file, below, not one per statement
        create_in_bulk(FinancialStatement, new, actor, reason=statement_file.REASON)
        update_in_bulk(FinancialStatement, touched, fields | {"year"}, actor, reason=statement_file.REASON)
    if structure_ids:
        # In the transaction, as the receivers do: the database queue writes the task with the statement_import.
        alert_tasks.recompute_health.enqueue(sorted(structure_ids))


def apply_statement_import(statement_import, *, actor):
    """Write a checked file of annual accounts, all or nothing (see `_write_statements` for what is checked
    again). Returns the applied StatementImport; ImportRefused (French) otherwise, nothing written."""
    return apply_checked(
        StatementImport,
        statement_import,
        actor,
        registry.Report(target=statement_file.STATEMENTS),
        _write_statements,
        "Rien n'a été importé : des comptes ont changé depuis la vérification du fichier (voir les erreurs "
        "ci-dessous).",
    )


def start_statement_apply(statement_import, *, actor):
    hand_over(statement_import, actor, alert_tasks.apply_statement_import)


def apply_statements_in_background(statement_import_pk, actor_pk):
    apply_in_worker(StatementImport, statement_import_pk, actor_pk, apply_statement_import, defer=["content"])
