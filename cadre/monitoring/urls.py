from django.urls import path, re_path

from . import views, views_cases, views_import

app_name = "monitoring"

urlpatterns = [
    path("structures/<uuid:uuid>/comptes/", views.statements, name="statements"),
    path("structures/<uuid:uuid>/comptes/nouveaux/", views.statement_create, name="statement_create"),
    path("comptes/<uuid:uuid>/", views.statement_detail, name="statement"),
    path("comptes/<uuid:uuid>/modifier/", views.statement_edit, name="statement_edit"),
    path("comptes/<uuid:uuid>/envoyer/", views.statement_submit, name="statement_submit"),
    path("comptes/<uuid:uuid>/examen/", views.statement_review, name="statement_review"),
    # Difficulty reports and support cases (views_cases.py)
    path("structures/<uuid:uuid>/signalements/", views_cases.reports, name="reports"),
    path("structures/<uuid:uuid>/signalements/nouveau/", views_cases.report_create, name="report_create"),
    path("signalements/<uuid:uuid>/", views_cases.report_detail, name="report"),
    path("signalements/pieces/<uuid:uuid>/", views_cases.report_attachment, name="report_attachment"),
    path("dossiers/", views_cases.cases, name="cases"),
    path("dossiers/nouveau/", views_cases.case_create, name="case_create"),
    path("dossiers/<uuid:uuid>/", views_cases.case_detail, name="case"),
    path("dossiers/<uuid:uuid>/notes/", views_cases.case_note, name="case_note"),
    path("dossiers/<uuid:uuid>/documents/", views_cases.case_document, name="case_document"),
    path("dossiers/documents/<uuid:uuid>/", views_cases.case_document_download, name="case_document_download"),
    path("dossiers/<uuid:uuid>/actions/", views_cases.case_action, name="case_action"),
    path("dossiers/actions/<uuid:uuid>/faite/", views_cases.case_action_done, name="case_action_done"),
    path("dossiers/actions/<uuid:uuid>/modifier/", views_cases.case_action_edit, name="case_action_edit"),
    path("dossiers/<uuid:uuid>/etat/", views_cases.case_status, name="case_status"),
    path("dossiers/<uuid:uuid>/liens/", views_cases.case_link, name="case_link"),
    path("dossiers/<uuid:uuid>/plan/", views_cases.case_plan, name="case_plan"),
]

from . import views_alerts  # noqa: E402 — the early warning's pages

urlpatterns += [
    path("alertes/", views_alerts.alerts, name="alerts"),
    re_path(r"^alertes/export\.(?P<fmt>csv|xlsx)$", views_alerts.alerts_export, name="alerts_export"),
    path("alertes/abonnement/", views_alerts.subscribe_all, name="alerts_subscribe_all"),
    path("alertes/regles/", views_alerts.rules, name="rules"),
    path("alertes/regles/nouvelle/", views_alerts.rule_create, name="rule_create"),
    path("alertes/regles/<uuid:uuid>/", views_alerts.rule_edit, name="rule_edit"),
    path("alertes/regles/<uuid:uuid>/activation/", views_alerts.rule_toggle, name="rule_toggle"),
    path("structures/<uuid:uuid>/sante/", views_alerts.health, name="health"),
    path("structures/<uuid:uuid>/sante/abonnement/", views_alerts.subscribe, name="health_subscribe"),
    path(
        "structures/<uuid:uuid>/sante/<int:year>/prise-en-compte/",
        views_alerts.acknowledge,
        name="alert_acknowledge",
    ),
    path("comptes/import/", views_import.statement_import, name="statement_import"),
    path("comptes/import/modele.xlsx", views_import.statement_template, name="statement_template"),
    path("comptes/import/<uuid:uuid>/", views_import.statement_import_detail, name="statement_import_detail"),
    path("comptes/import/<uuid:uuid>/appliquer/", views_import.statement_import_apply, name="statement_import_apply"),
]
