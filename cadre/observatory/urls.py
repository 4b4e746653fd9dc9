from django.urls import path

from . import entry_views, views

app_name = "observatory"

urlpatterns = [
    path("", views.campaign_list, name="campaigns"),
    path("questionnaires/", views.questionnaire_list, name="questionnaires"),
    path("questionnaires/<uuid:uuid>/", views.questionnaire_detail, name="questionnaire"),
    path("campagnes/nouvelle/", views.campaign_create, name="campaign_create"),
    path("campagnes/<uuid:uuid>/", views.campaign_detail, name="campaign"),
    path("campagnes/<uuid:uuid>/modifier/", views.campaign_edit, name="campaign_edit"),
    path("campagnes/<uuid:uuid>/correspondants/", views.campaign_correspondents, name="campaign_correspondents"),
    path("campagnes/<uuid:uuid>/ouvrir/", views.campaign_open, name="campaign_open"),
    path("campagnes/<uuid:uuid>/relancer/", views.campaign_remind, name="campaign_remind"),
    path("saisies/<uuid:uuid>/", entry_views.submission_detail, name="submission"),
    path("saisies/<uuid:uuid>/rubriques/<slug:code>/", entry_views.submission_section, name="submission_section"),
    path("saisies/<uuid:uuid>/rubriques/<slug:code>/reprendre/", entry_views.section_prefill, name="section_prefill"),
    path("saisies/<uuid:uuid>/reponses/<slug:code>/", entry_views.answer_save, name="answer_save"),
    path("saisies/<uuid:uuid>/envoyer/", entry_views.submission_submit, name="submission_submit"),
    path("saisies/<uuid:uuid>/renvoyer/", entry_views.submission_return, name="submission_return"),
    path("saisies/<uuid:uuid>/valider/", entry_views.submission_validate, name="submission_validate"),
    path("saisies/<uuid:uuid>/rouvrir/", entry_views.submission_reopen, name="submission_reopen"),
    path("saisies/<uuid:uuid>/imprimer/", entry_views.submission_print, name="submission_print"),
    path("points/<uuid:uuid>/questionner/", entry_views.anomaly_query, name="anomaly_query"),
    path("points/<uuid:uuid>/justifier/", entry_views.anomaly_justify, name="anomaly_justify"),
]
