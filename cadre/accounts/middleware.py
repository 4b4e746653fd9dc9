from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import urlencode
from django_htmx.http import HttpResponseClientRedirect

from cadre.accounts import two_factor


def two_factor_exempt(view):
    """Mark a view that a signed-in session owing its second factor may still open (the code page, logout…)."""
    view.two_factor_exempt = True
    return view


class TwoFactorMiddleware:
    """Send a signed-in session that owes its second factor to the code page (or to enrolment).

    Sessions opened before two-factor existed, or by any other sign-in path, are caught here too. The API
    answers for itself: its browser-session authentication refuses such a session, bearer tokens are unaffected.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        if getattr(view_func, "two_factor_exempt", False):
            return None
        if not two_factor.owes_second_factor(request):
            return None
        has_device = two_factor.has_two_factor(request.user)
        target = reverse("accounts:two_factor_verify" if has_device else "accounts:two_factor_setup")
        if request.method == "GET" and not getattr(request, "htmx", False):
            target += "?" + urlencode({"next": request.get_full_path()})
        if getattr(request, "htmx", False):
            return HttpResponseClientRedirect(target)
        return redirect(target)
