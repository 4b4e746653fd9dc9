from django.urls import path

from . import views

app_name = "partners"

urlpatterns = [
    path("", views.partner_list, name="list"),
    path("nouveau/", views.partner_create, name="create"),
    path("<uuid:uuid>/", views.partner_detail, name="detail"),
    path("<uuid:uuid>/modifier/", views.partner_edit, name="edit"),
    path("<uuid:uuid>/historique/", views.partner_history, name="history"),
    path("<uuid:uuid>/equipe/", views.partner_members, name="members"),
    path("<uuid:uuid>/contacts/nouveau/", views.contact_create, name="contact_create"),
    path("<uuid:uuid>/contacts/<uuid:contact>/modifier/", views.contact_edit, name="contact_edit"),
    path("<uuid:uuid>/contacts/<uuid:contact>/supprimer/", views.contact_delete, name="contact_delete"),
]
