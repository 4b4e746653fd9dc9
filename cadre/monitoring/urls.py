from django.urls import path, re_path

from . import views, views_import

app_name = "monitoring"

urlpatterns = [
    path("structures/<uuid:uuid>/comptes/", views.statements, name="statements"),
    path("structures/<uuid:uuid>/comptes/nouveaux/", views.statement_create, name="statement_create"),
    path("comptes/<uuid:uuid>/", views.statement_detail, name="statement"),
    path("comptes/<uuid:uuid>/modifier/", views.statement_edit, name="statement_edit"),
    path("comptes/<uuid:uuid>/envoyer/", views.statement_submit, name="statement_submit"),
    path("comptes/<uuid:uuid>/examen/", views.statement_review, name="statement_review"),
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
