"""Background tasks of funding, run by `manage.py db_worker`: the work itself is in actions.py."""

from django_tasks import task


@task()
def check_subsidy_import(subsidy_import_pk):
    from cadre.funding.actions import check_subsidy_import as run

    run(subsidy_import_pk)


@task()
def apply_subsidy_import(subsidy_import_pk, actor_pk):
    from cadre.funding.actions import apply_subsidy_in_background

    apply_subsidy_in_background(subsidy_import_pk, actor_pk)
