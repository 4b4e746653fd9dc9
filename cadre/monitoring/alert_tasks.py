"""Background tasks of the monitoring app, run by `manage.py db_worker`: the early warning (work in alerts.py)
and the accounts import (work in actions.py)."""

from django_tasks import task


@task()
def recompute_structure(structure_id):
    from cadre.monitoring.alerts import compute_statuses

    compute_statuses([structure_id])


@task()
def recompute_all():
    from cadre.monitoring.alerts import compute_statuses

    compute_statuses()


@task()
def check_statement_import(statement_import_pk):
    from cadre.monitoring.actions import check_statement_import as run

    run(statement_import_pk)


@task()
def apply_statement_import(statement_import_pk, actor_pk):
    from cadre.monitoring.actions import apply_statements_in_background

    apply_statements_in_background(statement_import_pk, actor_pk)


@task()
def recompute_health(structure_ids):
    """The health statuses of the structures whose accounts an import wrote: one recompute for the whole file."""
    from cadre.monitoring.alerts import compute_statuses

    compute_statuses(structure_ids)
