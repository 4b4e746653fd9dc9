from django.urls import path

from . import views, views_cases

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
    path("dossiers/<uuid:uuid>/etat/", views_cases.case_status, name="case_status"),
    path("dossiers/<uuid:uuid>/liens/", views_cases.case_link, name="case_link"),
    path("dossiers/<uuid:uuid>/plan/", views_cases.case_plan, name="case_plan"),
]
