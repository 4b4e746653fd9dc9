"""Background tasks of the exchanges, run by `manage.py db_worker`: the work itself is in actions.py."""

from django_tasks import task


@task()
def check_import(answer_import_pk):
    from cadre.exchanges.actions import check_import as run

    run(answer_import_pk)


@task()
def apply_import(answer_import_pk, actor_pk):
    from cadre.exchanges.actions import apply_in_background

    apply_in_background(answer_import_pk, actor_pk)


@task()
def check_registry_import(registry_import_pk):
    from cadre.exchanges.actions import check_registry_import as run

    run(registry_import_pk)


@task()
def apply_registry_import(registry_import_pk, actor_pk):
    from cadre.exchanges.actions import apply_registry_in_background

    apply_registry_in_background(registry_import_pk, actor_pk)
