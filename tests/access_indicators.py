"""Rows of the role × URL matrix (tests/test_access.py): {url name: (method, url builder, statuses by role)}."""

from django.urls import reverse

from tests.test_access import LOGIN, row  # imported while test_access is loading: defined above

ROWS = {
    "indicators:dashboard": ("get", lambda o: reverse("indicators:dashboard"), row(LOGIN, *[200] * 7)),
    # Structure A's figures come from its answers: those who read its questionnaires.
    "indicators:structure": (
        "get",
        lambda o: reverse("indicators:structure", args=[o["a"].uuid]),
        row(LOGIN, 200, 404, 200, 404, 200, 200, 200),
    ),
}
