from django.urls import path

from . import views

app_name = "monitoring"

urlpatterns = [
    path("structures/<uuid:uuid>/comptes/", views.statements, name="statements"),
    path("structures/<uuid:uuid>/comptes/nouveaux/", views.statement_create, name="statement_create"),
    path("comptes/<uuid:uuid>/", views.statement_detail, name="statement"),
    path("comptes/<uuid:uuid>/modifier/", views.statement_edit, name="statement_edit"),
    path("comptes/<uuid:uuid>/envoyer/", views.statement_submit, name="statement_submit"),
    path("comptes/<uuid:uuid>/examen/", views.statement_review, name="statement_review"),
]
