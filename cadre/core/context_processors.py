from django.conf import settings


def operator(request):
    return {"OPERATOR": settings.CADRE_OPERATOR}
