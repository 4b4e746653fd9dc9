from django.urls import path

from . import views

app_name = "core"

urlpatterns = [
    path("", views.home, name="home"),
    path("accessibilite/", views.accessibility, name="accessibility"),
    path("donnees-personnelles/", views.personal_data, name="personal_data"),
    path("mentions-legales/", views.legal_notice, name="legal_notice"),
    path("socle/vide/", views.empty_view, name="empty_view"),
    path("socle/page-vide/", views.empty_layout, name="empty_layout"),
]
