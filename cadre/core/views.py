from django.contrib.auth.decorators import login_not_required
from django.http import HttpResponse
from django.shortcuts import render


@login_not_required
def home(request):
    return render(request, "core/home.html")


@login_not_required
def accessibility(request):
    return render(request, "core/accessibility.html")


@login_not_required
def personal_data(request):
    return render(request, "core/personal_data.html")


@login_not_required
def legal_notice(request):
    return render(request, "core/legal_notice.html")


@login_not_required
def empty_view(request):
    """No template, no query: the floor of every timing."""
    return HttpResponse("")


@login_not_required
def empty_layout(request):
    """The layout with no content: the floor the page benchmarks compare against."""
    return render(request, "core/empty.html")


@login_not_required
def not_found(request, exception=None):
    return render(
        request,
        "core/error.html",
        {"code": 404, "message": "Cette page n'existe pas ou ne vous est pas accessible."},
        status=404,
    )


@login_not_required
def forbidden(request, exception=None):
    return render(
        request,
        "core/error.html",
        {"code": 403, "message": "Vous n'avez pas le droit de faire cette action."},
        status=403,
    )
