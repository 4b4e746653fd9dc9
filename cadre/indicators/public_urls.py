from django.urls import path

from cadre.indicators import public_views

app_name = "open_data"

urlpatterns = [
    path("", public_views.index, name="index"),
    path("valeurs.csv", public_views.values_csv, name="values_csv"),
    path("indicateurs/<uuid:uuid>/", public_views.indicator_detail, name="indicator"),
]
