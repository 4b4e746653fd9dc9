from django.urls import path

from . import views

app_name = "agreements"

urlpatterns = [
    path("", views.agreement_list, name="list"),
    path("cadres/<uuid:uuid>/", views.framework_detail, name="framework"),
    path("cadres/<uuid:uuid>/etat/", views.framework_status, name="framework_status"),
    path("cadres/<uuid:uuid>/avenants/nouveau/", views.framework_amend, name="framework_amend"),
    path("feuilles-de-route/en-retard/", views.late_items, name="late_items"),
    path("feuilles-de-route/actions/<uuid:uuid>/", views.item_detail, name="item"),
    path("<uuid:uuid>/", views.agreement_detail, name="detail"),
    path("<uuid:uuid>/etat/", views.agreement_status, name="status"),
]
