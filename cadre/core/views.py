from django.contrib.auth.decorators import login_not_required
from django.http import HttpResponse
from django.shortcuts import render
from django.utils import timezone

from cadre.core.history import history_entries
from cadre.core.processings import processings
from cadre.core.work import home_for

HISTORY_PREVIEW = 30  # entries shown on a record's page
HISTORY_FULL = 500  # entries on the history page itself


@login_not_required
def home(request):
    """For a signed-in user, what waits for them in their scope and their next dates (see cadre.core.work)."""
    context = {}
    if request.user.is_authenticated:
        today = timezone.localdate()
        work, upcoming = home_for(request.user, today)
        context = {"work": work, "upcoming": upcoming}
    return render(request, "core/home.html", context)


@login_not_required
def accessibility(request):
    return render(request, "core/accessibility.html")


@login_not_required
def personal_data(request):
    return render(request, "core/personal_data.html", {"processings": processings()})


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


def history_page(request, *sources, name, owner_url, breadcrumb):
    """A record's history: its latest entries as a fragment for its page (htmx), or a page of its own.

    `sources` as for `history_entries`; the caller has checked that the user may see the record.
    """
    if request.htmx:
        entries = history_entries(*sources, limit=HISTORY_PREVIEW + 1)
        context = {
            "history": entries[:HISTORY_PREVIEW],
            "more_url": request.path if len(entries) > HISTORY_PREVIEW else None,
        }
        return render(request, "includes/history_table.html", context)
    context = {
        "history": history_entries(*sources, limit=HISTORY_FULL),
        "title": f"Historique — {name}",
        "owner_url": owner_url,
        "breadcrumb": [*breadcrumb, (name, owner_url), ("Historique", None)],
    }
    return render(request, "core/history.html", context)


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
