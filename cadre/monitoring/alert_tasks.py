"""Background tasks of the early warning, run by `manage.py db_worker`; the work is in alerts.py."""

from django_tasks import task


@task()
def recompute_structure(structure_id):
    from cadre.monitoring.alerts import compute_statuses

    compute_statuses([structure_id])


@task()
def recompute_all():
    from cadre.monitoring.alerts import compute_statuses

    compute_statuses()
