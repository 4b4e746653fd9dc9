"""The public directory: open structures, public fields only, no login."""

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.shortcuts import get_object_or_404, render
from django.urls import reverse

from cadre.core.pagination import paginate
from cadre.structures.forms import PublicStructureFilterForm
from cadre.structures.models import Structure


@login_not_required
def directory_list(request):
    form = PublicStructureFilterForm(request.GET)
    queryset = Structure.objects.public()
    queryset = form.apply(queryset)
    page = paginate(queryset.select_related("commune__department"), request.GET.get("page"), settings.CADRE_PAGE_SIZE)
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "form": form,
        "page": page,
        "query": query.urlencode(),
        "title": "Annuaire public",
        "breadcrumb": [("Annuaire public", None)],
    }
    template = "structures/directory/_results.html" if request.htmx else "structures/directory/list.html"
    return render(request, template, context)


@login_not_required
def directory_detail(request, uuid):
    structure = get_object_or_404(Structure.objects.public().select_related("commune__department"), uuid=uuid)
    context = {
        "structure": structure,
        "contacts": structure.contacts.filter(is_public=True),
        "title": structure.name,
        "breadcrumb": [("Annuaire public", reverse("directory:list")), (structure.name, None)],
    }
    return render(request, "structures/directory/detail.html", context)
