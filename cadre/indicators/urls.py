from django.urls import path

from . import views

app_name = "indicators"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("structures/<uuid:uuid>/", views.structure_figures, name="structure"),
]
