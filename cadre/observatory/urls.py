from django.urls import path

from . import views

app_name = "observatory"

urlpatterns = [
    path("questionnaires/", views.questionnaire_list, name="questionnaires"),
    path("questionnaires/<uuid:uuid>/", views.questionnaire_detail, name="questionnaire"),
]
