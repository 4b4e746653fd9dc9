from django.db.models import Count
from django.shortcuts import get_object_or_404, render
from django.urls import reverse

from cadre.observatory.models import Questionnaire, RuleLevel


def questionnaire_list(request):
    questionnaires = Questionnaire.objects.visible_to(request.user).annotate(
        question_count=Count("questions", distinct=True), campaign_count=Count("campaigns", distinct=True)
    )
    return render(
        request,
        "observatory/questionnaire_list.html",
        {
            "questionnaires": questionnaires,
            "title": "Questionnaires de l'observatoire",
            "breadcrumb": [("Questionnaires", None)],
        },
    )


def questionnaire_detail(request, uuid):
    questionnaire = get_object_or_404(Questionnaire.objects.visible_to(request.user), uuid=uuid)
    sections = list(questionnaire.sections.prefetch_related("questions"))
    rules = list(questionnaire.rules.all())
    return render(
        request,
        "observatory/questionnaire_detail.html",
        {
            "questionnaire": questionnaire,
            "sections": sections,
            "question_count": sum(len(s.questions.all()) for s in sections),
            "rules": rules,
            "campaigns": questionnaire.campaigns.all(),
            "error_level": RuleLevel.ERROR,
            "title": str(questionnaire),
            "breadcrumb": [("Questionnaires", reverse("observatory:questionnaires")), (str(questionnaire), None)],
        },
    )
