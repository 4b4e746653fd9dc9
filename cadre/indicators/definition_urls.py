from django.urls import path

from cadre.indicators import definition_views as views

app_name = "indicator_definitions"

urlpatterns = [
    path("", views.definition_list, name="list"),
    path("nouveau/", views.definition_create, name="create"),
    path("<uuid:uuid>/", views.definition_detail, name="detail"),
    path("<uuid:uuid>/modifier/", views.definition_edit, name="edit"),
]
