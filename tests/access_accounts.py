"""Rows of the role × URL matrix (tests/test_access.py) for two-factor authentication and ProConnect.

The cast's sessions come from `force_login`, which stands for a complete sign-in (second factor given, see
tests/conftest.py); none of the cast has an authenticator, so what needs one is a 404. ProConnect is off
unless configured: its addresses answer 404 to everyone. tests/test_two_factor.py and tests/test_proconnect.py
walk these pages with authenticators and with ProConnect on.
"""

from django.urls import reverse

from tests.test_access import LOGIN, SIGNED_IN, row

NOTHING = row(*[404] * 8)
NO_AUTHENTICATOR = row(LOGIN, *[404] * 7)

ROWS = {
    # A session whose second factor is settled is sent on (to `next`, else home).
    "accounts:two_factor_verify": ("get", lambda o: reverse("accounts:two_factor_verify"), row(*[302] * 8)),
    "accounts:two_factor_setup": ("get", lambda o: reverse("accounts:two_factor_setup"), SIGNED_IN),
    "accounts:two_factor_recovery_codes": (
        "post",
        lambda o: reverse("accounts:two_factor_recovery_codes"),
        NO_AUTHENTICATOR,
    ),
    "accounts:two_factor_disable": ("get", lambda o: reverse("accounts:two_factor_disable"), NO_AUTHENTICATOR),
    "accounts:proconnect_login": ("get", lambda o: reverse("accounts:proconnect_login"), NOTHING),
    "accounts:proconnect_callback": ("get", lambda o: reverse("accounts:proconnect_callback"), NOTHING),
    "accounts:proconnect_logged_out": ("get", lambda o: reverse("accounts:proconnect_logged_out"), NOTHING),
}
