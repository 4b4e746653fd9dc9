from django.contrib.auth.decorators import login_not_required
from django.shortcuts import render
from django.views.decorators.cache import cache_control

from cadre.territories.models import Commune

SUGGESTION_LIMIT = 15


@login_not_required
@cache_control(max_age=300, public=True)
def commune_suggestions(request):
    """Options for a commune field's datalist: public geography, no login needed."""
    text = next((v for k, v in request.GET.items() if v.strip()), "")
    communes = (
        Commune.objects.search(text).select_related("department").order_by("-population", "name")[:SUGGESTION_LIMIT]
        if len(text.strip()) >= 2
        else []
    )
    response = render(request, "territories/commune_suggestions.html", {"communes": communes})
    response["HX-Push-Url"] = "false"  # a fragment: the page address stays the page's
    return response
