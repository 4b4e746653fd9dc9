from django.urls import path, re_path

from . import views

app_name = "structures"

urlpatterns = [
    path("", views.structure_list, name="list"),
    re_path(r"^export\.(?P<fmt>csv|xlsx)$", views.structure_export, name="export"),
    path("nouvelle/", views.structure_create, name="create"),
    path("qpv-proposes/", views.priority_area_choices, name="priority_area_choices"),
    path("<uuid:uuid>/", views.structure_detail, name="detail"),
    path("<uuid:uuid>/modifier/", views.structure_edit, name="edit"),
    path("<uuid:uuid>/historique/", views.structure_history, name="history"),
    path("<uuid:uuid>/agrements/nouveau/", views.approval_create, name="approval_create"),
    path("agrements/<uuid:uuid>/modifier/", views.approval_edit, name="approval_edit"),
    path("agrements/<uuid:uuid>/supprimer/", views.approval_delete, name="approval_delete"),
    path("<uuid:uuid>/contacts/nouveau/", views.contact_create, name="contact_create"),
    path("<uuid:uuid>/contacts/<uuid:contact>/modifier/", views.contact_edit, name="contact_edit"),
    path("<uuid:uuid>/contacts/<uuid:contact>/supprimer/", views.contact_delete, name="contact_delete"),
    path("<uuid:uuid>/equipe/", views.structure_members, name="members"),
    path("contacts/donnees-personnelles/", views.contact_requests, name="contact_requests"),
]
