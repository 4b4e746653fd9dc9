"""Background tasks of the indicators, run by `manage.py db_worker`; the work is in compute.py."""

from django_tasks import task


@task()
def refresh_structure(structure_id, year):
    from cadre.indicators.compute import refresh_structure as run

    run(structure_id, year)


@task()
def rebuild(indicator_ids=None):
    from cadre.indicators.compute import rebuild as run

    run(indicator_ids=indicator_ids)


@task()
def render_report(export_pk):
    from cadre.indicators.exports import render_report_pdf

    render_report_pdf(export_pk)
