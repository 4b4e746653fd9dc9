"""Rows of the role × URL matrix (tests/test_access.py) for personal-data rights (tests/test_privacy.py)."""

from django.urls import reverse

from tests.test_access import ADMIN_ONLY, SIGNED_IN

ROWS = {
    "accounts:my_data": ("get", lambda o: reverse("accounts:my_data"), SIGNED_IN),
    # The confirmation page; the erasure itself is a POST with the password (tests/test_privacy.py).
    "accounts:erase": ("get", lambda o: reverse("accounts:erase"), SIGNED_IN),
    "structures:contact_requests": (
        "get",
        lambda o: reverse("structures:contact_requests") + "?q=" + o["a_contact"].email,
        ADMIN_ONLY,
    ),
}
