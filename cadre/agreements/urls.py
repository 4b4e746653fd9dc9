from django.urls import path

from . import views

app_name = "agreements"

urlpatterns = [
    path("", views.agreement_list, name="list"),
    path("cadres/nouvelle/", views.framework_create, name="framework_create"),
    path("cadres/<uuid:uuid>/", views.framework_detail, name="framework"),
    path("cadres/<uuid:uuid>/modifier/", views.framework_edit, name="framework_edit"),
    path("cadres/<uuid:uuid>/signataires/nouveau/", views.framework_signatory, name="framework_signatory"),
    path("cadres/<uuid:uuid>/etat/", views.framework_status, name="framework_status"),
    path("cadres/<uuid:uuid>/avenants/nouveau/", views.framework_amend, name="framework_amend"),
    path("cadres/<uuid:uuid>/documents/", views.framework_attach, name="framework_attach"),
    path("cadres/<uuid:uuid>/instances/nouvelle/", views.committee_create, name="committee_create"),
    path("cadres/<uuid:uuid>/evenements/nouveau/", views.event_create, name="event_create"),
    path("feuilles-de-route/en-retard/", views.late_items, name="late_items"),
    path("instances/", views.governance, name="governance"),
    path("instances/<uuid:uuid>/", views.committee_detail, name="committee"),
    path("instances/<uuid:uuid>/reunions/nouvelle/", views.meeting_create, name="meeting_create"),
    path("instances/<uuid:uuid>/membres/nouveau/", views.committee_member, name="committee_member"),
    path("reunions/<uuid:uuid>/", views.meeting_detail, name="meeting"),
    path("suites/<uuid:uuid>/faite/", views.follow_up_done, name="follow_up_done"),
    path("evenements/<uuid:uuid>/", views.event_detail, name="event"),
    path("evenements/<uuid:uuid>/inscription/", views.event_registration, name="event_registration"),
    path("feuilles-de-route/actions/<uuid:uuid>/", views.item_detail, name="item"),
    path("nouvelle/", views.agreement_create, name="create"),
    path("<uuid:uuid>/", views.agreement_detail, name="detail"),
    path("<uuid:uuid>/modifier/", views.agreement_edit, name="edit"),
    path("<uuid:uuid>/documents/", views.agreement_attach, name="attach"),
    path("documents/<uuid:uuid>/", views.attachment_download, name="attachment"),
    path("<uuid:uuid>/parties/nouvelle/", views.agreement_party, name="party"),
    path("<uuid:uuid>/feuille-de-route/", views.roadmap_start, name="roadmap_start"),
    path("<uuid:uuid>/feuille-de-route/actions/nouvelle/", views.item_create, name="item_create"),
    path("<uuid:uuid>/etat/", views.agreement_status, name="status"),
]
